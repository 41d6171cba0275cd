/* log: the only module that writes diagnostics. Every message becomes one
 * line on stderr, written with one call so lines from different threads never
 * interleave. Text lines under journald (JOURNAL_STREAM set) start with the
 * "<N>" syslog priority so journald files them at the right level and adds
 * its own timestamps; elsewhere they start with a UTC timestamp and the level
 * name. JSON lines (--log-format json) are objects built with cJSON, so any
 * message text is escaped correctly. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#define FLOG_LINE_MAX 4096 /* longer messages are cut, marked with "..." */

static atomic_int flog_level = FLOG_INFO;
static atomic_int flog_format = FLOG_FORMAT_TEXT;
static atomic_int flog_journal = -1; /* -1: not yet asked */
static const char *_Atomic flog_component = "ferry";

static const char *const level_names[] = {"emerg",   "alert",  "crit", "error",
                                          "warning", "notice", "info", "debug"};

void flog_set_level(int level) {
  if (level < FLOG_ERR) level = FLOG_ERR;
  if (level > FLOG_DEBUG) level = FLOG_DEBUG;
  atomic_store(&flog_level, level);
}

int flog_get_level(void) { return atomic_load(&flog_level); }

void flog_set_format(int format) { atomic_store(&flog_format, format == FLOG_FORMAT_JSON ? 1 : 0); }
int flog_get_format(void) { return atomic_load(&flog_format); }
void flog_set_component(const char *component) {
  if (component) atomic_store(&flog_component, component);
}
void flog_reset_env(void) { atomic_store(&flog_journal, -1); }

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

static size_t timestamp(char *buf, size_t len) {
  struct timespec ts;
  struct tm tm;
  if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || !gmtime_r(&ts.tv_sec, &tm)) return 0;
  size_t o = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
  o += (size_t)snprintf(buf + o, len - o, ".%03ldZ", ts.tv_nsec / 1000000L);
  return o;
}

static void json_line(int level, const flog_ctx *ctx, const char *msg) {
  char ts[40];
  cJSON *o = cJSON_CreateObject();
  if (!o) return;
  timestamp(ts, sizeof ts);
  cJSON_AddStringToObject(o, "ts", ts);
  cJSON_AddStringToObject(o, "level", level_names[level]);
  cJSON_AddStringToObject(o, "msg", msg);
  cJSON_AddStringToObject(o, "component",
                          ctx && ctx->component ? ctx->component : atomic_load(&flog_component));
  if (ctx) {
    const struct {
      const char *k, *v;
    } strs[] = {
        {"agent_id", ctx->agent_id},     {"epoch", ctx->epoch},   {"idempotency_key", ctx->idempotency_key},
        {"request_id", ctx->request_id}, {"client", ctx->client}, {"error", ctx->error}};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
      if (strs[i].v) cJSON_AddStringToObject(o, strs[i].k, strs[i].v);
    if (ctx->first_seq) cJSON_AddNumberToObject(o, "first_seq", (double)ctx->first_seq);
    if (ctx->last_seq) cJSON_AddNumberToObject(o, "last_seq", (double)ctx->last_seq);
    if (ctx->has_events) cJSON_AddNumberToObject(o, "events", (double)ctx->events);
    if (ctx->status) cJSON_AddNumberToObject(o, "status", ctx->status);
    if (ctx->has_duration) cJSON_AddNumberToObject(o, "duration_ms", (double)(int64_t)ctx->duration_ms);
  }
  char *text = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (!text) return;
  size_t n = strlen(text);
  char *line = malloc(n + 2);
  if (line) {
    memcpy(line, text, n);
    line[n] = '\n';
    line[n + 1] = '\0';
    fputs(line, stderr);
    free(line);
  }
  cJSON_free(text);
}

__attribute__((format(printf, 3, 0))) static void vflog(int level, const flog_ctx *ctx, const char *fmt,
                                                        va_list ap) {
  int saved_errno = errno; /* callers log with %m-like habits; keep errno */
  char line[FLOG_LINE_MAX];
  size_t o = 0;

  if (level < 0) level = FLOG_ERR;
  if (level > FLOG_DEBUG) level = FLOG_DEBUG;
  bool json = atomic_load(&flog_format) == FLOG_FORMAT_JSON;
  int journal = atomic_load(&flog_journal);
  if (journal < 0) {
    const char *js = getenv("JOURNAL_STREAM");
    journal = js && *js ? 1 : 0;
    atomic_store(&flog_journal, journal);
  }
  if (!json) {
    if (journal) {
      o += (size_t)snprintf(line, sizeof line, "<%d>", level);
    } else {
      o += timestamp(line, sizeof line);
      o += (size_t)snprintf(line + o, sizeof line - o, " %s: ", level_names[level]);
    }
  }

  size_t body = o;
  size_t room = sizeof line - o - 140; /* keep room for " request_id=..." */
  errno = saved_errno;
  int n = vsnprintf(line + o, room, fmt, ap);
  if (n < 0) n = 0;
  if ((size_t)n >= room) { /* cut, marked */
    o += room - 1;
    memcpy(line + o - 3, "...", 3);
  } else {
    o += (size_t)n;
  }
  /* one message, one line: embedded line breaks would split it in journald */
  for (size_t i = body; i < o; i++)
    if (line[i] == '\n' || line[i] == '\r') line[i] = ' ';
  line[o] = '\0';
  if (json) {
    json_line(level, ctx, line + body);
  } else {
    if (ctx && ctx->request_id)
      o += (size_t)snprintf(line + o, sizeof line - o, " request_id=%.128s", ctx->request_id);
    line[o++] = '\n';
    line[o] = '\0';
    fputs(line, stderr);
  }
  errno = saved_errno;
}

void flog(int level, const char *fmt, ...) {
  if (level > atomic_load(&flog_level)) return;
  va_list ap;
  va_start(ap, fmt);
  vflog(level, NULL, fmt, ap);
  va_end(ap);
}

void flogx(int level, const flog_ctx *ctx, const char *fmt, ...) {
  if (level > atomic_load(&flog_level)) return;
  va_list ap;
  va_start(ap, fmt);
  vflog(level, ctx, fmt, ap);
  va_end(ap);
}
