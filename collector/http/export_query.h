/* export_query: the query values of GET /v1/events/export that are not the
 * window (SPEC §6.3) — limit, max_confidence and the paging cursor — parsed
 * apart from HTTP so they can be fuzzed (tests/fuzz/fuzz_collector_export_query.c).
 * The cursor names the last event of a page: "<ts_ms>_<agent_id as hex>_<event_id>";
 * clients treat it as opaque. */
#ifndef FERRY_COLLECTOR_EXPORT_QUERY_H
#define FERRY_COLLECTOR_EXPORT_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define EXPORT_DEFAULT_LIMIT 100000
#define EXPORT_MAX_LIMIT     1000000
#define EXPORT_CURSOR_MAX    (24 + 2 * 64 + 128 + 3)

/* An integer from 1 to EXPORT_MAX_LIMIT. 0 or -EINVAL. */
int exq_limit(const char *v, int64_t *ret);
/* A number from 0 to 1. 0 or -EINVAL. */
int exq_max_confidence(const char *v, double *ret);
/* A cursor written by exq_cursor_format. 0 or -EINVAL. */
int exq_cursor_parse(const char *v, st_export_key *ret);
/* Write k's cursor into out (EXPORT_CURSOR_MAX + 1 bytes). */
void exq_cursor_format(const st_export_key *k, char out[EXPORT_CURSOR_MAX + 1]);

#endif
