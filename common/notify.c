/* notify: the sd_notify protocol, so ferry runs as a Type=notify service
 * with a watchdog. With libsystemd (FERRY_HAVE_SYSTEMD) its sd_notify is
 * used; without it — small ARM images often lack it — the protocol is spoken
 * directly: one datagram of "KEY=VALUE\n" lines to the AF_UNIX socket named
 * by $NOTIFY_SOCKET ('@' = abstract namespace). */
#include "notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef FERRY_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#else
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#endif

#define NOTIFY_STATUS_MAX 1024 /* STATUS text beyond this is cut */

#ifdef FERRY_HAVE_SYSTEMD

static int notify_send(const char *msg) { return sd_notify(0, msg); }

uint64_t notify_watchdog_usec(void) {
  uint64_t usec = 0;
  return sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
}

#else

static int notify_send(const char *msg) {
  const char *path = getenv("NOTIFY_SOCKET");
  if (!path || !*path) return 0;
  if (path[0] != '/' && path[0] != '@') return -EAFNOSUPPORT; /* e.g. vsock: */

  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  size_t len = strlen(path);
  if (len >= sizeof sa.sun_path) return -EINVAL;
  memcpy(sa.sun_path, path, len);
  if (sa.sun_path[0] == '@') sa.sun_path[0] = '\0'; /* abstract: no trailing NUL in the length */
  socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '/'));

  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  ssize_t n = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
  int r = n < 0 ? -errno : 1;
  close(fd);
  return r;
}

uint64_t notify_watchdog_usec(void) {
  const char *s = getenv("WATCHDOG_USEC");
  if (!s || !*s) return 0;
  char *end = NULL;
  errno = 0;
  unsigned long long usec = strtoull(s, &end, 10);
  if (errno || *end || usec == 0 || s[0] == '-') return 0;
  const char *pid = getenv("WATCHDOG_PID"); /* meant for another process? */
  if (pid && *pid) {
    errno = 0;
    long long p = strtoll(pid, &end, 10);
    if (errno || *end || p != (long long)getpid()) return 0;
  }
  return (uint64_t)usec;
}

#endif

int notify_ready(void) { return notify_send("READY=1"); }
int notify_watchdog(void) { return notify_send("WATCHDOG=1"); }
int notify_stopping(void) { return notify_send("STOPPING=1"); }

int notify_reloading(void) {
  char msg[96];
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0) return notify_send("RELOADING=1");
  snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%llu",
           (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL);
  return notify_send(msg);
}

int notify_status(const char *fmt, ...) {
  char msg[NOTIFY_STATUS_MAX + 8];
  const char *sock = getenv("NOTIFY_SOCKET");
  if (!sock || !*sock) return 0; /* skip the formatting when nobody listens */
  memcpy(msg, "STATUS=", 7);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg + 7, sizeof msg - 7, fmt, ap);
  va_end(ap);
  /* a line break would start a new KEY=VALUE assignment */
  for (char *p = msg + 7; *p; p++)
    if (*p == '\n' || *p == '\r') *p = ' ';
  return notify_send(msg);
}
