/* store_pg_plant: the PostgreSQL store's parts for the plant model (SPEC
 * §6.6) — the registry (store_pg_registry.c), the first and last event of
 * each id (store_pg_spans.c) and the site rollups behind the site= and
 * line= filters (store_pg_site.c). */
#ifndef FERRY_COLLECTOR_STORE_PG_PLANT_H
#define FERRY_COLLECTOR_STORE_PG_PLANT_H

#include "rollup_query.h"
#include "store_pg_conn.h"

int spr_registry_get(store *base, int64_t *ret_version, int64_t *ret_updated_ms, char **ret_doc);
int spr_registry_put(store *base, st_registry_edit edit, void *arg, int64_t now_ms, int64_t *ret_version);
int sps_id_spans(store *base, st_id_span **ret, size_t *ret_n);
/* The site rollups of a rebuild (inside its transaction and claims): delete
 * the rows of hours [h0, h1), add a slice's rows (bucket k = hour h0 + k) to
 * them, rewrite one day's; and the filtered sums of a query. */
int spsite_clear_hours(store_pg *s, int64_t h0, int64_t h1);
int spsite_put_rows(store_pg *s, int64_t h0, const rsite_rows *rows);
int spsite_write_day(store_pg *s, int64_t day);
int spsite_sum_site(void *ctx, rq_table table, bool days, int64_t a, int64_t b, const char *id,
                    const rsite_filter *f, rollup_acc *acc);

#endif
