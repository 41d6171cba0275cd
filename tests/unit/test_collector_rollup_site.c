/* test_collector_rollup_site: seeded properties of the site rows behind the
 * site= and line= filters (collector/metrics/rollup_site.h), on random events
 * (several sites, workstations and workers; ties; workers moving between
 * sites) in random order:
 *  - the cells partition the worker figures: summed over (site, workstation)
 *    they equal rollup_build's worker rows, bucket by bucket;
 *  - the site-station rows sum to the station rows' events, units and state
 *    time, and equal them whole (unions included) when each workstation is
 *    reported from one site;
 *  - a filter that passes everything gives, through rollup_acc, exactly
 *    metrics_compute over the window; the filter predicate itself. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "metrics.h"
#include "rollup.h"
#include "rollup_site.h"

#define H  INT64_C(3600000)
#define T0 INT64_C(1772352000000)

static uint64_t st_;
static uint64_t rnd(void) {
  uint64_t z = (st_ += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

static const char *const WORKERS[] = {"w1", "w2", "w3", "w4"};
static const char *const STATIONS[] = {"A", "B", "C", "D"};
static const char *const SITES[] = {"", "S1", "S2"};
static char ids[400][24];

static size_t gen(metrics_event *ev, const char **sites, size_t n, int one_site_per_station) {
  for (size_t i = 0; i < n; i++) {
    snprintf(ids[i], sizeof(ids[i]), "e%zu", i);
    int64_t ts = T0 + (int64_t)(rnd() % (uint64_t)(5 * H));
    if (i && rnd() % 10 == 0) ts = ev[rnd() % i].ts_ms; /* ties */
    metrics_type t = (metrics_type)(rnd() % 4);
    size_t st = rnd() % 4;
    ev[i] = (metrics_event){ids[i],
                            rnd() % 2 ? "a1" : "a2",
                            ts,
                            t,
                            WORKERS[rnd() % 4],
                            STATIONS[st],
                            t == METRICS_PRODUCT_COUNT ? (int64_t)(1 + rnd() % 4) : 0};
    if (t == METRICS_PRODUCT_COUNT && rnd() % 6 == 0) ev[i].worker_id = NULL;
    sites[i] = one_site_per_station ? SITES[st % 3] : SITES[rnd() % 3];
  }
  return n;
}

static void check_partition(const metrics_event *ev, const char **sites, size_t n, int64_t cap, int one) {
  int64_t h0 = T0 / H - 1, h1 = T0 / H + 6;
  rollup_buckets b;
  rsite_rows r;
  CHECK_EQ_INT(rollup_build(ev, n, cap, h0, h1, &b), 0);
  CHECK_EQ_INT(rsite_build(ev, sites, n, cap, h0 * H, H, (size_t)(h1 - h0), &r), 0);
  for (size_t i = 0; i < b.n_workers; i++) {
    const rollup_worker_hour *w = &b.workers[i];
    int64_t s[5] = {0};
    for (size_t k = 0; k < r.n_cells; k++) {
      const rsite_cell *c = &r.cells[k];
      if (c->bucket != w->hour - h0 || strcmp(c->worker_id, w->worker_id) != 0) continue;
      s[0] += c->working_ms, s[1] += c->idle_ms, s[2] += c->absent_ms, s[3] += c->units, s[4] += c->events;
    }
    CHECK_EQ_INT(s[0], w->working_ms);
    CHECK_EQ_INT(s[1], w->idle_ms);
    CHECK_EQ_INT(s[2], w->absent_ms);
    CHECK_EQ_INT(s[3], w->units);
    CHECK_EQ_INT(s[4], w->events);
  }
  size_t cells_with_worker_rows = 0;
  for (size_t k = 0; k < r.n_cells; k++)
    for (size_t i = 0; i < b.n_workers; i++)
      if (b.workers[i].hour - h0 == r.cells[k].bucket &&
          strcmp(b.workers[i].worker_id, r.cells[k].worker_id) == 0) {
        cells_with_worker_rows++;
        break;
      }
  CHECK_EQ_INT(cells_with_worker_rows, r.n_cells); /* no cell outside the worker rows */
  for (size_t i = 0; i < b.n_stations; i++) {
    const rollup_station_hour *s = &b.stations[i];
    int64_t e = 0, u = 0, st = 0, occ = 0, wrk = 0;
    for (size_t k = 0; k < r.n_stations; k++) {
      const rsite_station *x = &r.stations[k];
      if (x->bucket != s->hour - h0 || strcmp(x->workstation_id, s->workstation_id) != 0) continue;
      e += x->events, u += x->units, st += x->state_ms, occ += x->occupancy_ms, wrk += x->working_ms;
    }
    CHECK_EQ_INT(e, s->events);
    CHECK_EQ_INT(u, s->units);
    CHECK_EQ_INT(st, s->state_ms);
    CHECK(occ >= s->occupancy_ms && wrk >= s->working_ms); /* unions: at least the whole */
    if (one) {
      CHECK_EQ_INT(occ, s->occupancy_ms);
      CHECK_EQ_INT(wrk, s->working_ms);
    }
  }
  rollup_buckets_clear(&b);
  rsite_rows_clear(&r);
}

static void check_window(const metrics_event *ev, const char **sites, size_t n, int64_t cap) {
  int64_t f = T0 - H + (int64_t)(rnd() % (uint64_t)(6 * H)), t = f + 1 + (int64_t)(rnd() % (uint64_t)(3 * H));
  metrics_result want, got;
  CHECK_EQ_INT(metrics_compute(ev, n, f, t, cap, &want), 0);
  rsite_rows r;
  CHECK_EQ_INT(rsite_build(ev, sites, n, cap, f, t - f, 1, &r), 0);
  rollup_acc *acc = rollup_acc_new();
  rsite_filter all = {0};
  CHECK_EQ_INT(rsite_acc_add(acc, &r, &all, true, true, NULL, NULL), 0);
  CHECK_EQ_INT(rollup_acc_finish(acc, f, t, &got), 0);
  CHECK_EQ_INT(got.n_workers, want.n_workers);
  for (size_t i = 0; i < got.n_workers && i < want.n_workers; i++) {
    CHECK_EQ_STR(got.workers[i].worker_id, want.workers[i].worker_id);
    CHECK_EQ_INT(got.workers[i].working_ms, want.workers[i].working_ms);
    CHECK_EQ_INT(got.workers[i].absent_ms, want.workers[i].absent_ms);
    CHECK_EQ_INT(got.workers[i].units, want.workers[i].units);
  }
  CHECK_EQ_INT(got.factory.events, want.factory.events);
  CHECK_EQ_INT(got.factory.units, want.factory.units);
  CHECK_EQ_INT(got.factory.workers, want.factory.workers);
  metrics_result_clear(&want);
  metrics_result_clear(&got);
  rollup_acc_free(acc);
  rsite_rows_clear(&r);
}

int main(int argc, char **argv) {
  uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 10) : 1818;
  static const int64_t caps[] = {0, 1, 600000, H, 90 * 60000};
  for (int c = 0; c < 300; c++) {
    st_ = seed * 1000 + (uint64_t)c;
    metrics_event ev[400];
    const char *sites[400];
    size_t n = gen(ev, sites, 20 + rnd() % 300, c % 2);
    int64_t cap = caps[rnd() % 5];
    int before = check_failures_;
    check_partition(ev, sites, n, cap, c % 2);
    check_window(ev, sites, n, cap);
    if (check_failures_ != before) {
      fprintf(stderr, "case %d of seed %" PRIu64 " failed\n", c, seed);
      break;
    }
  }
  /* the predicate */
  const char *s1[] = {"", "S1"}, *st[] = {"A", "C"};
  rsite_filter f = {s1, 2, st, 2}, none = {s1, 0, NULL, 0};
  CHECK(rsite_pass(&f, NULL, "A"));
  CHECK(rsite_pass(&f, "S1", "C"));
  CHECK(!rsite_pass(&f, "S2", "A"));
  CHECK(!rsite_pass(&f, "S1", "B"));
  CHECK(!rsite_pass(&none, "", "A"));
  CHECK(rsite_pass(NULL, "x", "y"));
  return check_finish("test_collector_rollup_site");
}
