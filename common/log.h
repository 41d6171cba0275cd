/* log: one line per message on stderr. Text (default): under journald
 * (JOURNAL_STREAM set) prefixed "<N>" with the syslog priority so journald
 * keeps the level; elsewhere a UTC timestamp and the level name first. JSON
 * (--log-format json): one object a line with ts, level, msg, component and
 * the context of flogx. Library-like modules never log; the caller that
 * decides what an error means logs it once. */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

#define FLOG_ERR     3
#define FLOG_WARNING 4
#define FLOG_NOTICE  5
#define FLOG_INFO    6
#define FLOG_DEBUG   7

#include <stdbool.h>
#include <stdint.h>

void flog_set_level(int level);
int flog_get_level(void);
/* "error", "warning", "notice", "info", "debug" → level, or -1. */
int flog_parse_level(const char *name);
void flog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

enum { FLOG_FORMAT_TEXT = 0, FLOG_FORMAT_JSON = 1 };
void flog_set_format(int format);
int flog_get_format(void);
/* The component of lines that name none ("agent", "collector"); a static string. */
void flog_set_component(const char *component);
/* Re-read JOURNAL_STREAM (tests; otherwise read on the first line). */
void flog_reset_env(void);

/* Context of a line (JSON fields; in text, request_id is appended). Strings
 * NULL and numbers without their has_ flag are left out. */
typedef struct flog_ctx {
  const char *component;
  const char *agent_id, *epoch, *idempotency_key, *request_id, *error, *client;
  int64_t first_seq, last_seq, events; /* seqs: 0 = absent */
  bool has_events;
  int status; /* HTTP status; 0 = absent */
  double duration_ms;
  bool has_duration;
} flog_ctx;
void flogx(int level, const flog_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define flog_err(...)    flog(FLOG_ERR, __VA_ARGS__)
#define flog_warn(...)   flog(FLOG_WARNING, __VA_ARGS__)
#define flog_notice(...) flog(FLOG_NOTICE, __VA_ARGS__)
#define flog_info(...)   flog(FLOG_INFO, __VA_ARGS__)
#define flog_debug(...)  flog(FLOG_DEBUG, __VA_ARGS__)

#endif
