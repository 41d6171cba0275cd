/* metrics_query: the query-string and path rules of the /v1/metrics/…
 * endpoints (SPEC §3), apart from HTTP so they can be fuzzed
 * (tests/fuzz/fuzz_metrics_query.c): from/to as RFC 3339 with their
 * defaults and limits, and the {id} path segment. */
#ifndef FERRY_COLLECTOR_METRICS_QUERY_H
#define FERRY_COLLECTOR_METRICS_QUERY_H

#include <stddef.h>
#include <stdint.h>

#define MQ_MAX_WINDOW_MS     (INT64_C(93) * 86400000) /* longer windows are 400 naming `to` */
#define MQ_DEFAULT_WINDOW_MS INT64_C(86400000)
#define MQ_ID_MAX            64 /* longer ids were never stored */

/* The window from the decoded query values (NULL when absent). Defaults: to =
 * now, from = to − 24 h. A space where an offset sign belongs (form decoding
 * turned '+' into ' ') is read as '+'. Returns 0, or -EINVAL with the bad
 * parameter's name ("from" or "to") in *ret_param and a message in msg. */
int mq_window(const char *from, const char *to, int64_t now_ms, int64_t *ret_from_ms, int64_t *ret_to_ms,
              const char **ret_param, char *msg, size_t msglen);

/* The {id} of raw_path (as sent, not decoded) under prefix ("/v1/metrics/workers/"):
 * 0 with the percent-decoded id in out; -ENOENT when raw_path is not prefix + one
 * non-empty segment; -EINVAL when the segment is badly encoded (bad %XX, NUL,
 * not UTF-8); -E2BIG when the decoded id is longer than MQ_ID_MAX bytes (no such id). */
int mq_path_id(const char *raw_path, const char *prefix, char out[MQ_ID_MAX + 1]);

#endif
