/* store_sqlite_metrics: the metrics side of the SQLite store (rollup upkeep
 * and reads), called by store_sqlite.c. */
#ifndef FERRY_COLLECTOR_STORE_SQLITE_METRICS_H
#define FERRY_COLLECTOR_STORE_SQLITE_METRICS_H

#include "store_sqlite_conn.h"

/* A newly stored event (inside the batch's savepoint): mark its stale hours
 * and record its ids. */
int ssm_note_event(store_sqlite *s, const ev_event *e);
/* The transaction ended: committed (ids become known) or rolled back. */
void ssm_tx_end(store_sqlite *s, bool committed);
/* At open (writer handle): load the known ids, and mark every hour dirty when
 * the rollups were built with another max_state. */
int ssm_open(store_sqlite *s, char *err, size_t errlen);
void ssm_close(store_sqlite *s);
int ssm_maintain(store *base, int max_units, bool *ret_more);
int ssm_metrics(store *base, const st_metrics_query *q, metrics_result *ret);
int ssm_id_known(store *base, st_id_kind kind, const char *id, bool *ret);
/* The dirty hours in [h_lo, h_hi), ascending (*ret malloc'd, freed by the caller). */
int ssm_dirty_hours(void *ctx, int64_t h_lo, int64_t h_hi, int64_t **ret, size_t *ret_n);

#endif
