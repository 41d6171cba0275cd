/* secret_file: one reader for the secrets kept in files (secret_file.h). */
#include "secret_file.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int sf__fail(char *buf, size_t cap, int r) {
  explicit_bzero(buf, cap);
  return r;
}

int secret_file_read(const char *path, size_t max, char **ret, bool *ret_others_readable, char *err,
                     size_t errlen) {
  char buf[SECRET_FILE_MAX + 2];
  struct stat st;
  size_t n = 0;
  *ret = NULL;
  if (max > SECRET_FILE_MAX) max = SECRET_FILE_MAX;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    int e = errno;
    snprintf(err, errlen, "cannot read %s: %s", path, strerror(e));
    return -e;
  }
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    snprintf(err, errlen, "%s is not a regular file", path);
    return -EINVAL;
  }
  for (;;) {
    ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int e = errno;
      close(fd);
      snprintf(err, errlen, "cannot read %s: %s", path, strerror(e));
      return sf__fail(buf, sizeof(buf), -e);
    }
    if (r == 0) break;
    n += (size_t)r;
    if (n >= sizeof(buf) - 1) break;
  }
  close(fd);
  buf[n] = '\0';
  char *s = buf;
  while (*s && isspace((unsigned char)*s)) s++;
  size_t len = strlen(s);
  while (len && isspace((unsigned char)s[len - 1])) s[--len] = '\0';
  if (len == 0) {
    snprintf(err, errlen, "%s holds no token", path);
    return sf__fail(buf, sizeof(buf), -EINVAL);
  }
  if (len > max) {
    snprintf(err, errlen, "%s: token longer than %zu bytes", path, max);
    return sf__fail(buf, sizeof(buf), -EINVAL);
  }
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x21 || c > 0x7e) {
      snprintf(err, errlen, "%s: token has whitespace or control characters inside", path);
      return sf__fail(buf, sizeof(buf), -EINVAL);
    }
  }
  char *t = strdup(s);
  explicit_bzero(buf, sizeof(buf));
  if (!t) {
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  *ret = t;
  if (ret_others_readable) *ret_others_readable = (st.st_mode & S_IROTH) != 0;
  return 0;
}
