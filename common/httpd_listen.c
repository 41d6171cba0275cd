/* httpd_listen: opening the listening socket httpd_start hands to
 * libmicrohttpd — a Unix socket (mode 0660, a stale socket file replaced,
 * anything else refused) or a numeric TCP address (no DNS: a host name is
 * refused). Split from httpd.c, which calls it; it calls nothing there. */
#include "httpd_listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define HTTPD_LISTEN_BACKLOG 511

void httpd__seterr(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  if (!err || !errlen) return;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* ---- listening --------------------------------------------------------------- */

int httpd__listen_unix(const char *spec, const char *path, char **ret_path, char *err, size_t errlen) {
  struct sockaddr_un sun;
  struct stat st;
  int fd, e;

  memset(&sun, 0, sizeof sun);
  sun.sun_family = AF_UNIX;
  if (!*path || strlen(path) >= sizeof sun.sun_path) {
    httpd__seterr(err, errlen, "listen %s: the socket path must be 1 to %zu bytes", spec,
                  sizeof sun.sun_path - 1);
    return -EINVAL;
  }
  memcpy(sun.sun_path, path, strlen(path) + 1);
  if (lstat(path, &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      httpd__seterr(err, errlen, "listen %s: %s exists and is not a socket", spec, path);
      return -EEXIST;
    }
    if (unlink(path) != 0) {
      e = errno;
      httpd__seterr(err, errlen, "listen %s: cannot remove stale socket: %s", spec, strerror(e));
      return -e;
    }
  }
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    e = errno;
    httpd__seterr(err, errlen, "listen %s: socket: %s", spec, strerror(e));
    return -e;
  }
  if (bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
    e = errno;
    httpd__seterr(err, errlen, "listen %s: %s", spec, strerror(e));
    close(fd);
    return -e;
  }
  if (chmod(path, 0660) != 0 || listen(fd, HTTPD_LISTEN_BACKLOG) != 0) {
    e = errno;
    httpd__seterr(err, errlen, "listen %s: %s", spec, strerror(e));
    close(fd);
    unlink(path);
    return -e;
  }
  *ret_path = strdup(path);
  if (!*ret_path) {
    close(fd);
    unlink(path);
    httpd__seterr(err, errlen, "listen %s: out of memory", spec);
    return -ENOMEM;
  }
  return fd;
}

int httpd__listen_inet(const char *spec, unsigned *ret_port, char *err, size_t errlen) {
  struct sockaddr_storage ss;
  socklen_t sslen;
  char host[64];
  const char *colon, *hs = spec;
  size_t hl;
  int fd, e, one = 1;

  memset(&ss, 0, sizeof ss);
  if (*spec == '[') {
    const char *close_br = strchr(spec, ']');
    if (!close_br || close_br[1] != ':') {
      httpd__seterr(err, errlen, "listen %s: expected [IPv6]:PORT", spec);
      return -EINVAL;
    }
    hs = spec + 1;
    hl = (size_t)(close_br - hs);
    colon = close_br + 1;
  } else {
    colon = strrchr(spec, ':');
    if (!colon) {
      httpd__seterr(err, errlen, "listen %s: expected HOST:PORT or unix:/path", spec);
      return -EINVAL;
    }
    hl = (size_t)(colon - spec);
  }
  if (hl == 0 || hl >= sizeof host) {
    httpd__seterr(err, errlen, "listen %s: missing or overlong host (use 0.0.0.0 for all)", spec);
    return -EINVAL;
  }
  memcpy(host, hs, hl);
  host[hl] = '\0';

  const char *ps = colon + 1;
  unsigned long port = 0;
  if (!*ps || strlen(ps) > 5 || strspn(ps, "0123456789") != strlen(ps) ||
      (port = strtoul(ps, NULL, 10)) > 65535) {
    httpd__seterr(err, errlen, "listen %s: the port must be a number from 0 to 65535", spec);
    return -EINVAL;
  }

  if (*spec == '[') {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1) {
      httpd__seterr(err, errlen, "listen %s: \"%s\" is not an IPv6 address", spec, host);
      return -EINVAL;
    }
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    sslen = sizeof *s6;
  } else {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    if (inet_pton(AF_INET, host, &s4->sin_addr) != 1) {
      httpd__seterr(err, errlen,
                    "listen %s: \"%s\" is not a numeric IPv4 address (host names are not "
                    "resolved; use e.g. 127.0.0.1, 0.0.0.0 or [::1])",
                    spec, host);
      return -EINVAL;
    }
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    sslen = sizeof *s4;
  }

  fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    e = errno;
    httpd__seterr(err, errlen, "listen %s: socket: %s", spec, strerror(e));
    return -e;
  }
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      bind(fd, (struct sockaddr *)&ss, sslen) != 0 || listen(fd, HTTPD_LISTEN_BACKLOG) != 0) {
    e = errno;
    httpd__seterr(err, errlen, "listen %s: %s", spec, strerror(e));
    close(fd);
    return -e;
  }
  sslen = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0) {
    e = errno;
    httpd__seterr(err, errlen, "listen %s: getsockname: %s", spec, strerror(e));
    close(fd);
    return -e;
  }
  *ret_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
  return fd;
}
