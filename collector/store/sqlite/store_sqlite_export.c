/* store_sqlite_export: GET /v1/events/export on the SQLite store — the
 * stored events of a window read through ev_time (keyed by hour, so a window
 * is a run of hours and each hour's rows are sorted on their own: memory
 * stays bounded by an hour's events, never the window's), joined with their
 * bodies, filtered and handed over one by one. Runs on a reader handle in
 * one read transaction. */
#include "store_sqlite_models.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rollup.h"

static void ssx__key(sqlite3_stmt *st, int i, const st_export_key *k) {
  sqlite3_bind_int64(st, i, k->ts_ms);
  sqlite3_bind_text(st, i + 1, k->agent_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, i + 2, k->event_id, -1, SQLITE_STATIC);
}

typedef struct ssx_count {
  int64_t n;
  st_export_key last;
} ssx_count;

static int ssx__count(void *ctx, const st_export_key *k, const char *body, size_t len) {
  ssx_count *c = ctx;
  (void)body;
  (void)len;
  c->n++;
  c->last = *k;
  return 0;
}

/* One pass: fn for each event of q. */
static int ssx__pass(store_sqlite *s, const st_export_query *q, st_export_row_fn fn, void *ctx) {
  int64_t lo = q->from_ms;
  if (q->has_after && q->after.ts_ms > lo) lo = q->after.ts_ms;
  int64_t hi = q->to_ms;
  if (q->has_until && q->until.ts_ms + 1 < hi) hi = q->until.ts_ms + 1;
  if (lo >= hi || q->limit <= 0) return 0;
  int r = 0;
  sqlite3_stmt *st = ss__stmt(s, SS_EXPORT);
  sqlite3_bind_int64(st, 1, rollup_hour_of(lo));
  sqlite3_bind_int64(st, 2, rollup_hour_of(hi - 1));
  sqlite3_bind_int64(st, 3, lo);
  sqlite3_bind_int64(st, 4, hi);
  if (q->has_after) ssx__key(st, 5, &q->after);
  if (q->has_until) ssx__key(st, 8, &q->until);
  ss__text(st, 11, q->event_type);
  if (q->camera_id) sqlite3_bind_text(st, 12, q->camera_id, -1, SQLITE_STATIC);
  if (q->model_version) sqlite3_bind_text(st, 13, q->model_version, -1, SQLITE_STATIC);
  int64_t n = 0;
  int rc = SQLITE_DONE;
  while (r == 0 && n < q->limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (q->has_max_conf) {
      const unsigned char *c = sqlite3_column_text(st, 4);
      if (!c || !(strtod((const char *)c, NULL) <= q->max_conf)) continue;
    }
    st_export_key k = {.ts_ms = sqlite3_column_int64(st, 0)};
    snprintf(k.agent_id, sizeof(k.agent_id), "%s", (const char *)sqlite3_column_text(st, 1));
    snprintf(k.event_id, sizeof(k.event_id), "%s", (const char *)sqlite3_column_text(st, 2));
    const char *body = (const char *)sqlite3_column_text(st, 3);
    r = fn(ctx, &k, body ? body : "{}", body ? (size_t)sqlite3_column_bytes(st, 3) : 2);
    n++;
  }
  if (r == 0 && n < q->limit && rc != SQLITE_DONE) r = ss__fail(s, "export events");
  sqlite3_reset(st);
  return r;
}

int ssx_export(store *base, st_export_query *q, int (*between)(void *ctx, const st_export_query *q),
               st_export_row_fn fn, void *ctx) {
  store_sqlite *s = SS(base);
  bool opened = sqlite3_get_autocommit(s->db);
  int r = opened ? ss__exec(s, ss__stmt(s, SS_BEGIN_READ), "begin read") : 0;
  ssx_count c = {0};
  if (r == 0) r = ssx__pass(s, q, ssx__count, &c);
  if (r == 0 && c.n == q->limit) {
    q->has_until = true;
    q->until = c.last;
  }
  if (r == 0) r = between(ctx, q);
  if (r == 0) r = ssx__pass(s, q, fn, ctx);
  if (opened && !sqlite3_get_autocommit(s->db)) (void)ss__exec(s, ss__stmt(s, SS_COMMIT), "end read");
  return r;
}
