/* test_collector_store_build_gate: queries on several reader handles at once
 * over hours still stale (a backfill the writer has not rebuilt) take turns
 * building them from their events — a piece at a time through the store's
 * gate, never more at once than its width (1, then 2) — and each still
 * answers exactly what metrics_compute gives over the same events; once the
 * writer has rebuilt the hours, a query builds nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "batch.h"
#include "check.h"
#include "metrics.h"
#include "store.h"
#include "store_harness.h"
#include "timefmt.h"

#define NOW_MS    1772352000000LL /* 2026-03-01T08:00:00Z */
#define HOURS     12
#define PER_HOUR  60
#define NEV       (HOURS * PER_HOUR)
#define H0        (NOW_MS / 3600000 - HOURS - 1)
#define MAX_STATE 600000
#define THREADS   4
#define ROUNDS    3

static const bt_limits lim = {NOW_MS, 300, 0};
static const char *const types[] = {"working", "idle", "absent", "product_count"};
static const char *const workers[] = {"w1", "w2", "w3"};
static const char *const stations[] = {"s1", "s2"};

static metrics_event evs[NEV];
static char ids[NEV][16];

/* NEV events over the HOURS hours, in batches of one hour each, kept in evs. */
static int ingest(store *s) {
  unsigned x = 12345;
  static char body[PER_HOUR * 300 + 200];
  for (int h = 0; h < HOURS; h++) {
    size_t o = (size_t)snprintf(body, sizeof(body),
                                "{\"agent_id\":\"a1\",\"epoch\":\"00000000000000e1\",\"events\":[");
    for (int i = 0; i < PER_HOUR; i++) {
      int k = h * PER_HOUR + i;
      x = x * 1103515245u + 12345u;
      int64_t ts = (H0 + h) * 3600000 + (int64_t)(x >> 8) % 3600000;
      int t = (int)((x >> 4) % 4), w = (int)((x >> 12) % 3), st = (int)((x >> 16) % 2);
      char tsb[TF_RFC3339_LEN];
      tf_format_ms(ts, tsb);
      snprintf(ids[k], sizeof(ids[k]), "e%d", k);
      evs[k] = (metrics_event){.event_id = ids[k],
                               .agent_id = "a1",
                               .ts_ms = ts,
                               .type = (metrics_type)t,
                               .worker_id = workers[w],
                               .workstation_id = stations[st],
                               .count = t == 3 ? 2 : 0};
      o += (size_t)snprintf(body + o, sizeof(body) - o,
                            "%s{\"event_id\":\"%s\",\"timestamp\":\"%s\",\"event_type\":\"%s\","
                            "\"worker_id\":\"%s\",\"workstation_id\":\"%s\",%s\"seq\":%d,"
                            "\"ingested_at\":\"2026-03-01T07:59:00Z\"}",
                            i ? "," : "", ids[k], tsb, types[t], workers[w], stations[st],
                            t == 3 ? "\"count\":2," : "", k + 1);
    }
    snprintf(body + o, sizeof(body) - o, "],\"dropped\":[]}");
    st_result res;
    int r = sh_ingest(s, body, &lim, NOW_MS, &res);
    CHECK_EQ_INT((int)res.accepted, PER_HOUR);
    st_result_clear(&res);
    if (r < 0) return r;
  }
  return 0;
}

static int same(const metrics_result *a, const metrics_result *b) {
  if (a->n_workers != b->n_workers || a->n_stations != b->n_stations) return 0;
  for (size_t i = 0; i < a->n_workers; i++) {
    const metrics_worker *x = &a->workers[i], *y = &b->workers[i];
    if (strcmp(x->worker_id, y->worker_id) || x->working_ms != y->working_ms || x->idle_ms != y->idle_ms ||
        x->absent_ms != y->absent_ms || x->units != y->units || x->events != y->events)
      return 0;
  }
  for (size_t i = 0; i < a->n_stations; i++) {
    const metrics_station *x = &a->stations[i], *y = &b->stations[i];
    if (strcmp(x->workstation_id, y->workstation_id) || x->occupancy_ms != y->occupancy_ms ||
        x->working_ms != y->working_ms || x->units != y->units || x->events != y->events)
      return 0;
  }
  return a->factory.events == b->factory.events && a->factory.units == b->factory.units &&
         a->factory.working_ms == b->factory.working_ms && a->factory.workers == b->factory.workers &&
         a->factory.workstations == b->factory.workstations;
}

typedef struct job {
  store *rd;
  st_metrics_query q;
  const metrics_result *ref;
  int rc, mismatches;
} job;

static void run(void *arg) {
  job *j = arg;
  for (int i = 0; i < ROUNDS; i++) {
    metrics_result res;
    int r = j->rd->ops->metrics(j->rd, &j->q, &res);
    if (r < 0) {
      j->rc = r;
      return;
    }
    if (!same(&res, j->ref)) j->mismatches++;
    metrics_result_clear(&res);
  }
}

int main(void) {
  char dir[] = "/tmp/ferry-test-gate-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[300];
  snprintf(path, sizeof(path), "%s/c.db", dir);
  store *s = NULL;
  char err[300] = "";
  CHECK_EQ_INT(store_sqlite_open(path, MAX_STATE, &s, err, sizeof(err)), 0);
  if (!s) {
    fprintf(stderr, "open: %s\n", err);
    return check_finish("test_collector_store_build_gate");
  }
  store_sqlite_set_slice(s, 16); /* many slices per piece: long builds that overlap */
  CHECK_EQ_INT(ingest(s), 0);

  /* a window of whole hours, all stale, between two partial edges */
  st_metrics_query q = {.from_ms = H0 * 3600000 + 17 * 60000, .to_ms = (H0 + HOURS) * 3600000 - 5 * 60000};
  metrics_result ref;
  CHECK_EQ_INT(metrics_compute(evs, NEV, q.from_ms, q.to_ms, MAX_STATE, &ref), 0);
  CHECK(ref.factory.events > 0 && ref.n_workers == 3);

  store *rd[THREADS] = {0};
  job jobs[THREADS];
  uv_thread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) {
    CHECK_EQ_INT(s->ops->open_reader(s, &rd[i], err, sizeof(err)), 0);
    jobs[i] = (job){.rd = rd[i], .q = q, .ref = &ref};
  }
  uint64_t entered = 0, before = 0;
  unsigned most = 0;
  store_sqlite_build_stats(s, &entered, &most);
  CHECK_EQ_INT((int)entered, 0);
  for (unsigned width = 1; width <= 2; width++) {
    store_sqlite_set_build_width(s, width);
    for (int i = 0; i < THREADS; i++)
      if (rd[i]) CHECK_EQ_INT(uv_thread_create(&th[i], run, &jobs[i]), 0);
    for (int i = 0; i < THREADS; i++)
      if (rd[i]) uv_thread_join(&th[i]);
    for (int i = 0; i < THREADS; i++) {
      CHECK_EQ_INT(jobs[i].rc, 0);
      CHECK_EQ_INT(jobs[i].mismatches, 0);
    }
    /* every query built its stale hours, each piece through the gate, at
     * most width at once */
    store_sqlite_build_stats(s, &entered, &most);
    CHECK((int)(entered - before) >= THREADS * ROUNDS * (HOURS - 2) / 4);
    CHECK((int)most >= 1 && most <= width);
    before = entered;
  }

  /* rebuilt by the writer: the same answer, nothing built */
  store_sqlite_set_hot(s, 0);
  bool more = true;
  for (int i = 0; i < 100 && more; i++) CHECK_EQ_INT(s->ops->maintain(s, 8, &more), 0);
  CHECK(!more);
  before = entered;
  if (rd[0]) {
    jobs[0].mismatches = 0;
    run(&jobs[0]);
    CHECK_EQ_INT(jobs[0].rc, 0);
    CHECK_EQ_INT(jobs[0].mismatches, 0);
  }
  store_sqlite_build_stats(s, &entered, &most);
  CHECK_EQ_INT((int)(entered - before), 0);

  metrics_result_clear(&ref);
  for (int i = 0; i < THREADS; i++)
    if (rd[i]) rd[i]->ops->close(rd[i]);
  s->ops->close(s);
  char cmd[400];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  CHECK_EQ_INT(system(cmd), 0);
  return check_finish("test_collector_store_build_gate");
}
