/* store_sqlite_models: the model rollups and the event export of the
 * SQLite store (SPEC §6.3; store_sqlite_models.c, store_sqlite_export.c),
 * called by store_sqlite.c and store_sqlite_metrics.c. */
#ifndef FERRY_COLLECTOR_STORE_SQLITE_MODELS_H
#define FERRY_COLLECTOR_STORE_SQLITE_MODELS_H

#include "batch.h"
#include "store_sqlite_conn.h"

int ssmod_register(sqlite3 *db); /* ferry_hist_add, on every connection */
/* Bind an event's model columns of ev_time from parameter first on (camera
 * key, model key, bin, micro; left NULL when the event has no model field). */
void ssmod_bind(sqlite3_stmt *st, int first, const bt_event *e);
/* upkeep (writer, inside its transaction): the model rows of hours [h0, h1)
 * from their events, and a day's rows from its hour rows */
int ssmod_write_hours(store_sqlite *s, int64_t h0, int64_t h1);
int ssmod_write_day(store_sqlite *s, int64_t day);
int ssmod_backfill(sqlite3 *db, char *err, size_t errlen); /* migration: rows from stored events */
int ssmod_models(store *base, const sm_window *w, size_t n, models_set *sets);
int ssx_export(store *base, st_export_query *q, int (*between)(void *ctx, const st_export_query *q),
               st_export_row_fn fn, void *ctx);

#endif
