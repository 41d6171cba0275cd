/* store_sqlite_plant: the SQLite store's parts for the plant model (SPEC
 * §6.6) — the registry (store_sqlite_registry.c), the first and last event
 * of each id (store_sqlite_spans.c) and the site rollups behind the site=
 * and line= filters (store_sqlite_site.c). */
#ifndef FERRY_COLLECTOR_STORE_SQLITE_PLANT_H
#define FERRY_COLLECTOR_STORE_SQLITE_PLANT_H

#include "rollup_query.h"
#include "store_sqlite_conn.h"

int ssr_registry_get(store *base, int64_t *ret_version, int64_t *ret_updated_ms, char **ret_doc);
int ssr_registry_put(store *base, st_registry_edit edit, void *arg, int64_t now_ms, int64_t *ret_version);
int sss_id_spans(store *base, st_id_span **ret, size_t *ret_n);
/* The site rollups of a rebuild, beside the plain rollups: delete the rows
 * of hours [h0, h1), add a slice's rows (bucket k = hour h0 + k) to them,
 * rewrite one day's; and the filtered sums of a query. */
int sss_clear_hours(store_sqlite *s, int64_t h0, int64_t h1);
int sss_put_rows(store_sqlite *s, int64_t h0, const rsite_rows *rows);
int sss_write_day(store_sqlite *s, int64_t day);
int sss_sum_site(void *ctx, rq_table table, bool days, int64_t a, int64_t b, const char *id,
                 const rsite_filter *f, rollup_acc *acc);

#endif
