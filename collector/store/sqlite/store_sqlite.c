/* store_sqlite: the SQLite backend of store.h. WAL mode with
 * synchronous=FULL, so a commit that returned is on disk before any 200 is
 * sent. One connection, used only by the writer thread. Each event is a row
 * of events found through its 64-bit key in ev_key (ss_key.h; every hit is
 * checked against the stored ids) — the first stored copy of an
 * (agent_id, event_id) wins — and delivery is tracked as merged seq ranges
 * per (agent_id, epoch). */
#include "store_sqlite_conn.h"
#include "store_sqlite_metrics.h"
#include "store_sqlite_models.h"
#include "store_sqlite_plant.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "models.h"
#include "rollup.h"
#include "ss_body.h"
#include "ss_key.h"
#include "ss_keyfold.h"
#include "store_apply.h"

static int ss_run(store_sqlite *s, int which) { return ss__exec(s, ss__stmt(s, which), ss_sql[which]); }

static int ss_begin(store *base) {
  ssm_tx_end(SS(base), false);
  return ss_run(SS(base), SS_BEGIN);
}
static int ss_commit(store *base) {
  store_sqlite *s = SS(base);
  int r = ssk_fold(s); /* a failed piece fails the commit: the caller rolls back */
  if (r == 0) r = ss_run(s, SS_COMMIT);
  ssm_tx_end(s, r == 0);
  ssk_tx_end(s, r == 0);
  return r;
}
static void ss_rollback(store *base) {
  store_sqlite *s = SS(base);
  if (!sqlite3_get_autocommit(s->db)) (void)ss_run(s, SS_ROLLBACK);
  ssm_tx_end(s, false);
  ssk_tx_end(s, false);
}
static bool ss_in_transaction(store *base) { return !sqlite3_get_autocommit(SS(base)->db); }
static const char *ss_last_error(store *base) { return SS(base)->err; }

static int ss_ping(store *base) {
  store_sqlite *s = SS(base);
  sqlite3_stmt *st = ss__stmt(s, SS_PING);
  int rc = sqlite3_step(st);
  int r = rc == SQLITE_ROW ? 0 : ss__fail(s, "ping");
  sqlite3_reset(st);
  return r;
}

static int ss_stale_hours(store *base, int64_t *ret_n) {
  return ss__scalar(SS(base), SS_DIRTY_COUNT, "count stale hours", ret_n);
}

static int ss_purge(store *base, int64_t before_ms) {
  store_sqlite *s = SS(base);
  sqlite3_stmt *st = ss__stmt(s, SS_IDEM_PURGE);
  sqlite3_bind_int64(st, 1, before_ms);
  return ss__exec(s, st, "purge idempotency keys");
}

/* Load the ranges of (agent, epoch) that overlap or touch [lo, hi] into set
 * (stmt = a *_WINDOW or *_ALL statement; the window bounds are ignored by _ALL). */
static int ss__load_ranges(store_sqlite *s, int which, const char *agent, const char *epoch, int64_t lo,
                           int64_t hi, dlv_set *set) {
  sqlite3_stmt *st = ss__stmt(s, which);
  ss__text(st, 1, agent);
  ss__text(st, 2, epoch);
  if (which == SS_RECV_WINDOW || which == SS_DROP_WINDOW) {
    sqlite3_bind_int64(st, 3, lo);
    sqlite3_bind_int64(st, 4, hi);
  }
  int rc, r = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW && r == 0)
    r = dlv_set_add(set, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1));
  if (r == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW) r = ss__fail(s, "load seq ranges");
  else if (r == -EINVAL) {
    snprintf(s->err, sizeof(s->err), "corrupt seq range in the database");
    r = -EIO;
  }
  sqlite3_reset(st);
  return r;
}

/* Merge seqs (or ranges) into the stored range table of (agent, epoch):
 * the stored ranges within [lo-1, hi+1] are replaced by their union with add. */
static int ss__merge(store_sqlite *s, bool dropped, const char *agent, const char *epoch,
                     const dlv_set *add) {
  if (add->n == 0) return 0;
  int64_t lo = add->r[0].from - 1, hi = add->r[add->n - 1].to + 1;
  dlv_set set;
  dlv_set_init(&set);
  int r = ss__load_ranges(s, dropped ? SS_DROP_WINDOW : SS_RECV_WINDOW, agent, epoch, lo, hi, &set);
  for (size_t i = 0; r == 0 && i < add->n; i++) r = dlv_set_add(&set, add->r[i].from, add->r[i].to);
  if (r == 0) {
    sqlite3_stmt *st = ss__stmt(s, dropped ? SS_DROP_DELETE : SS_RECV_DELETE);
    ss__text(st, 1, agent);
    ss__text(st, 2, epoch);
    sqlite3_bind_int64(st, 3, lo);
    sqlite3_bind_int64(st, 4, hi);
    r = ss__exec(s, st, "delete seq ranges");
  }
  for (size_t i = 0; r == 0 && i < set.n; i++) {
    sqlite3_stmt *st = ss__stmt(s, dropped ? SS_DROP_INSERT : SS_RECV_INSERT);
    ss__text(st, 1, agent);
    ss__text(st, 2, epoch);
    sqlite3_bind_int64(st, 3, set.r[i].from);
    sqlite3_bind_int64(st, 4, set.r[i].to);
    r = ss__exec(s, st, "insert seq range");
  }
  dlv_set_clear(&set);
  return r == -E2BIG || r == -ENOMEM ? (snprintf(s->err, sizeof(s->err), "seq range set too large"), r) : r;
}

/* The stream id of the batch's (agent_id, epoch), added on first use. */
static int ss__stream(store_sqlite *s, const bt_batch *b, int64_t *ret_sid) {
  sqlite3_stmt *st = ss__stmt(s, SS_STREAM_GET);
  ss__text(st, 1, b->agent_id);
  ss__text(st, 2, b->epoch);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *ret_sid = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  if (rc == SQLITE_ROW) return 0;
  if (rc != SQLITE_DONE) return ss__fail(s, "read stream");
  st = ss__stmt(s, SS_STREAM_ADD);
  ss__text(st, 1, b->agent_id);
  ss__text(st, 2, b->epoch);
  int r = ss__exec(s, st, "add stream");
  if (r == 0) *ret_sid = sqlite3_last_insert_rowid(s->db);
  return r;
}

/* The event's body in its stored form (ss_body.h) into s->body. */
static int ss__pack(store_sqlite *s, const bt_event *e) {
  ss_body_cols c = {.event_id = e->ev.event_id,
                    .ts_ms = e->ev.ts_ms,
                    .event_type = ev_type_name(e->ev.type),
                    .worker_id = e->ev.worker_id,
                    .workstation_id = e->ev.workstation_id,
                    .count = e->ev.count,
                    .camera_id = e->camera_id,
                    .model_version = e->model_version,
                    .has_micro = e->has_conf,
                    .micro = e->has_conf ? models_micro(e->confidence) : 0};
  int r = ss_body_pack(&s->body, e->ev.json, e->ev.json_len, &c);
  if (r < 0) snprintf(s->err, sizeof(s->err), "out of memory storing an event");
  return r;
}

static int ss__events(void *ctx, const st_ingest *in, st_result *ret) {
  store_sqlite *s = ctx;
  const bt_batch *b = in->batch;
  size_t agent_len = strlen(b->agent_id);
  int64_t sid = -1;
  for (size_t i = 0; i < b->n; i++) {
    const bt_event *e = &b->events[i];
    if (!e->valid) continue;
    size_t id_len = strlen(e->ev.event_id);
    int64_t h = ss_key64(b->agent_id, agent_len, e->ev.event_id, id_len), stored_hash = 0;
    bool random = ssk_random(e->ev.event_id, id_len);
    int r = ssk_find(s, random, h, b->agent_id, e->ev.event_id, &stored_hash);
    if (r < 0) return r;
    if (r == 1) { /* the first stored copy wins */
      ret->duplicates++;
      if (stored_hash != (int64_t)e->content_hash) ret->conflicts++;
      continue;
    }
    if (sid < 0 && (r = ss__stream(s, b, &sid)) < 0) return r;
    if ((r = ss__pack(s, e)) < 0) return r;
    sqlite3_stmt *st = ss__stmt(s, SS_EVENT_INSERT);
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_int64(st, 2, e->seq);
    sqlite3_bind_int64(st, 3, e->ev.ts_ms);
    sqlite3_bind_int64(st, 4, in->received_at_ms);
    sqlite3_bind_int64(st, 5, (int64_t)e->content_hash);
    sqlite3_bind_blob(st, 6, s->body.p, (int)s->body.len, SQLITE_STATIC);
    if ((r = ss__exec(s, st, "insert event")) < 0) return r;
    int64_t rseq = sqlite3_last_insert_rowid(s->db);
    ret->accepted++;
    if ((r = ssk_insert(s, random, h, rseq)) < 0) return r;
    st = ss__stmt(s, SS_EVTIME_INSERT);
    sqlite3_bind_int64(st, 1, rollup_hour_of(e->ev.ts_ms));
    sqlite3_bind_int64(st, 2, rseq);
    sqlite3_bind_int64(st, 3, e->ev.ts_ms);
    ss__text(st, 4, ev_type_name(e->ev.type));
    ss__text(st, 5, e->ev.worker_id);
    ss__text(st, 6, e->ev.workstation_id);
    sqlite3_bind_int64(st, 7, e->ev.count);
    ss__text(st, 8, e->ev.event_id);
    ss__text(st, 9, b->agent_id);
    ss__text(st, 10, b->site);
    ssmod_bind(st, 11, e);
    if ((r = ss__exec(s, st, "insert event time")) < 0) return r;
    /* the per-event rollup hook: stale hours and known ids */
    if ((r = ssm_note_event(s, &e->ev)) < 0) return r;
  }
  return 0;
}

static int ss__touch(void *ctx, const st_ingest *in, int64_t *ret_high) {
  store_sqlite *s = ctx;
  const bt_batch *b = in->batch;
  sqlite3_stmt *st = ss__stmt(s, SS_EPOCH_GET_HIGH);
  ss__text(st, 1, b->agent_id);
  ss__text(st, 2, b->epoch);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *ret_high = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return ss__fail(s, "read epoch");

  st = ss__stmt(s, SS_AGENT_UPSERT);
  ss__text(st, 1, b->agent_id);
  sqlite3_bind_int64(st, 2, in->received_at_ms);
  ss__text(st, 3, in->version);
  if (b->has_sent_at) sqlite3_bind_double(st, 4, (double)(in->received_at_ms - b->sent_at_ms) / 1000.0);
  if (b->has_stats) {
    sqlite3_bind_int64(st, 5, b->backlog);
    sqlite3_bind_double(st, 6, b->oldest_pending_s);
  }
  int r = ss__exec(s, st, "update agent");
  if (r < 0) return r;

  st = ss__stmt(s, SS_EPOCH_UPSERT);
  ss__text(st, 1, b->agent_id);
  ss__text(st, 2, b->epoch);
  sqlite3_bind_int64(st, 3, in->received_at_ms);
  if (b->has_stats) {
    sqlite3_bind_int64(st, 4, b->backlog);
    sqlite3_bind_double(st, 5, b->oldest_pending_s);
  }
  return ss__exec(s, st, "update epoch");
}

static char *ss__dup_col(sqlite3_stmt *st, int col, bool *oom) {
  const char *v = (const char *)sqlite3_column_text(st, col);
  char *c = strdup(v ? v : "");
  if (!c) *oom = true;
  return c;
}

static int ss__idem_get(void *ctx, const char *agent, const char *key, char **ret_hash, char **ret_answer) {
  store_sqlite *s = ctx;
  sqlite3_stmt *st = ss__stmt(s, SS_IDEM_GET);
  ss__text(st, 1, agent);
  ss__text(st, 2, key);
  int rc = sqlite3_step(st), r = 0;
  if (rc == SQLITE_ROW) {
    bool oom = false;
    *ret_hash = ss__dup_col(st, 0, &oom);
    *ret_answer = sqlite3_column_type(st, 1) == SQLITE_NULL ? NULL : ss__dup_col(st, 1, &oom);
    if (oom) {
      snprintf(s->err, sizeof(s->err), "out of memory");
      r = -ENOMEM;
    }
  } else if (rc != SQLITE_DONE) {
    r = ss__fail(s, "look up idempotency key");
  }
  sqlite3_reset(st);
  return r;
}

static int ss__merge_cb(void *ctx, bool dropped, const char *agent, const char *epoch, const dlv_set *add) {
  return ss__merge(ctx, dropped, agent, epoch, add);
}

static int ss__add_conflicts(void *ctx, const char *agent, int64_t n) {
  store_sqlite *s = ctx;
  sqlite3_stmt *st = ss__stmt(s, SS_AGENT_CONFLICTS);
  ss__text(st, 1, agent);
  sqlite3_bind_int64(st, 2, n);
  return ss__exec(s, st, "count conflicts");
}

static int ss__idem_put(void *ctx, const st_ingest *in, const char *key, const char *answer) {
  store_sqlite *s = ctx;
  sqlite3_stmt *st = ss__stmt(s, SS_IDEM_PUT);
  ss__text(st, 1, in->batch->agent_id);
  ss__text(st, 2, key);
  ss__text(st, 3, in->batch->events_hash);
  ss__text(st, 4, answer);
  sqlite3_bind_int64(st, 5, in->received_at_ms);
  return ss__exec(s, st, "store idempotency key");
}

static int ss__set_high(void *ctx, const char *agent, const char *epoch, int64_t high) {
  store_sqlite *s = ctx;
  sqlite3_stmt *st = ss__stmt(s, SS_EPOCH_SET_HIGH);
  ss__text(st, 1, agent);
  ss__text(st, 2, epoch);
  sqlite3_bind_int64(st, 3, high);
  return ss__exec(s, st, "update high_seq");
}

static int ss__apply(store_sqlite *s, const st_ingest *in, st_result *ret) {
  const sa_backend be = {
      .ctx = s,
      .err = s->err,
      .errlen = sizeof(s->err),
      .touch = ss__touch,
      .idem_get = ss__idem_get,
      .events = ss__events,
      .merge = ss__merge_cb,
      .add_conflicts = ss__add_conflicts,
      .idem_put = ss__idem_put,
      .set_high = ss__set_high,
  };
  return sa_apply(&be, in, ret);
}

static int ss_apply(store *base, const st_ingest *in, st_result *ret) {
  store_sqlite *s = SS(base);
  memset(ret, 0, sizeof(*ret));
  int r = ss_run(s, SS_SAVEPOINT);
  if (r < 0) return r;
  r = ss__apply(s, in, ret);
  if (r == 0 && ret->status == 200) return ss_run(s, SS_RELEASE) < 0 ? (st_result_clear(ret), -EIO) : 0;
  /* a client error or a failure: keep nothing of this batch */
  char keep[sizeof(s->err)];
  memcpy(keep, s->err, sizeof(keep));
  if (!sqlite3_get_autocommit(s->db)) {
    (void)ss_run(s, SS_ROLLBACK_TO);
    (void)ss_run(s, SS_RELEASE);
  }
  ssm_tx_end(s, false); /* what this transaction wrote may be gone: write it again */
  memcpy(s->err, keep, sizeof(keep));
  if (r < 0) st_result_clear(ret);
  else {
    free(ret->body);
    ret->body = NULL;
  }
  return r;
}

static int ss_list_agents(store *base, st_agent_info **ret, size_t *ret_n) {
  store_sqlite *s = SS(base);
  st_agent_info *list = NULL;
  size_t n = 0, cap = 0;
  int r = 0, rc;
  sqlite3_stmt *st = ss__stmt(s, SS_AGENTS_LIST);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (n == cap) {
      size_t ncap = cap ? cap * 2 : 16;
      st_agent_info *nl = realloc(list, ncap * sizeof(*nl));
      if (!nl) {
        r = -ENOMEM;
        break;
      }
      list = nl;
      cap = ncap;
    }
    st_agent_info *a = &list[n++];
    memset(a, 0, sizeof(*a));
    snprintf(a->agent_id, sizeof(a->agent_id), "%s", (const char *)sqlite3_column_text(st, 0));
    a->last_seen = sqlite3_column_int64(st, 1);
    if (sqlite3_column_type(st, 2) != SQLITE_NULL)
      snprintf(a->version, sizeof(a->version), "%s", (const char *)sqlite3_column_text(st, 2));
    a->has_skew = sqlite3_column_type(st, 3) != SQLITE_NULL;
    a->clock_skew_s = sqlite3_column_double(st, 3);
    a->has_stats = sqlite3_column_type(st, 4) != SQLITE_NULL;
    a->backlog = sqlite3_column_int64(st, 4);
    a->oldest_pending_s = sqlite3_column_double(st, 5);
    a->conflicts = sqlite3_column_int64(st, 6);
  }
  if (r == 0 && rc != SQLITE_DONE) r = ss__fail(s, "list agents");
  sqlite3_reset(st);

  for (size_t i = 0; r == 0 && i < n; i++) {
    st_agent_info *a = &list[i];
    size_t ecap = 0;
    st = ss__stmt(s, SS_EPOCHS_OF);
    ss__text(st, 1, a->agent_id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      if (a->n_epochs == ecap) {
        size_t ncap = ecap ? ecap * 2 : 4;
        st_epoch_info *ne = realloc(a->epochs, ncap * sizeof(*ne));
        if (!ne) {
          r = -ENOMEM;
          break;
        }
        a->epochs = ne;
        ecap = ncap;
      }
      st_epoch_info *e = &a->epochs[a->n_epochs++];
      memset(e, 0, sizeof(*e));
      snprintf(e->epoch, sizeof(e->epoch), "%s", (const char *)sqlite3_column_text(st, 0));
      e->first_seen = sqlite3_column_int64(st, 1);
      e->last_seen = sqlite3_column_int64(st, 2);
      e->fig.high_seq = sqlite3_column_int64(st, 3);
    }
    if (r == 0 && rc != SQLITE_DONE) r = ss__fail(s, "list epochs");
    sqlite3_reset(st);
    /* ordered by first contact: the last one is the latest */
    a->latest = a->n_epochs ? a->n_epochs - 1 : 0;
    for (size_t k = 0; r == 0 && k < a->n_epochs; k++) {
      st_epoch_info *e = &a->epochs[k];
      dlv_set recv, drop;
      dlv_set_init(&recv);
      dlv_set_init(&drop);
      r = ss__load_ranges(s, SS_RECV_ALL, a->agent_id, e->epoch, 0, 0, &recv);
      if (r == 0) r = ss__load_ranges(s, SS_DROP_ALL, a->agent_id, e->epoch, 0, 0, &drop);
      if (r == 0) dlv_figures_compute(&recv, &drop, e->fig.high_seq, &e->fig);
      dlv_set_clear(&recv);
      dlv_set_clear(&drop);
    }
  }
  if (r < 0) {
    st_agents_free(list, n);
    return r;
  }
  *ret = list;
  *ret_n = n;
  return 0;
}

static void ss_close(store *base) {
  store_sqlite *s = SS(base);
  if (!s) return;
  ss_ckpt_stop(s->ckpt, s->db);
  for (int i = 0; i < SS_COUNT_; i++) sqlite3_finalize(s->st[i]);
  sqlite3_close(s->db);
  ssm_close(s);
  ssk_close(s);
  bgate_unref(s->gate);
  sb_clear(&s->body);
  free(s->path);
  free(s);
}

static int ss_open(const char *path, int64_t max_state_ms, bool reader, store **ret, char *err,
                   size_t errlen);

static int ss_open_reader(store *base, store **ret, char *err, size_t errlen) {
  store_sqlite *s = SS(base);
  int r = ss_open(s->path, s->max_state_ms, true, ret, err, errlen);
  if (r == 0) {
    SS(*ret)->slice_events = s->slice_events;
    SS(*ret)->gate = bgate_ref(s->gate);
  }
  if (r == 0 && s->reader_cache_kib > 0) {
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA cache_size=-%" PRId64 ";", s->reader_cache_kib);
    if (sqlite3_exec(SS(*ret)->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
      snprintf(err, errlen, "%s: %s", s->path, sqlite3_errmsg(SS(*ret)->db));
      ss_close(*ret);
      *ret = NULL;
      return -EIO;
    }
  }
  return r;
}

static const store_ops ss_ops = {
    .name = "sqlite",
    .begin = ss_begin,
    .apply = ss_apply,
    .in_transaction = ss_in_transaction,
    .commit = ss_commit,
    .rollback = ss_rollback,
    .list_agents = ss_list_agents,
    .ping = ss_ping,
    .stale_hours = ss_stale_hours,
    .purge = ss_purge,
    .maintain = ssm_maintain,
    .open_reader = ss_open_reader,
    .metrics = ssm_metrics,
    .id_known = ssm_id_known,
    .models = ssmod_models,
    .export_events = ssx_export,
    .id_spans = sss_id_spans,
    .registry_get = ssr_registry_get,
    .registry_put = ssr_registry_put,
    .last_error = ss_last_error,
    .close = ss_close,
};

int store_sqlite_open(const char *path, int64_t max_state_ms, store **ret, char *err, size_t errlen) {
  return ss_open(path, max_state_ms, false, ret, err, errlen);
}

int store_sqlite_set_cache(store *base, int64_t writer_bytes, int64_t reader_bytes) {
  store_sqlite *s = SS(base);
  if (writer_bytes > 0) {
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA cache_size=-%" PRId64 ";", writer_bytes / 1024);
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) return -EIO;
    s->kf.bloom_max = (size_t)(writer_bytes / 4); /* the random keys' filter follows the cache */
  }
  if (reader_bytes > 0) s->reader_cache_kib = reader_bytes / 1024;
  return 0;
}

void store_sqlite_set_slice(store *base, size_t events) { SS(base)->slice_events = events; }

void store_sqlite_set_build_width(store *base, unsigned n) { bgate_set_width(SS(base)->gate, n); }

void store_sqlite_build_stats(store *base, uint64_t *ret_entered, unsigned *ret_max_inside) {
  bgate_stats(SS(base)->gate, ret_entered, ret_max_inside);
}

void store_sqlite_set_hot(store *base, int64_t ms) { SS(base)->hot_ms = ms > 0 ? ms : -1; }

void store_sqlite_set_key_fold(store *base, int64_t keys) { SS(base)->kf.fold_at = keys > 0 ? keys : 0; }

/* ferry_key64(agent_id, event_id) in SQL (the version 4 migration). */
static void ss__key64_sql(sqlite3_context *c, int argc, sqlite3_value **v) {
  (void)argc;
  const char *a = (const char *)sqlite3_value_text(v[0]);
  int alen = sqlite3_value_bytes(v[0]);
  const char *e = (const char *)sqlite3_value_text(v[1]);
  int elen = sqlite3_value_bytes(v[1]);
  if (!a || !e) sqlite3_result_null(c);
  else sqlite3_result_int64(c, ss_key64(a, (size_t)alen, e, (size_t)elen));
}

/* ferry_body_pack(body, event_id, ts_ms, event_type, worker_id,
 * workstation_id, count, camera key, model key, micro) in SQL: ss_body_pack
 * (the version 7 migration; a NULL event_id keeps the body whole). */
static void ss__pack_sql(sqlite3_context *c, int argc, sqlite3_value **v) {
  (void)argc;
  const char *body = (const char *)sqlite3_value_text(v[0]);
  int blen = sqlite3_value_bytes(v[0]);
  if (!body) {
    sqlite3_result_null(c);
    return;
  }
  const char *cam = (const char *)sqlite3_value_text(v[7]), *mv = (const char *)sqlite3_value_text(v[8]);
  ss_body_cols cols = {.event_id = (const char *)sqlite3_value_text(v[1]),
                       .ts_ms = sqlite3_value_int64(v[2]),
                       .event_type = (const char *)sqlite3_value_text(v[3]),
                       .worker_id = (const char *)sqlite3_value_text(v[4]),
                       .workstation_id = (const char *)sqlite3_value_text(v[5]),
                       .count = sqlite3_value_int64(v[6]),
                       .camera_id = cam ? models_key_id(cam) : NULL,
                       .model_version = mv ? models_key_id(mv) : NULL,
                       .has_micro = sqlite3_value_type(v[9]) != SQLITE_NULL,
                       .micro = sqlite3_value_int64(v[9])};
  strbuf b;
  sb_init(&b, (size_t)blen + 16);
  if (!cols.event_id) sb_add(&b, body, (size_t)blen);
  else ss_body_pack(&b, body, (size_t)blen, &cols);
  if (b.err) sqlite3_result_error_nomem(c);
  else sqlite3_result_blob(c, b.p ? b.p : "", (int)b.len, SQLITE_TRANSIENT);
  sb_clear(&b);
}

static int ss_open(const char *path, int64_t max_state_ms, bool reader, store **ret, char *err,
                   size_t errlen) {
  store_sqlite *s = calloc(1, sizeof(*s));
  if (!s) return -ENOMEM;
  s->base.ops = &ss_ops;
  s->reader = reader;
  s->max_state_ms = max_state_ms;
  sb_init(&s->body, (size_t)1 << 20);
  stm_init(&s->memo);
  s->path = strdup(path);
  if (!s->path) {
    free(s);
    return -ENOMEM;
  }
  int rc = sqlite3_open_v2(path, &s->db,
                           (reader ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                               SQLITE_OPEN_NOMUTEX,
                           NULL);
  int r = 0;
  if (rc != SQLITE_OK) {
    snprintf(err, errlen, "open %s: %s", path, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
    r = -EIO;
    goto fail;
  }
  sqlite3_busy_timeout(s->db, 5000);
  if (ssmod_register(s->db) < 0) {
    snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(s->db));
    r = -EIO;
    goto fail;
  }
  sqlite3_extended_result_codes(s->db, 1);
  if (sqlite3_exec(s->db, reader ? "PRAGMA query_only=1; PRAGMA cache_size=-8192;" : ss_pragmas, NULL, NULL,
                   NULL) != SQLITE_OK) {
    snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(s->db));
    r = -EIO;
    goto fail;
  }
  if (!reader && (sqlite3_create_function(s->db, "ferry_key64", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                                          ss__key64_sql, NULL, NULL) != SQLITE_OK ||
                  sqlite3_create_function(s->db, "ferry_body_pack", 10, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                          NULL, ss__pack_sql, NULL, NULL) != SQLITE_OK)) {
    snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(s->db));
    r = -EIO;
    goto fail;
  }
  sqlite3_stmt *v = NULL;
  int version = -1;
  if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &v, NULL) == SQLITE_OK &&
      sqlite3_step(v) == SQLITE_ROW)
    version = sqlite3_column_int(v, 0);
  sqlite3_finalize(v);
  if (version < 0) {
    snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(s->db));
    r = -EIO;
    goto fail;
  }
  if (version > SS_SCHEMA_VERSION) {
    snprintf(err, errlen,
             "%s: schema version %d is newer than this collector knows (%d); refusing to touch it", path,
             version, SS_SCHEMA_VERSION);
    r = -EPROTO;
    goto fail;
  }
  if (reader && version != SS_SCHEMA_VERSION) {
    snprintf(err, errlen, "%s: schema version %d, expected %d", path, version, SS_SCHEMA_VERSION);
    r = -EPROTO;
    goto fail;
  }
  if (version < SS_SCHEMA_VERSION) {
    char *e = NULL;
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, &e) != SQLITE_OK ||
        (version < 1 && sqlite3_exec(s->db, ss_schema_v1, NULL, NULL, &e) != SQLITE_OK) ||
        (version < 2 && sqlite3_exec(s->db, ss_schema_v2, NULL, NULL, &e) != SQLITE_OK) ||
        (version < 3 && sqlite3_exec(s->db, ss_schema_v3, NULL, NULL, &e) != SQLITE_OK) ||
        (version < 4 && sqlite3_exec(s->db, ss_schema_v4, NULL, NULL, &e) != SQLITE_OK) ||
        (version < 5 && sqlite3_exec(s->db, ss_schema_v5, NULL, NULL, &e) != SQLITE_OK) ||
        (version < 6 && sqlite3_exec(s->db, ss_schema_v6, NULL, NULL, &e) != SQLITE_OK)) {
      snprintf(err, errlen, "%s: create schema: %s", path, e ? e : sqlite3_errmsg(s->db));
      sqlite3_free(e);
      sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
      r = -EIO;
      goto fail;
    }
    /* version 6: the model rollups of the events already stored; version 7
     * then moves their ev_model rows into ev_time and packs the bodies;
     * version 8 adds ev_key_new — all in the same transaction */
    if ((version < 6 && (r = ssmod_backfill(s->db, err, errlen)) < 0) ||
        (version < 7 && sqlite3_exec(s->db, ss_schema_v7, NULL, NULL, &e) != SQLITE_OK) ||
        sqlite3_exec(s->db, ss_schema_v8, NULL, NULL, &e) != SQLITE_OK ||
        sqlite3_exec(s->db, "COMMIT", NULL, NULL, &e) != SQLITE_OK) {
      if (r == 0) snprintf(err, errlen, "%s: create schema: %s", path, e ? e : sqlite3_errmsg(s->db));
      sqlite3_free(e);
      sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
      r = r < 0 ? r : -EIO;
      goto fail;
    }
  }
  for (int i = 0; i < SS_COUNT_; i++) {
    if (sqlite3_prepare_v3(s->db, ss_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) != SQLITE_OK) {
      snprintf(err, errlen, "%s: prepare \"%.60s\": %s", path, ss_sql[i], sqlite3_errmsg(s->db));
      r = -EIO;
      goto fail;
    }
  }
  if (!reader && (r = ssm_open(s, err, errlen)) < 0) goto fail;
  if (!reader && (r = ssk_open(s)) < 0) {
    snprintf(err, errlen, "%s: %s", path, s->err);
    goto fail;
  }
  if (!reader && (r = bgate_new(uv_available_parallelism(), &s->gate)) < 0) {
    snprintf(err, errlen, "cannot create the stale-hour build gate: %s", uv_strerror(r));
    goto fail;
  }
  if (!reader && (r = ss_ckpt_start(path, s->db, &s->ckpt, err, errlen)) < 0) goto fail;
  *ret = &s->base;
  return 0;
fail:
  ss_close(&s->base);
  return r;
}

void st_result_clear(st_result *r) {
  if (!r) return;
  free(r->body);
  memset(r, 0, sizeof(*r));
}

void st_agents_free(st_agent_info *a, size_t n) {
  for (size_t i = 0; a && i < n; i++) free(a[i].epochs);
  free(a);
}
