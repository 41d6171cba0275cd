/* test_codec: body compression round trips, and the collector's defences:
 * a compression bomb is refused with -EFBIG without being materialised,
 * broken input is -EINVAL, and the max_out boundary is exact. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "codec.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static const codec_t codecs[] = {CODEC_GZIP, CODEC_ZSTD};

/* Pseudo-random but compressible-ish bytes. */
static void fill(unsigned char *p, size_t n, uint64_t seed) {
  uint64_t x = seed | 1;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    p[i] = (i % 7 == 0) ? (unsigned char)x : (unsigned char)('a' + (x % 4));
  }
}

static void roundtrip(codec_t c, const unsigned char *in, size_t len) {
  void *z = NULL, *out = NULL;
  size_t zlen = 0, olen = 12345;
  CHECK_EQ_INT(codec_compress(c, in, len, &z, &zlen), 0);
  CHECK_EQ_INT(codec_decompress(c, z, zlen, len + 10, &out, &olen), 0);
  CHECK_EQ_INT(olen, len);
  if (out && olen == len) {
    CHECK(memcmp(out, in, len) == 0);
    CHECK(((char *)out)[len] == '\0');
  }
  free(z);
  free(out);
}

static void test_names(void) {
  codec_t c = CODEC_ZSTD;
  CHECK_EQ_INT(codec_from_name(NULL, &c), 0);
  CHECK_EQ_INT(c, CODEC_IDENTITY);
  CHECK_EQ_INT(codec_from_name("GZip", &c), 0);
  CHECK_EQ_INT(c, CODEC_GZIP);
  CHECK_EQ_INT(codec_from_name("zstd", &c), 0);
  CHECK_EQ_INT(c, CODEC_ZSTD);
  CHECK_EQ_INT(codec_from_name("Identity", &c), 0);
  CHECK_EQ_INT(c, CODEC_IDENTITY);
  CHECK_EQ_INT(codec_from_name("br", &c), -ENOTSUP);
  CHECK_EQ_INT(codec_from_option("none", &c), 0);
  CHECK_EQ_INT(c, CODEC_IDENTITY);
  CHECK_EQ_INT(codec_from_option("gzip", &c), 0);
  CHECK_EQ_INT(c, CODEC_GZIP);
  CHECK_EQ_INT(codec_from_option("identity", &c), -EINVAL);
  CHECK_EQ_STR(codec_name(CODEC_ZSTD), "zstd");
  CHECK_EQ_STR(codec_name(CODEC_IDENTITY), "identity");
}

static void test_roundtrips(void) {
  size_t big = 5u << 20;
  unsigned char *buf = malloc(big);
  CHECK(buf != NULL);
  if (!buf) return;
  fill(buf, big, 7);
  for (size_t i = 0; i < 2; i++) {
    roundtrip(codecs[i], buf, 0);
    roundtrip(codecs[i], buf, 1);
    roundtrip(codecs[i], (const unsigned char *)"{\"event_type\":\"idle\"}", 22);
    roundtrip(codecs[i], buf, 100000);
    roundtrip(codecs[i], buf, big);
  }
  roundtrip(CODEC_IDENTITY, buf, 1000);
  free(buf);
}

/* Output of exactly max_out bytes fits; max_out - 1 does not. */
static void test_boundary(void) {
  size_t n = 300000;
  unsigned char *buf = malloc(n);
  if (!buf) return;
  fill(buf, n, 3);
  codec_t all[] = {CODEC_IDENTITY, CODEC_GZIP, CODEC_ZSTD};
  for (size_t i = 0; i < 3; i++) {
    void *z = NULL, *out = NULL;
    size_t zlen = 0, olen = 0;
    CHECK_EQ_INT(codec_compress(all[i], buf, n, &z, &zlen), 0);
    CHECK_EQ_INT(codec_decompress(all[i], z, zlen, n, &out, &olen), 0);
    CHECK_EQ_INT(olen, n);
    free(out);
    out = NULL;
    CHECK_EQ_INT(codec_decompress(all[i], z, zlen, n - 1, &out, &olen), -EFBIG);
    CHECK(out == NULL);
    free(z);
  }
  /* empty output at max_out 0 */
  for (size_t i = 0; i < 2; i++) {
    void *z = NULL, *out = NULL;
    size_t zlen = 0, olen = 7;
    CHECK_EQ_INT(codec_compress(codecs[i], "", 0, &z, &zlen), 0);
    CHECK_EQ_INT(codec_decompress(codecs[i], z, zlen, 0, &out, &olen), 0);
    CHECK_EQ_INT(olen, 0);
    free(out);
    free(z);
    out = NULL;
    CHECK_EQ_INT(codec_compress(codecs[i], "x", 1, &z, &zlen), 0);
    CHECK_EQ_INT(codec_decompress(codecs[i], z, zlen, 0, &out, &olen), -EFBIG);
    free(z);
  }
  free(buf);
}

static void test_corrupt(void) {
  size_t n = 200000;
  unsigned char *buf = malloc(n);
  if (!buf) return;
  fill(buf, n, 11);
  for (size_t i = 0; i < 2; i++) {
    codec_t c = codecs[i];
    void *z = NULL, *out = NULL;
    size_t zlen = 0, olen = 0;
    CHECK_EQ_INT(codec_compress(c, buf, n, &z, &zlen), 0);
    unsigned char *zb = z;
    /* truncated at several points, including inside the trailer */
    size_t cuts[] = {0, 1, 5, zlen / 2, zlen - 4, zlen - 1};
    for (size_t k = 0; k < sizeof cuts / sizeof *cuts; k++) {
      out = NULL;
      int rc = codec_decompress(c, zb, cuts[k], n * 2, &out, &olen);
      CHECK_EQ_INT(rc, -EINVAL);
      CHECK(out == NULL);
      if (rc == 0) free(out);
    }
    /* trailing garbage */
    unsigned char *tail = malloc(zlen + 3);
    memcpy(tail, zb, zlen);
    memcpy(tail + zlen, "XYZ", 3);
    CHECK_EQ_INT(codec_decompress(c, tail, zlen + 3, n * 2, &out, &olen), -EINVAL);
    /* a corrupted byte in the middle (and a checksum-covered one near the end) */
    memcpy(tail, zb, zlen);
    tail[zlen / 2] ^= 0x55;
    int rc = codec_decompress(c, tail, zlen, n * 2, &out, &olen);
    CHECK_EQ_INT(rc, -EINVAL);
    if (rc == 0) free(out);
    /* garbage that is not this codec at all */
    CHECK_EQ_INT(codec_decompress(c, "hello, world", 12, n, &out, &olen), -EINVAL);
    /* two complete members/frames back to back are one body */
    unsigned char *two = malloc(zlen * 2);
    memcpy(two, zb, zlen);
    memcpy(two + zlen, zb, zlen);
    out = NULL;
    CHECK_EQ_INT(codec_decompress(c, two, zlen * 2, n * 2, &out, &olen), 0);
    CHECK_EQ_INT(olen, n * 2);
    if (out && olen == n * 2) CHECK(memcmp((char *)out + n, buf, n) == 0);
    free(out);
    out = NULL;
    CHECK_EQ_INT(codec_decompress(c, two, zlen * 2, n * 2 - 1, &out, &olen), -EFBIG);
    free(two);
    free(tail);
    free(z);
  }
  free(buf);
}

/* A zstd frame without a content size (streaming compressor). */
static void test_zstd_no_content_size(void) {
  /* zstd -c of "hello\n" piped through stdin: magic, FHD 0x00 (no size),
   * window descriptor, one raw last block "hello\n" */
  const unsigned char frame[] = {0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x48, 0x31, 0x00,
                                 0x00, 'h',  'e',  'l',  'l',  'o',  '\n'};
  void *out = NULL;
  size_t olen = 0;
  CHECK_EQ_INT(codec_decompress(CODEC_ZSTD, frame, sizeof frame, 100, &out, &olen), 0);
  CHECK_EQ_INT(olen, 6);
  if (out && olen == 6) CHECK(memcmp(out, "hello\n", 6) == 0);
  free(out);
  CHECK_EQ_INT(codec_decompress(CODEC_ZSTD, frame, sizeof frame, 5, &out, &olen), -EFBIG);
}

/* 100 MB of zeros compresses to ~100 KB (gzip) or a few KB (zstd). With an
 * 8 MiB limit it must fail with -EFBIG. The decode runs in a child whose
 * data limit (RLIMIT_DATA) is far below 100 MB, so materialising the bomb
 * would show up as -ENOMEM or a crash instead (skipped under ASan, whose
 * shadow memory does not fit such a limit). */
static void test_bomb(void) {
  size_t n = 100u * 1000 * 1000;
  unsigned char *zeros = calloc(1, n);
  CHECK(zeros != NULL);
  if (!zeros) return;
  for (size_t i = 0; i < 2; i++) {
    void *z = NULL;
    size_t zlen = 0;
    CHECK_EQ_INT(codec_compress(codecs[i], zeros, n, &z, &zlen), 0);
    CHECK(zlen < 200 * 1024);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
#ifndef UNDER_ASAN
      free(zeros); /* not touched again in the child */
      struct rlimit rl = {48u << 20, 48u << 20};
      if (setrlimit(RLIMIT_DATA, &rl) < 0) _exit(90);
#endif
      void *out = NULL;
      size_t olen = 0;
      int rc = codec_decompress(codecs[i], z, zlen, 8u << 20, &out, &olen);
      _exit(rc == -EFBIG && out == NULL ? 0 : rc == -ENOMEM ? 91 : 92);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ_INT(WEXITSTATUS(status), 0);
    /* and in-process, for the sanitizers' eyes */
    void *out = NULL;
    size_t olen = 0;
    CHECK_EQ_INT(codec_decompress(codecs[i], z, zlen, 8u << 20, &out, &olen), -EFBIG);
    CHECK(out == NULL);
    free(z);
  }
  /* identity: over the limit is refused without copying */
  void *out = NULL;
  size_t olen = 0;
  CHECK_EQ_INT(codec_decompress(CODEC_IDENTITY, zeros, 9u << 20, 8u << 20, &out, &olen), -EFBIG);
  free(zeros);
}

int main(void) {
  test_names();
  test_roundtrips();
  test_boundary();
  test_corrupt();
  test_zstd_no_content_size();
  test_bomb();
  return check_finish("test_codec");
}
