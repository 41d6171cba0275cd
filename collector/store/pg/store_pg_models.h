/* store_pg_models: the model rollups and the event export of the
 * PostgreSQL store (SPEC §6.3; store_pg_models.c), called by store_pg.c and
 * store_pg_metrics.c. */
#ifndef FERRY_COLLECTOR_STORE_PG_MODELS_H
#define FERRY_COLLECTOR_STORE_PG_MODELS_H

#include "batch.h"
#include "store_pg_conn.h"

int spmod_note(store_pg *s, const bt_event *e); /* a newly stored event */
int spmod_flush(store_pg *s);                   /* write the batch's cells (in its savepoint) */
void spmod_reset(store_pg *s);                  /* forget them (rolled back) */
void spmod_close(store_pg *s);
int spmod_backfill(store_pg *s); /* migration to version 3, inside its transaction */
int spmod_models(store *base, const sm_window *w, size_t n, models_set *sets);
int spx_export(store *base, st_export_query *q, int (*between)(void *ctx, const st_export_query *q),
               st_export_row_fn fn, void *ctx);

#endif
