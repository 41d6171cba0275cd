/* log: the only module that writes diagnostics. Every message becomes one
 * line on stderr, "<N>" syslog priority first so journald files it at the
 * right level. A line is assembled in a local buffer and written with one
 * call, so lines from different threads never interleave. journald adds its
 * own timestamps; a person at a terminal gets one. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define FLOG_LINE_MAX 4096 /* longer messages are cut, marked with "..." */

static atomic_int flog_level = FLOG_INFO;
static atomic_int flog_tty = -1; /* -1: not yet asked */

void flog_set_level(int level) {
  if (level < FLOG_ERR) level = FLOG_ERR;
  if (level > FLOG_DEBUG) level = FLOG_DEBUG;
  atomic_store(&flog_level, level);
}

int flog_get_level(void) { return atomic_load(&flog_level); }

int flog_parse_level(const char *name) {
  static const struct {
    const char *name;
    int level;
  } names[] = {
      {"error", FLOG_ERR},     {"err", FLOG_ERR},   {"warning", FLOG_WARNING}, {"warn", FLOG_WARNING},
      {"notice", FLOG_NOTICE}, {"info", FLOG_INFO}, {"debug", FLOG_DEBUG},
  };
  if (!name) return -1;
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (strcasecmp(name, names[i].name) == 0) return names[i].level;
  if (name[0] >= '3' && name[0] <= '7' && name[1] == '\0') return name[0] - '0';
  return -1;
}

void flog(int level, const char *fmt, ...) {
  if (level > atomic_load(&flog_level)) return;
  int saved_errno = errno; /* callers log with %m-like habits; keep errno */
  char line[FLOG_LINE_MAX];
  size_t o = 0;

  if (level < 0) level = FLOG_ERR;
  if (level > FLOG_DEBUG) level = FLOG_DEBUG;
  o += (size_t)snprintf(line, sizeof line, "<%d>", level);

  int tty = atomic_load(&flog_tty);
  if (tty < 0) {
    tty = isatty(STDERR_FILENO) ? 1 : 0;
    atomic_store(&flog_tty, tty);
  }
  if (tty) {
    struct timespec ts;
    struct tm tm;
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0 && gmtime_r(&ts.tv_sec, &tm)) {
      o += strftime(line + o, sizeof line - o, "%Y-%m-%dT%H:%M:%S", &tm);
      o += (size_t)snprintf(line + o, sizeof line - o, ".%03ldZ ", ts.tv_nsec / 1000000L);
    }
  }

  size_t body = o;
  va_list ap;
  va_start(ap, fmt);
  errno = saved_errno;
  int n = vsnprintf(line + o, sizeof line - o, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof line - o) { /* cut: leave room for "...\n" */
    o = sizeof line - 5;
    memcpy(line + o, "...", 3);
    o += 3;
  } else {
    o += (size_t)n;
  }
  /* one message, one line: embedded line breaks would split it in journald */
  for (size_t i = body; i < o; i++)
    if (line[i] == '\n' || line[i] == '\r') line[i] = ' ';
  line[o++] = '\n';
  line[o] = '\0';
  fputs(line, stderr);
  errno = saved_errno;
}
