/* store_pg: the PostgreSQL backend of store.h (libpq), for several collector
 * replicas on one database. Exactly-once rests on the database alone:
 * events are keyed by (agent_id, event_id) and inserted with ON CONFLICT DO
 * NOTHING (the first committed copy wins, whichever replica stored it); each
 * batch first upserts its agent's row, whose row lock is held to commit, so
 * batches of one agent — a retry that reached another replica while the
 * first copy is still in flight included — apply one after the other, and the
 * second finds the first's committed Idempotency-Key (unique per agent) and
 * answers as a replay. Delivery ranges are read-modify-written under that
 * same lock. Transactions are READ COMMITTED with a savepoint per batch;
 * a deadlock between replicas costs the victim batch a 503 (the agent
 * retries), never a wrong count.
 *
 * libpq calls block: the writer handle is used by the writer thread only,
 * reader handles by the metrics threads. A lost connection (PostgreSQL
 * restarting) fails the call in progress with -EIO, and the next call
 * reconnects, at most once per backoff delay (0.1 s doubling to 5 s), never
 * inside a transaction. */
#include "store_pg_conn.h"
#include "store_pg_metrics.h"
#include "store_pg_models.h"
#include "store_pg_plant.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_apply.h"
#include "timefmt.h"

/* A batch's backlog and oldest_pending_s, or two NULLs without stats. */
static void sp__p_stats(store_pg *s, const bt_batch *b) {
  if (b->has_stats) {
    sp__p_i64(s, b->backlog);
    sp__p_f64(s, b->oldest_pending_s);
  } else {
    sp__p_str(s, NULL);
    sp__p_str(s, NULL);
  }
}

/* ---- transactions -------------------------------------------------------- */

static int sp_begin(store *base) {
  store_pg *s = SP(base);
  spm_tx_end(s, false);
  s->tx_open = false;
  int r = sp__sql(s, "BEGIN", "begin");
  s->tx_open = r == 0;
  return r;
}

static bool sp_in_transaction(store *base) {
  store_pg *s = SP(base);
  if (!s->tx_open || !sp__conn_ok(s)) return false;
  PGTransactionStatusType t = PQtransactionStatus(s->conn);
  return t == PQTRANS_INTRANS || t == PQTRANS_INERROR;
}

static int sp_commit(store *base) {
  store_pg *s = SP(base);
  int r = sp__sql(s, "COMMIT", "commit");
  s->tx_open = false;
  spm_tx_end(s, r == 0);
  return r;
}

static void sp_rollback(store *base) {
  store_pg *s = SP(base);
  if (sp__conn_ok(s) && PQtransactionStatus(s->conn) != PQTRANS_IDLE) PQclear(PQexec(s->conn, "ROLLBACK"));
  s->tx_open = false;
  spm_tx_end(s, false);
}

static const char *sp_last_error(store *base) { return SP(base)->err; }

static int sp_ping(store *base) {
  store_pg *s = SP(base);
  sp__p_begin(s);
  return sp__exec(s, SP_PING, "ping");
}

static int sp_stale_hours(store *base, int64_t *ret_n) {
  store_pg *s = SP(base);
  int r = 0;
  sp__p_begin(s);
  PGresult *res = sp__run(s, SP_DIRTY_COUNT, "count stale hours", &r);
  if (!res) return r;
  *ret_n = sp__i64(res, 0, 0);
  PQclear(res);
  return 0;
}

static int sp_purge(store *base, int64_t before_ms) {
  store_pg *s = SP(base);
  sp__p_begin(s);
  sp__p_i64(s, before_ms);
  return sp__exec(s, SP_IDEM_PURGE, "purge idempotency keys");
}

/* ---- ingest ---------------------------------------------------------------- */

/* Merge a set into the stored ranges of (agent, epoch); the agent's row lock
 * is held, so nobody else rewrites them meanwhile. */
static int sp__merge(store_pg *s, bool dropped, const char *agent, const char *epoch, const dlv_set *add) {
  if (add->n == 0) return 0;
  int64_t lo = add->r[0].from - 1, hi = add->r[add->n - 1].to + 1;
  dlv_set set;
  dlv_set_init(&set);
  int r = 0;
  sp__p_begin(s);
  sp__p_str(s, agent);
  sp__p_str(s, epoch);
  sp__p_i64(s, lo);
  sp__p_i64(s, hi);
  PGresult *res = sp__run(s, dropped ? SP_DROP_WINDOW : SP_RECV_WINDOW, "load seq ranges", &r);
  for (int i = 0; res && r == 0 && i < PQntuples(res); i++)
    r = dlv_set_add(&set, sp__i64(res, i, 0), sp__i64(res, i, 1));
  PQclear(res);
  if (r == -EINVAL) {
    snprintf(s->err, sizeof(s->err), "corrupt seq range in the database");
    r = -EIO;
  }
  for (size_t i = 0; r == 0 && i < add->n; i++) r = dlv_set_add(&set, add->r[i].from, add->r[i].to);
  if (r == -E2BIG || r == -ENOMEM) snprintf(s->err, sizeof(s->err), "seq range set too large");
  if (r == 0) r = sp__exec(s, dropped ? SP_DROP_DELETE : SP_RECV_DELETE, "delete seq ranges");
  if (r == 0) {
    sp_buf *f = &s->arr[0], *t = &s->arr[1];
    sp_buf_reset(f);
    sp_buf_reset(t);
    for (size_t i = 0; i < set.n; i++) {
      sp_buf_i64(f, set.r[i].from);
      sp_buf_i64(t, set.r[i].to);
    }
    const char *fa = sp_buf_end(f), *ta = sp_buf_end(t);
    if (!fa || !ta) {
      snprintf(s->err, sizeof(s->err), "out of memory");
      r = -ENOMEM;
    } else {
      sp__p_begin(s);
      sp__p_str(s, agent);
      sp__p_str(s, epoch);
      sp__p_str(s, fa);
      sp__p_str(s, ta);
      r = sp__exec(s, dropped ? SP_DROP_INSERT : SP_RECV_INSERT, "insert seq ranges");
    }
  }
  dlv_set_clear(&set);
  return r;
}

typedef struct sp_hash {
  const char *id;
  int64_t h;
} sp_hash;

static int sp__hash_cmp(const void *a, const void *b) {
  return strcmp(((const sp_hash *)a)->id, ((const sp_hash *)b)->id);
}

/* Insert the batch's valid events in one statement; count accepted,
 * duplicates and conflicts (a duplicate whose stored content differs). */
static int sp__events(void *ctx, const st_ingest *in, st_result *ret) {
  store_pg *s = ctx;
  const bt_batch *b = in->batch;
  if (bt_valid_count(b) == 0) return 0;
  enum { A_ID, A_SEQ, A_TS, A_TYPE, A_WK, A_ST, A_CNT, A_BODY, A_HASH, A_N };
  for (int k = 0; k < A_N; k++) sp_buf_reset(&s->arr[k]);
  for (size_t i = 0; i < b->n; i++) {
    const bt_event *e = &b->events[i];
    if (!e->valid) continue;
    sp_buf_str(&s->arr[A_ID], e->ev.event_id, strlen(e->ev.event_id));
    sp_buf_i64(&s->arr[A_SEQ], e->seq);
    sp_buf_i64(&s->arr[A_TS], e->ev.ts_ms);
    const char *tn = ev_type_name(e->ev.type);
    sp_buf_str(&s->arr[A_TYPE], tn, strlen(tn));
    sp_buf_str(&s->arr[A_WK], e->ev.worker_id, e->ev.worker_id ? strlen(e->ev.worker_id) : 0);
    sp_buf_str(&s->arr[A_ST], e->ev.workstation_id, strlen(e->ev.workstation_id));
    sp_buf_i64(&s->arr[A_CNT], e->ev.count);
    sp_buf_str(&s->arr[A_BODY], e->ev.json, e->ev.json_len);
    sp_buf_i64(&s->arr[A_HASH], (int64_t)e->content_hash);
  }
  sp__p_begin(s);
  sp__p_str(s, b->agent_id);
  sp__p_str(s, b->epoch);
  sp__p_i64(s, in->received_at_ms);
  for (int k = 0; k < A_N; k++) {
    const char *a = sp_buf_end(&s->arr[k]);
    if (!a) {
      snprintf(s->err, sizeof(s->err), "out of memory");
      return -ENOMEM;
    }
    sp__p_str(s, a);
  }
  sp__p_str(s, b->site);
  int r = 0;
  PGresult *res = sp__run(s, SP_EVENTS_INSERT, "insert events", &r);
  if (!res) return r;
  strset inserted, seen;
  strset_init(&inserted, SIZE_MAX);
  strset_init(&seen, SIZE_MAX);
  for (int i = 0; r == 0 && i < PQntuples(res); i++)
    r = strset_add(&inserted, PQgetvalue(res, i, 0)) < 0 ? -ENOMEM : 0;
  PQclear(res);
  sp_buf *dups = &s->arr[0];
  sp_buf_reset(dups);
  size_t n_dups = 0;
  for (size_t i = 0; r == 0 && i < b->n; i++) {
    const bt_event *e = &b->events[i];
    if (!e->valid) continue;
    int first = strset_add(&seen, e->ev.event_id);
    if (first < 0) {
      r = -ENOMEM;
      break;
    }
    if (first == 1 && strset_has(&inserted, e->ev.event_id)) {
      ret->accepted++;
      r = spm_note_event(s, &e->ev);
      continue;
    }
    ret->duplicates++;
    sp_buf_str(dups, e->ev.event_id, strlen(e->ev.event_id));
    n_dups++;
  }
  if (r == 0 && n_dups) {
    const char *ids = sp_buf_end(dups);
    if (!ids) r = -ENOMEM;
    sp__p_begin(s);
    sp__p_str(s, b->agent_id);
    sp__p_str(s, ids);
    res = r == 0 ? sp__run(s, SP_EVENTS_HASH, "read stored copies", &r) : NULL;
    int n = res ? PQntuples(res) : 0;
    sp_hash *hs = n ? malloc((size_t)n * sizeof(*hs)) : NULL;
    if (n && !hs) r = -ENOMEM;
    for (int i = 0; hs && i < n; i++) hs[i] = (sp_hash){PQgetvalue(res, i, 0), sp__i64(res, i, 1)};
    if (hs) qsort(hs, (size_t)n, sizeof(*hs), sp__hash_cmp);
    /* each duplicate (not the first copy inside this batch) against the stored copy */
    strset_reset(&seen);
    for (size_t i = 0; r == 0 && hs && i < b->n; i++) {
      const bt_event *e = &b->events[i];
      if (!e->valid) continue;
      int first = strset_add(&seen, e->ev.event_id);
      if (first == 1 && strset_has(&inserted, e->ev.event_id)) continue;
      sp_hash key = {e->ev.event_id, 0};
      const sp_hash *f = bsearch(&key, hs, (size_t)n, sizeof(*hs), sp__hash_cmp);
      if (f && f->h != (int64_t)e->content_hash) ret->conflicts++;
    }
    free(hs);
    PQclear(res);
  }
  strset_clear(&inserted);
  strset_clear(&seen);
  if (r == -ENOMEM) snprintf(s->err, sizeof(s->err), "out of memory");
  if (r == 0) r = spm_flush(s);
  return r;
}

/* The agent's row lock first (see the top of the file), then the epoch's
 * row, which answers its high seq. */
static int sp__touch(void *ctx, const st_ingest *in, int64_t *ret_high) {
  store_pg *s = ctx;
  const bt_batch *b = in->batch;
  sp__p_begin(s);
  sp__p_str(s, b->agent_id);
  sp__p_i64(s, in->received_at_ms);
  sp__p_str(s, in->version);
  if (b->has_sent_at) sp__p_f64(s, (double)(in->received_at_ms - b->sent_at_ms) / 1000.0);
  else sp__p_str(s, NULL);
  sp__p_stats(s, b);
  int r = sp__exec(s, SP_AGENT_UPSERT, "update agent");
  if (r < 0) return r;

  sp__p_begin(s);
  sp__p_str(s, b->agent_id);
  sp__p_str(s, b->epoch);
  sp__p_i64(s, in->received_at_ms);
  sp__p_stats(s, b);
  PGresult *res = sp__run(s, SP_EPOCH_UPSERT, "update epoch", &r);
  if (!res) return r;
  *ret_high = PQntuples(res) ? sp__i64(res, 0, 0) : 0;
  PQclear(res);
  return 0;
}

static int sp__idem_get(void *ctx, const char *agent, const char *key, char **ret_hash, char **ret_answer) {
  store_pg *s = ctx;
  int r = 0;
  sp__p_begin(s);
  sp__p_str(s, agent);
  sp__p_str(s, key);
  PGresult *res = sp__run(s, SP_IDEM_GET, "look up idempotency key", &r);
  if (!res) return r;
  if (PQntuples(res) > 0) {
    *ret_hash = strdup(PQgetvalue(res, 0, 0));
    *ret_answer = PQgetisnull(res, 0, 1) ? NULL : strdup(PQgetvalue(res, 0, 1));
    if (!*ret_hash || (!*ret_answer && !PQgetisnull(res, 0, 1))) {
      snprintf(s->err, sizeof(s->err), "out of memory");
      r = -ENOMEM;
    }
  }
  PQclear(res);
  return r;
}

static int sp__merge_cb(void *ctx, bool dropped, const char *agent, const char *epoch, const dlv_set *add) {
  return sp__merge(ctx, dropped, agent, epoch, add);
}

static int sp__add_conflicts(void *ctx, const char *agent, int64_t n) {
  store_pg *s = ctx;
  sp__p_begin(s);
  sp__p_str(s, agent);
  sp__p_i64(s, n);
  return sp__exec(s, SP_AGENT_CONFLICTS, "count conflicts");
}

static int sp__idem_put(void *ctx, const st_ingest *in, const char *key, const char *answer) {
  store_pg *s = ctx;
  sp__p_begin(s);
  sp__p_str(s, in->batch->agent_id);
  sp__p_str(s, key);
  sp__p_str(s, in->batch->events_hash);
  sp__p_str(s, answer);
  sp__p_i64(s, in->received_at_ms);
  return sp__exec(s, SP_IDEM_PUT, "store idempotency key");
}

static int sp__set_high(void *ctx, const char *agent, const char *epoch, int64_t high) {
  store_pg *s = ctx;
  sp__p_begin(s);
  sp__p_str(s, agent);
  sp__p_str(s, epoch);
  sp__p_i64(s, high);
  return sp__exec(s, SP_EPOCH_SET_HIGH, "update high_seq");
}

static int sp__apply(store_pg *s, const st_ingest *in, st_result *ret) {
  const sa_backend be = {
      .ctx = s,
      .err = s->err,
      .errlen = sizeof(s->err),
      .touch = sp__touch,
      .idem_get = sp__idem_get,
      .events = sp__events,
      .merge = sp__merge_cb,
      .add_conflicts = sp__add_conflicts,
      .idem_put = sp__idem_put,
      .set_high = sp__set_high,
  };
  return sa_apply(&be, in, ret);
}

static int sp_apply(store *base, const st_ingest *in, st_result *ret) {
  store_pg *s = SP(base);
  memset(ret, 0, sizeof(*ret));
  int r = sp__sql(s, "SAVEPOINT b", "savepoint");
  if (r < 0) return r;
  r = sp__apply(s, in, ret);
  if (r == 0 && ret->status == 200)
    return sp__sql(s, "RELEASE b", "release") < 0 ? (st_result_clear(ret), -EIO) : 0;
  /* a client error or a failure: keep nothing of this batch */
  char keep[sizeof(s->err)];
  memcpy(keep, s->err, sizeof(keep));
  if (sp_in_transaction(base)) {
    (void)sp__sql(s, "ROLLBACK TO b", "rollback to savepoint");
    (void)sp__sql(s, "RELEASE b", "release");
  }
  spm_tx_end(s, false);
  memcpy(s->err, keep, sizeof(keep));
  if (r == -EBUSY)
    snprintf(s->err, sizeof(s->err),
             "a concurrent upload of agent %.64s on another replica won a lock "
             "conflict; the agent retries",
             in->batch->agent_id);
  if (r < 0) st_result_clear(ret);
  else {
    free(ret->body);
    ret->body = NULL;
  }
  return r;
}

/* ---- /v1/agents ------------------------------------------------------------ */

typedef struct sp_ep_ref {
  const char *agent, *epoch;
  size_t idx; /* into the flat epoch list */
} sp_ep_ref;

static int sp__ref_cmp(const void *a, const void *b) {
  const sp_ep_ref *x = a, *y = b;
  int c = strcmp(x->agent, y->agent);
  return c ? c : strcmp(x->epoch, y->epoch);
}

/* Add rows (agent, epoch, from, to) to their epoch's set. */
static int sp__load_all_ranges(store_pg *s, int which, const sp_ep_ref *refs, size_t n, dlv_set *sets) {
  int r = 0;
  sp__p_begin(s);
  PGresult *res = sp__run(s, which, "load seq ranges", &r);
  for (int i = 0; res && r == 0 && i < PQntuples(res); i++) {
    sp_ep_ref key = {PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), 0};
    const sp_ep_ref *f = bsearch(&key, refs, n, sizeof(*refs), sp__ref_cmp);
    if (f) r = dlv_set_add(&sets[f->idx], sp__i64(res, i, 2), sp__i64(res, i, 3));
  }
  PQclear(res);
  if (r == -EINVAL) {
    snprintf(s->err, sizeof(s->err), "corrupt seq range in the database");
    r = -EIO;
  } else if (r == -ENOMEM || r == -E2BIG) {
    snprintf(s->err, sizeof(s->err), "out of memory loading seq ranges");
  }
  return r;
}

static int sp_list_agents(store *base, st_agent_info **ret, size_t *ret_n) {
  store_pg *s = SP(base);
  int r = 0;
  st_agent_info *list = NULL;
  size_t n = 0;
  PGresult *ra = NULL, *re = NULL;
  sp_ep_ref *refs = NULL;
  dlv_set *recv = NULL, *drop = NULL;
  size_t ne = 0;
  /* one snapshot for the four reads */
  bool own_tx = !s->tx_open;
  if (own_tx && (r = sp__sql(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "begin read")) < 0)
    return r;
  sp__p_begin(s);
  ra = sp__run(s, SP_AGENTS_LIST, "list agents", &r);
  if (ra) re = sp__run(s, SP_EPOCHS_ALL, "list epochs", &r);
  if (!ra || !re) goto out;
  n = (size_t)PQntuples(ra);
  ne = (size_t)PQntuples(re);
  list = calloc(n ? n : 1, sizeof(*list));
  refs = calloc(ne ? ne : 1, sizeof(*refs));
  recv = calloc(ne ? ne : 1, sizeof(*recv));
  drop = calloc(ne ? ne : 1, sizeof(*drop));
  if (!list || !refs || !recv || !drop) {
    r = -ENOMEM;
    snprintf(s->err, sizeof(s->err), "out of memory listing agents");
    goto out;
  }
  for (size_t i = 0; i < ne; i++) {
    refs[i] = (sp_ep_ref){PQgetvalue(re, (int)i, 0), PQgetvalue(re, (int)i, 1), i};
    dlv_set_init(&recv[i]);
    dlv_set_init(&drop[i]);
  }
  qsort(refs, ne, sizeof(*refs), sp__ref_cmp);
  r = sp__load_all_ranges(s, SP_RECV_ALL, refs, ne, recv);
  if (r == 0) r = sp__load_all_ranges(s, SP_DROP_ALL, refs, ne, drop);
  if (r < 0) goto out;
  size_t k = 0; /* epochs are ordered by agent_id, like the agents */
  for (size_t i = 0; r == 0 && i < n; i++) {
    st_agent_info *a = &list[i];
    int row = (int)i;
    snprintf(a->agent_id, sizeof(a->agent_id), "%s", PQgetvalue(ra, row, 0));
    a->last_seen = sp__i64(ra, row, 1);
    if (!PQgetisnull(ra, row, 2)) snprintf(a->version, sizeof(a->version), "%s", PQgetvalue(ra, row, 2));
    a->has_skew = !PQgetisnull(ra, row, 3);
    a->clock_skew_s = a->has_skew ? strtod(PQgetvalue(ra, row, 3), NULL) : 0;
    a->has_stats = !PQgetisnull(ra, row, 4);
    a->backlog = sp__i64(ra, row, 4);
    a->oldest_pending_s = PQgetisnull(ra, row, 5) ? 0 : strtod(PQgetvalue(ra, row, 5), NULL);
    a->conflicts = sp__i64(ra, row, 6);
    while (k < ne && strcmp(PQgetvalue(re, (int)k, 0), a->agent_id) < 0) k++;
    size_t k0 = k;
    while (k < ne && strcmp(PQgetvalue(re, (int)k, 0), a->agent_id) == 0) k++;
    if (k == k0) continue;
    a->epochs = calloc(k - k0, sizeof(*a->epochs));
    if (!a->epochs) {
      r = -ENOMEM;
      snprintf(s->err, sizeof(s->err), "out of memory listing agents");
      break;
    }
    for (size_t j = k0; j < k; j++) {
      st_epoch_info *e = &a->epochs[a->n_epochs++];
      snprintf(e->epoch, sizeof(e->epoch), "%s", PQgetvalue(re, (int)j, 1));
      e->first_seen = sp__i64(re, (int)j, 2);
      e->last_seen = sp__i64(re, (int)j, 3);
      dlv_figures_compute(&recv[j], &drop[j], sp__i64(re, (int)j, 4), &e->fig);
    }
    a->latest = a->n_epochs - 1; /* ordered by first contact */
  }
out:
  for (size_t i = 0; recv && drop && i < ne; i++) {
    dlv_set_clear(&recv[i]);
    dlv_set_clear(&drop[i]);
  }
  free(recv);
  free(drop);
  free(refs);
  PQclear(ra);
  PQclear(re);
  if (own_tx && sp__conn_ok(s) && PQtransactionStatus(s->conn) != PQTRANS_IDLE)
    PQclear(PQexec(s->conn, "COMMIT"));
  if (r < 0) {
    st_agents_free(list, n);
    return r;
  }
  *ret = list;
  *ret_n = n;
  return 0;
}

/* ---- open, schema, close ----------------------------------------------- */

static void sp_close(store *base) {
  store_pg *s = SP(base);
  if (!s) return;
  if (s->conn) PQfinish(s->conn);
  spm_close(s);
  spmod_close(s);
  for (int i = 0; i < SP_NBUF; i++) sp_buf_clear(&s->arr[i]);
  free(s->conninfo);
  free(s);
}

/* Create or upgrade the schema: one transaction, one replica at a time. */
static int sp__migrate(store_pg *s, char *err, size_t errlen) {
  char lock[96];
  snprintf(lock, sizeof(lock), "SELECT pg_advisory_xact_lock(%d, 0)", SP_LOCK_NS_MIGRATE);
  int r = sp__sql(s, "BEGIN", "begin");
  if (r == 0) r = sp__sql(s, lock, "lock the schema");
  if (r == 0) r = sp__sql(s, sp_version_table, "create schema_version");
  int version = 0;
  if (r == 0) {
    PGresult *res = PQexec(s->conn, "SELECT max(version) FROM schema_version");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) r = sp__fail(s, "read schema_version", res);
    else if (!PQgetisnull(res, 0, 0)) version = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
  }
  if (r == 0 && version > SP_SCHEMA_VERSION) {
    snprintf(err, errlen, "schema version %d is newer than this collector knows (%d); refusing to touch it",
             version, SP_SCHEMA_VERSION);
    PQclear(PQexec(s->conn, "ROLLBACK"));
    return -EPROTO;
  }
  if (r == 0 && version < 1) r = sp__sql(s, sp_schema_v1, "create schema v1");
  if (r == 0 && version < 2) r = sp__sql(s, sp_schema_v2, "migrate to schema v2");
  if (r == 0 && version < 3) r = sp__sql(s, sp_schema_v3, "migrate to schema v3");
  if (r == 0 && version < 4) r = sp__sql(s, sp_schema_v4, "migrate to schema v4");
  if (r == 0 && version < 4) r = spmod_backfill(s);
  /* version 5 changes no table: the model rows move from ingest to the upkeep
   * (store_pg_models.c), and the rows version 4 wrote are complete */
  if (r == 0 && version < SP_SCHEMA_VERSION) {
    char up[128];
    snprintf(up, sizeof(up), "DELETE FROM schema_version; INSERT INTO schema_version VALUES(%d)",
             SP_SCHEMA_VERSION);
    r = sp__sql(s, up, "record schema_version");
  }
  if (r == 0) r = sp__sql(s, "COMMIT", "commit schema");
  if (r < 0) {
    snprintf(err, errlen, "%s", s->err);
    if (sp__conn_ok(s)) PQclear(PQexec(s->conn, "ROLLBACK"));
  }
  return r;
}

static int sp__check_version(store_pg *s, char *err, size_t errlen) {
  PGresult *res = PQexec(s->conn, "SELECT max(version) FROM schema_version");
  int version =
      PQresultStatus(res) == PGRES_TUPLES_OK && !PQgetisnull(res, 0, 0) ? atoi(PQgetvalue(res, 0, 0)) : -1;
  PQclear(res);
  if (version == SP_SCHEMA_VERSION) return 0;
  snprintf(err, errlen, "schema version %d, expected %d", version, SP_SCHEMA_VERSION);
  return -EPROTO;
}

static int sp_open(const char *conninfo, int64_t max_state_ms, bool reader, store **ret, char *err,
                   size_t errlen);

static int sp_open_reader(store *base, store **ret, char *err, size_t errlen) {
  store_pg *s = SP(base);
  int r = sp_open(s->conninfo, s->max_state_ms, true, ret, err, errlen);
  if (r == 0) SP(*ret)->slice_events = s->slice_events;
  return r;
}

void store_pg_set_slice(store *base, size_t events) { SP(base)->slice_events = events; }

static const store_ops sp_ops = {
    .name = "postgres",
    .begin = sp_begin,
    .apply = sp_apply,
    .in_transaction = sp_in_transaction,
    .commit = sp_commit,
    .rollback = sp_rollback,
    .list_agents = sp_list_agents,
    .ping = sp_ping,
    .stale_hours = sp_stale_hours,
    .purge = sp_purge,
    .maintain = spm_maintain,
    .open_reader = sp_open_reader,
    .metrics = spm_metrics,
    .id_known = spm_id_known,
    .models = spmod_models,
    .export_events = spx_export,
    .id_spans = sps_id_spans,
    .registry_get = spr_registry_get,
    .registry_put = spr_registry_put,
    .last_error = sp_last_error,
    .close = sp_close,
};

int store_pg_open(const char *conninfo, int64_t max_state_ms, store **ret, char *err, size_t errlen) {
  return sp_open(conninfo, max_state_ms, false, ret, err, errlen);
}

static int sp_open(const char *conninfo, int64_t max_state_ms, bool reader, store **ret, char *err,
                   size_t errlen) {
  store_pg *s = calloc(1, sizeof(*s));
  if (!s) return -ENOMEM;
  s->base.ops = &sp_ops;
  s->reader = reader;
  s->max_state_ms = max_state_ms;
  s->delay_ms = SP_RETRY_MIN_MS;
  stm_init(&s->memo);
  s->conninfo = strdup(conninfo);
  if (!s->conninfo) {
    free(s);
    return -ENOMEM;
  }
  int r = 0;
  s->conn = sp__connect(conninfo);
  if (!sp__conn_ok(s)) {
    sp__msg(s, "connect", s->conn ? PQerrorMessage(s->conn) : "out of memory");
    snprintf(err, errlen, "%s", s->err);
    r = -EIO;
    goto fail;
  }
  r = reader ? sp__check_version(s, err, errlen) : sp__migrate(s, err, errlen);
  if (r < 0) goto fail;
  s->schema_ready = true;
  if ((r = sp__prepare(s)) < 0) {
    snprintf(err, errlen, "%s", s->err);
    goto fail;
  }
  if (!reader && (r = spm_open(s, err, errlen)) < 0) goto fail;
  *ret = &s->base;
  return 0;
fail:
  sp_close(&s->base);
  return r;
}
