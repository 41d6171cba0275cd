/* store_sqlite_export: GET /v1/events/export on the SQLite store — the
 * stored events of a window read through ev_time (keyed by hour, so a window
 * is a run of hours and each hour's rows are sorted on their own: memory
 * stays bounded by an hour's events, never the window's), joined with their
 * bodies (rebuilt from their stored form, ss_body.h), filtered and handed
 * over one by one. Runs on a reader handle in one read transaction. The
 * page's end (for the Link header, which goes out before the first line) is
 * found first by a pass over ev_time's keys and model columns alone — no
 * body read or rebuilt but for a confidence too close to max_confidence to
 * settle from its micro-units — so the first byte waits for that pass, not
 * for a read of every body. */
#include "store_sqlite_models.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models.h"
#include "rollup.h"
#include "ss_body.h"

#include <cjson/cJSON.h>

static void ssx__key(sqlite3_stmt *st, int i, const st_export_key *k) {
  sqlite3_bind_int64(st, i, k->ts_ms);
  sqlite3_bind_text(st, i + 1, k->agent_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, i + 2, k->event_id, -1, SQLITE_STATIC);
}

typedef struct ssx_count {
  int64_t n;
  st_export_key last;
} ssx_count;

/* The row's body, rebuilt from its stored form, into s->body. */
static int ssx__body(store_sqlite *s, sqlite3_stmt *st) {
  const char *cam = (const char *)sqlite3_column_text(st, 8), *mv = (const char *)sqlite3_column_text(st, 9);
  ss_body_cols c = {.event_id = (const char *)sqlite3_column_text(st, 2),
                    .ts_ms = sqlite3_column_int64(st, 0),
                    .event_type = (const char *)sqlite3_column_text(st, 4),
                    .worker_id = (const char *)sqlite3_column_text(st, 5),
                    .workstation_id = (const char *)sqlite3_column_text(st, 6),
                    .count = sqlite3_column_int64(st, 7),
                    .camera_id = cam ? models_key_id(cam) : NULL,
                    .model_version = mv ? models_key_id(mv) : NULL,
                    .has_micro = sqlite3_column_type(st, 10) != SQLITE_NULL,
                    .micro = sqlite3_column_int64(st, 10)};
  const char *stored = (const char *)sqlite3_column_blob(st, 3);
  int r = ss_body_unpack(&s->body, stored ? stored : "", (size_t)sqlite3_column_bytes(st, 3), &c);
  if (r < 0) snprintf(s->err, sizeof(s->err), "out of memory reading an event");
  return r;
}

/* The top-level confidence of a body (the validator made it a number when
 * present), exactly as the JSON text says; NaN when absent. */
static double ssx__conf(const char *body, size_t len) {
  cJSON *o = cJSON_ParseWithLength(body, len);
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "confidence");
  double v = cJSON_IsNumber(c) ? c->valuedouble : NAN;
  cJSON_Delete(o);
  return v;
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
  /* a camera or model version filter matches the event's model key: the
   * string member itself ("=" + id) */
  char ck[MODELS_KEY_MAX], mk[MODELS_KEY_MAX];
  if (q->camera_id) {
    models_key(q->camera_id, ck);
    sqlite3_bind_text(st, 12, ck, -1, SQLITE_STATIC);
  }
  if (q->model_version) {
    models_key(q->model_version, mk);
    sqlite3_bind_text(st, 13, mk, -1, SQLITE_STATIC);
  }
  int64_t n = 0;
  int rc = SQLITE_DONE;
  while (r == 0 && n < q->limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    /* no confidence: not under any max_confidence */
    if (q->has_max_conf && sqlite3_column_type(st, 10) == SQLITE_NULL) continue;
    if ((r = ssx__body(s, st)) < 0) break;
    if (q->has_max_conf && !(ssx__conf(s->body.p, s->body.len) <= q->max_conf)) continue;
    st_export_key k = {.ts_ms = sqlite3_column_int64(st, 0)};
    snprintf(k.agent_id, sizeof(k.agent_id), "%s", (const char *)sqlite3_column_text(st, 1));
    snprintf(k.event_id, sizeof(k.event_id), "%s", (const char *)sqlite3_column_text(st, 2));
    r = fn(ctx, &k, s->body.len ? s->body.p : "{}", s->body.len ? s->body.len : 2);
    n++;
  }
  if (r == 0 && n < q->limit && rc != SQLITE_DONE) r = ss__fail(s, "export events");
  sqlite3_reset(st);
  return r;
}

/* Is the confidence of the event at (hour, rseq), whose micro-units are
 * micro, at most max? The micro-units settle it unless they are within one of
 * max's: then the body decides, read and rebuilt as the export's own pass
 * reads it. */
static int ssx__conf_ok(store_sqlite *s, int64_t hour, int64_t rseq, int64_t micro, double max, bool *ok) {
  double x = max * 1e6;
  if ((double)micro + 1 < x || (double)micro - 1 > x) {
    *ok = (double)micro < x;
    return 0;
  }
  sqlite3_stmt *st = ss__stmt(s, SS_EXPORT_ONE);
  sqlite3_bind_int64(st, 1, hour);
  sqlite3_bind_int64(st, 2, rseq);
  int rc = sqlite3_step(st), r = 0;
  *ok = false;
  if (rc == SQLITE_ROW && (r = ssx__body(s, st)) == 0) *ok = ssx__conf(s->body.p, s->body.len) <= max;
  sqlite3_reset(st);
  if (r == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE) r = ss__fail(s, "export events");
  return r;
}

/* The first pass: how many events the page holds (at most q->limit) and the
 * last one's key, from keys alone. Counts what ssx__pass hands over. */
static int ssx__keys(store_sqlite *s, const st_export_query *q, ssx_count *c) {
  int64_t lo = q->from_ms;
  if (q->has_after && q->after.ts_ms > lo) lo = q->after.ts_ms;
  int64_t hi = q->to_ms;
  if (q->has_until && q->until.ts_ms + 1 < hi) hi = q->until.ts_ms + 1;
  if (lo >= hi || q->limit <= 0) return 0;
  sqlite3_stmt *st = ss__stmt(s, SS_EXPORT_KEYS);
  sqlite3_bind_int64(st, 1, rollup_hour_of(lo));
  sqlite3_bind_int64(st, 2, rollup_hour_of(hi - 1));
  sqlite3_bind_int64(st, 3, lo);
  sqlite3_bind_int64(st, 4, hi);
  if (q->has_after) ssx__key(st, 5, &q->after);
  if (q->has_until) ssx__key(st, 8, &q->until);
  ss__text(st, 11, q->event_type);
  char ck[MODELS_KEY_MAX], mk[MODELS_KEY_MAX];
  if (q->camera_id) {
    models_key(q->camera_id, ck);
    sqlite3_bind_text(st, 12, ck, -1, SQLITE_STATIC);
  }
  if (q->model_version) {
    models_key(q->model_version, mk);
    sqlite3_bind_text(st, 13, mk, -1, SQLITE_STATIC);
  }
  if (q->has_max_conf) sqlite3_bind_int(st, 14, 1);
  int r = 0, rc = SQLITE_DONE;
  while (r == 0 && c->n < q->limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (q->has_max_conf) {
      bool ok = false;
      r = ssx__conf_ok(s, sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4),
                       sqlite3_column_int64(st, 5), q->max_conf, &ok);
      if (r < 0 || !ok) continue;
    }
    c->n++;
    if (c->n < q->limit) continue; /* only the page's last key is wanted */
    c->last.ts_ms = sqlite3_column_int64(st, 0);
    snprintf(c->last.agent_id, sizeof(c->last.agent_id), "%s", (const char *)sqlite3_column_text(st, 1));
    snprintf(c->last.event_id, sizeof(c->last.event_id), "%s", (const char *)sqlite3_column_text(st, 2));
  }
  if (r == 0 && c->n < q->limit && rc != SQLITE_DONE) r = ss__fail(s, "export events");
  sqlite3_reset(st);
  return r;
}

int ssx_export(store *base, st_export_query *q, int (*between)(void *ctx, const st_export_query *q),
               st_export_row_fn fn, void *ctx) {
  store_sqlite *s = SS(base);
  bool opened = sqlite3_get_autocommit(s->db);
  int r = opened ? ss__exec(s, ss__stmt(s, SS_BEGIN_READ), "begin read") : 0;
  ssx_count c = {0};
  if (r == 0) r = ssx__keys(s, q, &c);
  if (r == 0 && c.n == q->limit) {
    q->has_until = true;
    q->until = c.last;
  }
  if (r == 0) r = between(ctx, q);
  if (r == 0) r = ssx__pass(s, q, fn, ctx);
  if (opened && !sqlite3_get_autocommit(s->db)) (void)ss__exec(s, ss__stmt(s, SS_COMMIT), "end read");
  return r;
}
