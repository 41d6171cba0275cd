/* log: one line per message on stderr, prefixed "<N>" with the syslog priority
 * so journald keeps the level. Library-like modules never log; the caller that
 * decides what an error means logs it once. */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

#define FLOG_ERR     3
#define FLOG_WARNING 4
#define FLOG_NOTICE  5
#define FLOG_INFO    6
#define FLOG_DEBUG   7

void flog_set_level(int level);
int flog_get_level(void);
/* "error", "warning", "notice", "info", "debug" → level, or -1. */
int flog_parse_level(const char *name);
void flog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define flog_err(...)    flog(FLOG_ERR, __VA_ARGS__)
#define flog_warn(...)   flog(FLOG_WARNING, __VA_ARGS__)
#define flog_notice(...) flog(FLOG_NOTICE, __VA_ARGS__)
#define flog_info(...)   flog(FLOG_INFO, __VA_ARGS__)
#define flog_debug(...)  flog(FLOG_DEBUG, __VA_ARGS__)

#endif
