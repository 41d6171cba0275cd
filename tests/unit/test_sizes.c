/* test_sizes: what 32-bit targets (armhf) get wrong when sizes are mixed —
 * configured int64_t byte counts saturating into size_t instead of wrapping,
 * and the large-file build: stat() of a file past 4 GiB and readdir() over a
 * directory must work there as on 64-bit (run under qemu-arm by
 * cross/build.sh; see docs/arm.md). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "sizes.h"

static void test_size_from_i64(void) {
  CHECK(size_from_i64(-1) == 0);
  CHECK(size_from_i64(INT64_MIN) == 0);
  CHECK(size_from_i64(0) == 0);
  CHECK(size_from_i64(1) == 1);
  CHECK(size_from_i64(64 << 20) == (size_t)64 << 20);
  CHECK(size_from_i64(INT64_C(0xffffffff)) == (size_t)0xffffffffu);
  int64_t four_gib = INT64_C(4) << 30, big = INT64_C(2048) << 30;
  if (sizeof(size_t) < sizeof(int64_t)) {
    /* a plain cast would make these 0 and 0: a bound that refuses everything */
    CHECK(size_from_i64(four_gib) == SIZE_MAX);
    CHECK(size_from_i64(big + (1 << 20)) == SIZE_MAX);
    CHECK(size_from_i64(INT64_MAX) == SIZE_MAX);
  } else {
    CHECK(size_from_i64(four_gib) == (size_t)four_gib);
    CHECK(size_from_i64(big + (1 << 20)) == (size_t)(big + (1 << 20)));
    CHECK(size_from_i64(INT64_MAX) == (size_t)INT64_MAX);
  }
}

static void test_large_files(void) {
  CHECK_EQ_INT(sizeof(off_t), 8);
  CHECK_EQ_INT(sizeof(ino_t), 8);
  char dir[] = "/tmp/ferry-test-sizes-XXXXXX";
  if (!mkdtemp(dir)) {
    CHECK(!"mkdtemp");
    return;
  }
  char path[64];
  snprintf(path, sizeof(path), "%s/big", dir);
  int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
  CHECK(fd >= 0);
  /* sparse: no disk space used. volatile keeps a 32-bit off_t from being a
   * compile-time truncation. */
  volatile int64_t want = (INT64_C(5) << 30) + 12345;
  if (fd >= 0) {
    CHECK_EQ_INT(ftruncate(fd, (off_t)want), 0);
    struct stat sb;
    CHECK_EQ_INT(fstat(fd, &sb), 0);
    CHECK_EQ_INT(sb.st_size, want);
    close(fd);
  }
  struct stat sb;
  errno = 0;
  CHECK_EQ_INT(stat(path, &sb), 0); /* EOVERFLOW without large-file support */
  CHECK_EQ_INT(errno, 0);
  CHECK_EQ_INT(sb.st_size, want);

  for (int i = 0; i < 20; i++) {
    char p[80];
    snprintf(p, sizeof(p), "%s/f%02d", dir, i);
    int f = open(p, O_CREAT | O_WRONLY, 0600);
    CHECK(f >= 0);
    if (f >= 0) close(f);
  }
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  int n = 0;
  if (d) {
    errno = 0;
    struct dirent *de;
    while ((de = readdir(d)))
      if (de->d_name[0] != '.') n++;
    CHECK_EQ_INT(errno, 0); /* EOVERFLOW for 64-bit d_off/d_ino without it */
    closedir(d);
  }
  CHECK_EQ_INT(n, 21);

  for (int i = 0; i < 20; i++) {
    char p[80];
    snprintf(p, sizeof(p), "%s/f%02d", dir, i);
    unlink(p);
  }
  unlink(path);
  rmdir(dir);
}

int main(void) {
  test_size_from_i64();
  test_large_files();
  return check_finish("test_sizes");
}
