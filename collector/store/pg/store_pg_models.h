/* store_pg_models: the model rollups and the event export of the
 * PostgreSQL store (SPEC §6.3; store_pg_models.c), called by store_pg.c and
 * store_pg_metrics.c. */
#ifndef FERRY_COLLECTOR_STORE_PG_MODELS_H
#define FERRY_COLLECTOR_STORE_PG_MODELS_H

#include "batch.h"
#include "store_pg_conn.h"

/* Upkeep, in the transaction that claimed the hours: rebuild the model_hour
 * rows of hours [h0, h1) from their events; the model_day rows of a day from
 * its hour rows (under the day's lock). */
int spmod_write_hours(store_pg *s, int64_t h0, int64_t h1);
int spmod_write_day(store_pg *s, int64_t day);
void spmod_reset(store_pg *s); /* forget them (rolled back) */
void spmod_close(store_pg *s);
int spmod_backfill(store_pg *s); /* migration to version 3, inside its transaction */
int spmod_models(store *base, const sm_window *w, size_t n, models_set *sets);
int spx_export(store *base, st_export_query *q, int (*between)(void *ctx, const st_export_query *q),
               st_export_row_fn fn, void *ctx);

#endif
