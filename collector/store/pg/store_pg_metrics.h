/* store_pg_metrics: the metrics side of the PostgreSQL store (rollup upkeep
 * and reads), called by store_pg.c. */
#ifndef FERRY_COLLECTOR_STORE_PG_METRICS_H
#define FERRY_COLLECTOR_STORE_PG_METRICS_H

#include "store_pg_conn.h"

int spm_note_event(store_pg *s, const ev_event *e); /* collect the batch's marks and ids */
int spm_flush(store_pg *s);                         /* write them (inside the batch's savepoint) */
void spm_tx_end(store_pg *s, bool committed);
int spm_open(store_pg *s, char *err, size_t errlen); /* writer: rollups built with this max_state? */
void spm_close(store_pg *s);
int spm_maintain(store *base, int max_units, bool *ret_more);
int spm_metrics(store *base, const st_metrics_query *q, metrics_result *ret);
int spm_id_known(store *base, st_id_kind kind, const char *id, bool *ret);

#endif
