/* store_spans: the first and last event time of every worker and station id
 * (GET /v1/workers, /v1/workstations), found without a scan of all events:
 * the hour rollups say in which hours an id has events, so only the first and
 * last such hour of each id (and the hours whose rollups are still stale) are
 * read event by event. This is the backend-independent half: the span list
 * and the folding; each store feeds it from its own tables. */
#ifndef FERRY_COLLECTOR_STORE_SPANS_H
#define FERRY_COLLECTOR_STORE_SPANS_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

typedef struct sts_spans {
  st_id_span *v; /* sorted by (kind, id) */
  size_t n, cap;
  int64_t *hours; /* hours to read event by event */
  size_t nh, caph;
} sts_spans;

/* Ids must come in (kind, id) byte order; repeats are ignored. */
int sts_add_id(sts_spans *s, st_id_kind kind, const char *id);
/* The rollups say id has events in hours [first, last]: read those two. */
int sts_add_range(sts_spans *s, st_id_kind kind, const char *id, int64_t first, int64_t last);
int sts_add_hour(sts_spans *s, int64_t hour);
/* Sort and dedupe the hours to read. */
void sts_hours_done(sts_spans *s);
/* One event of an hour read: widen its ids' spans. */
void sts_fold(sts_spans *s, const char *worker_id, const char *workstation_id, int64_t ts_ms);
/* Hand the list over (*ret owns it) and free the rest. */
void sts_finish(sts_spans *s, st_id_span **ret, size_t *ret_n);
void sts_clear(sts_spans *s);

#endif
