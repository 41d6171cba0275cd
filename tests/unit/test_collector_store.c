/* test_collector_store: a store through its interface — a batch stored, its
 * replay answered as duplicates, its key reused with other events refused
 * (422), conflicting copies counted, delivery figures after out-of-order
 * batches in two epochs, all of it surviving a reopen, and two handles (two
 * replicas) applying the same batch at once storing it once. Runs against
 * SQLite, and against PostgreSQL too when FERRY_TEST_PG_URL is set (on a
 * fresh database it creates and drops). */
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_harness.h"
#include "batch.h"
#include "check.h"
#include "store.h"

#define EP1    "00000000000000e1"
#define EP2    "00000000000000e2"
#define NOW_MS 1772352000000LL /* 2026-03-01T08:00:00Z: a fixed clock, no waiting */

static const bt_limits lim = {NOW_MS, 300, 0};

/* A batch of agent a1 with events seqs[0..n) (event ids "id<seq>" unless ids
 * given), worker w, and optional dropped JSON. */
static char *make_body(const char *epoch, const int64_t *seqs, size_t n, const char *const *ids,
                       const char *worker, const char *dropped) {
  size_t cap = 512 + n * 300 + (dropped ? strlen(dropped) : 0);
  char *b = malloc(cap);
  size_t o = (size_t)snprintf(b, cap, "{\"agent_id\":\"a1\",\"epoch\":\"%s\",\"events\":[", epoch);
  for (size_t i = 0; i < n; i++) {
    char id[64];
    if (ids) snprintf(id, sizeof(id), "%s", ids[i]);
    else snprintf(id, sizeof(id), "id%" PRId64, seqs[i]);
    o += (size_t)snprintf(b + o, cap - o,
                          "%s{\"event_id\":\"%s\",\"timestamp\":\"2026-03-01T07:00:00Z\","
                          "\"event_type\":\"working\",\"worker_id\":\"%s\",\"workstation_id\":\"s1\","
                          "\"seq\":%" PRId64 ",\"ingested_at\":\"2026-03-01T07:00:01Z\"}",
                          i ? "," : "", id, worker, seqs[i]);
  }
  snprintf(b + o, cap - o,
           "],\"dropped\":%s,\"stats\":{\"backlog\":3,\"oldest_pending_s\":2},"
           "\"sent_at\":\"2026-03-01T07:59:58Z\"}",
           dropped ? dropped : "[]");
  return b;
}

/* Parse body and apply it in its own transaction. Returns the apply result. */
static int ingest(store *s, const char *body, st_result *res) {
  return sh_ingest(s, body, &lim, NOW_MS, res);
}

static const st_epoch_info *find_epoch(const st_agent_info *a, const char *ep) {
  for (size_t i = 0; i < a->n_epochs; i++)
    if (strcmp(a->epochs[i].epoch, ep) == 0) return &a->epochs[i];
  return NULL;
}

static void check_figures(store *s) {
  st_agent_info *ag = NULL;
  size_t n = 0;
  CHECK_EQ_INT(s->ops->list_agents(s, &ag, &n), 0);
  CHECK_EQ_INT(n, 1);
  if (n != 1) return;
  CHECK_EQ_STR(ag[0].agent_id, "a1");
  CHECK_EQ_STR(ag[0].version, "1.2.3");
  CHECK_EQ_INT(ag[0].n_epochs, 2);
  CHECK_EQ_INT(ag[0].conflicts, 1);
  CHECK(ag[0].has_skew);
  CHECK_EQ_INT((int64_t)(ag[0].clock_skew_s * 1000), 2000);
  CHECK_EQ_INT(ag[0].backlog, 3);
  const st_epoch_info *e1 = find_epoch(&ag[0], EP1), *e2 = find_epoch(&ag[0], EP2);
  CHECK(e1 && e2);
  if (e1 && e2) {
    /* epoch 1: received 1,2,3,6,7; 4 (rejected) and 5 declared dropped; 9 rejected but seen */
    CHECK_EQ_INT(e1->fig.received, 5);
    CHECK_EQ_INT(e1->fig.dropped, 2);
    CHECK_EQ_INT(e1->fig.high_seq, 9);
    CHECK_EQ_INT(e1->fig.missing, 2); /* 8, 9 */
    CHECK_EQ_INT(e1->fig.contiguous_seq, 7);
    CHECK_EQ_INT(e2->fig.received, 2);
    CHECK_EQ_INT(e2->fig.dropped, 1);
    CHECK_EQ_INT(e2->fig.high_seq, 3);
    CHECK_EQ_INT(e2->fig.missing, 0);
    CHECK_EQ_INT(e2->fig.contiguous_seq, 3);             /* 1, 3 received, 2 dropped (declared by a replay) */
    CHECK_EQ_STR(ag[0].epochs[ag[0].latest].epoch, EP2); /* latest first contact */
  }
  st_agents_free(ag, n);
}

typedef int (*open_fn)(const char *where, int64_t max_state_ms, store **ret, char *err, size_t errlen);

typedef struct racer {
  store *s;
  const char *body;
  st_result res;
  int r;
} racer;

static void *race(void *arg) {
  racer *c = arg;
  c->r = ingest(c->s, c->body, &c->res);
  return NULL;
}

/* Two handles on one database apply the same batch at the same time: one
 * stores it, the other answers a replay (whichever wins). */
static void check_two_writers(open_fn open, const char *where) {
  char err[300];
  store *a = NULL, *b = NULL;
  CHECK_EQ_INT(open(where, 600000, &a, err, sizeof(err)), 0);
  CHECK_EQ_INT(open(where, 600000, &b, err, sizeof(err)), 0);
  if (!a || !b) return;
  int64_t seqs[] = {20, 21, 22};
  char *body = make_body(EP1, seqs, 3, NULL, "w3", NULL);
  racer ra = {a, body, {0}, 0}, rb = {b, body, {0}, 0};
  pthread_t ta, tb;
  CHECK_EQ_INT(pthread_create(&ta, NULL, race, &ra), 0);
  CHECK_EQ_INT(pthread_create(&tb, NULL, race, &rb), 0);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  CHECK_EQ_INT(ra.r, 0);
  CHECK_EQ_INT(rb.r, 0);
  CHECK_EQ_INT(ra.res.status, 200);
  CHECK_EQ_INT(rb.res.status, 200);
  CHECK_EQ_INT(ra.res.accepted + rb.res.accepted, 3);
  CHECK_EQ_INT((int)ra.res.replay + (int)rb.res.replay, 1);
  CHECK_EQ_INT(ra.res.duplicates + rb.res.duplicates, 3);
  st_result_clear(&ra.res);
  st_result_clear(&rb.res);
  free(body);
  a->ops->close(a);
  b->ops->close(b);
}

static void scenario(open_fn open, const char *where) {
  store *s = NULL;
  char err[300];
  CHECK_EQ_INT(open(where, 600000, &s, err, sizeof(err)), 0);
  if (!s) {
    fprintf(stderr, "open %s: %s\n", where, err);
    return;
  }
  st_result res;

  /* epoch 1, out of order: 6,7 first, then 1,2,3 + an invalid 4 (9 = a future ts rejected) */
  int64_t s67[] = {6, 7};
  char *b = make_body(EP1, s67, 2, NULL, "w1", NULL);
  CHECK_EQ_INT(ingest(s, b, &res), 0);
  CHECK_EQ_INT(res.status, 200);
  CHECK_EQ_INT(res.accepted, 2);
  st_result_clear(&res);
  free(b);

  int64_t s1239[] = {1, 2, 3, 4, 9};
  b = make_body(EP1, s1239, 5, NULL, "w1", NULL);
  char *p = strstr(b, "\"seq\":4"); /* break event 4: empty worker_id */
  CHECK(p != NULL);
  char *bw = strstr(b, "\"worker_id\":\"w1\",\"workstation_id\":\"s1\",\"seq\":4");
  if (bw) memcpy(bw, "\"worker_id\":\"\"  ", 16);
  char *ts9 = strstr(b, "2026-03-01T07:00:00Z\",\"event_type\":\"working\",\"worker_id\":\"w1\","
                        "\"workstation_id\":\"s1\",\"seq\":9");
  if (ts9) memcpy(ts9, "2027", 4);
  CHECK(bw && ts9);
  CHECK_EQ_INT(ingest(s, b, &res), 0);
  CHECK_EQ_INT(res.status, 200);
  CHECK_EQ_INT(res.accepted, 3);
  CHECK_EQ_INT(res.duplicates, 0);
  CHECK(res.body && strstr(res.body, "\"seq\":4,\"error\":\"invalid_event: worker_id") != NULL);
  CHECK(res.body && strstr(res.body, "{\"seq\":9,\"error\":\"timestamp_out_of_range\"}") != NULL);
  st_result_clear(&res);

  /* replay: everything duplicates, same rejections */
  CHECK_EQ_INT(ingest(s, b, &res), 0);
  CHECK_EQ_INT(res.status, 200);
  CHECK(res.replay);
  CHECK(res.body && strstr(res.body, "\"accepted\":0,\"duplicates\":3") != NULL);
  CHECK(res.body && strstr(res.body, "timestamp_out_of_range") != NULL);
  st_result_clear(&res);

  /* same key, other events: 422, and nothing of it kept */
  char *other = strdup(b);
  char *w = strstr(other, "\"w1\"");
  if (w) w[2] = '7';
  CHECK_EQ_INT(ingest(s, other, &res), 0);
  CHECK_EQ_INT(res.status, 422);
  CHECK_EQ_STR(res.code, "idempotency_key_reused");
  CHECK(res.body == NULL);
  st_result_clear(&res);
  free(other);
  free(b);

  /* a conflicting copy (same event_id, other content) under another key; and
   * the rejected seq 4 declared dropped, with 5 */
  int64_t s10[] = {7};
  const char *ids[] = {"id1"};
  b = make_body(EP1, s10, 1, ids, "w2", "[{\"from_seq\":4,\"to_seq\":5,\"reason\":\"dead_letter\"}]");
  CHECK_EQ_INT(ingest(s, b, &res), 0);
  CHECK_EQ_INT(res.status, 200);
  CHECK_EQ_INT(res.accepted, 0);
  CHECK_EQ_INT(res.duplicates, 1);
  CHECK_EQ_INT(res.conflicts, 1);
  st_result_clear(&res);
  free(b);

  /* a dropped range beyond anything seen: 400 */
  b = make_body(EP1, NULL, 0, NULL, "w1", "[{\"from_seq\":1,\"to_seq\":99}]");
  CHECK_EQ_INT(ingest(s, b, &res), 0);
  CHECK_EQ_INT(res.status, 400);
  st_result_clear(&res);
  free(b);

  /* epoch 2: seqs 3 then 1 */
  int64_t e2a[] = {3}, e2b[] = {1};
  const char *id3[] = {"x3"}, *id1[] = {"x1"};
  b = make_body(EP2, e2a, 1, id3, "w1", NULL);
  CHECK_EQ_INT(ingest(s, b, &res), 0);
  st_result_clear(&res);
  free(b);
  b = make_body(EP2, e2b, 1, id1, "w1", NULL);
  CHECK_EQ_INT(ingest(s, b, &res), 0);
  CHECK_EQ_INT(res.accepted, 1);
  st_result_clear(&res);
  free(b);
  /* a retry of the {3} batch (same key, same events) that now also reports
   * seq 2 as dropped: answered as a replay, and the new dropped range is
   * still recorded (the agent forgets ranges a 200 covered) */
  b = make_body(EP2, e2a, 1, id3, "w1", "[{\"from_seq\":2,\"to_seq\":2,\"reason\":\"quota\"}]");
  CHECK_EQ_INT(ingest(s, b, &res), 0);
  CHECK_EQ_INT(res.status, 200);
  CHECK(res.replay);
  CHECK_EQ_INT(res.duplicates, 1);
  st_result_clear(&res);
  free(b);

  /* heartbeat */
  b = make_body(EP2, NULL, 0, NULL, "w1", NULL);
  CHECK_EQ_INT(ingest(s, b, &res), 0);
  CHECK_EQ_INT(res.status, 200);
  CHECK(res.body && strcmp(res.body, "{\"accepted\":0,\"duplicates\":0,\"rejected\":[]}") == 0);
  st_result_clear(&res);
  free(b);

  check_figures(s);
  CHECK_EQ_INT(s->ops->ping(s), 0);
  s->ops->close(s);

  /* reopen: everything persisted */
  s = NULL;
  CHECK_EQ_INT(open(where, 600000, &s, err, sizeof(err)), 0);
  if (s) {
    check_figures(s);
    int64_t s67b[] = {6, 7};
    b = make_body(EP1, s67b, 2, NULL, "w1", NULL);
    CHECK_EQ_INT(ingest(s, b, &res), 0);
    CHECK(res.replay);
    st_result_clear(&res);
    free(b);
    s->ops->close(s);
  }
  check_two_writers(open, where);
}

/* One SQL command on the server of url; 0 or -1 (message on stderr). */
static int pg_admin(const char *url, const char *sql) {
  PGconn *c = PQconnectdb(url);
  int r = -1;
  if (PQstatus(c) == CONNECTION_OK) {
    PGresult *res = PQexec(c, sql);
    r = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
    if (r < 0) fprintf(stderr, "%s: %s", sql, PQresultErrorMessage(res));
    PQclear(res);
  } else {
    fprintf(stderr, "connect: %s", PQerrorMessage(c));
  }
  PQfinish(c);
  return r;
}

int main(void) {
  char dir[] = "/tmp/ferry-test-store-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[300];
  snprintf(path, sizeof(path), "%s/c.db", dir);
  scenario(store_sqlite_open, path);
  char cmd[400];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  CHECK_EQ_INT(system(cmd), 0);

  const char *pg = getenv("FERRY_TEST_PG_URL");
  if (pg && *pg) {
    /* a fresh database beside the one the URL names: same URL, other name */
    char db[64], url[1024], sql[160];
    snprintf(db, sizeof(db), "ferry_ut_store_%ld", (long)getpid());
    const char *host = strstr(pg, "://");
    const char *slash = host ? strchr(host + 3, '/') : NULL;
    const char *query = slash ? strchr(slash, '?') : NULL;
    CHECK(slash != NULL);
    if (slash) {
      snprintf(url, sizeof(url), "%.*s/%s%s", (int)(slash - pg), pg, db, query ? query : "");
      snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
      CHECK_EQ_INT(pg_admin(pg, sql), 0);
      scenario(store_pg_open, url);
      snprintf(sql, sizeof(sql), "DROP DATABASE %s WITH (FORCE)", db);
      CHECK_EQ_INT(pg_admin(pg, sql), 0);
    }
  } else {
    printf("test_collector_store: FERRY_TEST_PG_URL not set; PostgreSQL part skipped\n");
  }
  return check_finish("test_collector_store");
}
