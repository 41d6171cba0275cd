/* test_collector_rollup: hand-computed cases for the hour buckets — how a
 * window is split, which hours an insert makes stale, what the rows of two
 * overlapping workers at one station are, and that the combination equals the
 * exact computation. (The randomized comparison lives in
 * test_collector_metrics_prop.c.) */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "metrics.h"
#include "rollup.h"

#define S   INT64_C(1000)
#define M   (60 * S)
#define H   (60 * M)
#define T0  INT64_C(1772352000000) /* hour-aligned */
#define HR0 (T0 / H)

static metrics_event ev(const char *id, int64_t ts, metrics_type t, const char *worker, const char *station,
                        int64_t count) {
  return (metrics_event){.event_id = id,
                         .agent_id = "ag",
                         .ts_ms = ts,
                         .type = t,
                         .worker_id = worker,
                         .workstation_id = station,
                         .count = count};
}

static void test_hour_of(void) {
  CHECK_EQ_INT(rollup_hour_of(T0), HR0);
  CHECK_EQ_INT(rollup_hour_of(T0 - 1), HR0 - 1);
  CHECK_EQ_INT(rollup_hour_of(T0 + H - 1), HR0);
  CHECK_EQ_INT(rollup_hour_of(-1), -1);
  CHECK_EQ_INT(rollup_hour_of(0), 0);
}

static void test_plan(void) {
  rollup_plan p;
  CHECK_EQ_INT(rollup_plan_window(T0 + 30 * M, T0 + 3 * H + 15 * M, 10 * M, &p), 0);
  CHECK_EQ_INT(p.h_lo, HR0 + 1);
  CHECK_EQ_INT(p.h_hi, HR0 + 3);
  CHECK_EQ_INT(p.n_edges, 2);
  CHECK_EQ_INT(p.edges[0].from_ms, T0 + 30 * M);
  CHECK_EQ_INT(p.edges[0].to_ms, T0 + H);
  CHECK_EQ_INT(p.edges[0].fetch_lo_ms, T0 + 20 * M);
  CHECK_EQ_INT(p.edges[0].fetch_hi_ms, T0 + H);
  CHECK_EQ_INT(p.edges[1].from_ms, T0 + 3 * H);
  CHECK_EQ_INT(p.edges[1].to_ms, T0 + 3 * H + 15 * M);
  CHECK_EQ_INT(p.edges[1].fetch_lo_ms, T0 + 3 * H - 10 * M);

  CHECK_EQ_INT(rollup_plan_window(T0, T0 + 2 * H, 10 * M, &p), 0); /* aligned */
  CHECK_EQ_INT(p.h_lo, HR0);
  CHECK_EQ_INT(p.h_hi, HR0 + 2);
  CHECK_EQ_INT(p.n_edges, 0);

  CHECK_EQ_INT(rollup_plan_window(T0 + 10 * M, T0 + H, 10 * M, &p), 0); /* no whole hour */
  CHECK_EQ_INT(p.h_lo, p.h_hi);
  CHECK_EQ_INT(p.n_edges, 1);
  CHECK_EQ_INT(p.edges[0].from_ms, T0 + 10 * M);
  CHECK_EQ_INT(p.edges[0].to_ms, T0 + H);

  CHECK_EQ_INT(rollup_plan_window(T0 + 10 * M, T0 + H + 10 * M, 10 * M, &p), 0);
  CHECK_EQ_INT(p.h_lo, p.h_hi);
  CHECK_EQ_INT(p.n_edges, 1);

  CHECK_EQ_INT(rollup_plan_window(T0, T0 + 90 * M, 10 * M, &p), 0);
  CHECK_EQ_INT(p.h_lo, HR0);
  CHECK_EQ_INT(p.h_hi, HR0 + 1);
  CHECK_EQ_INT(p.n_edges, 1);
  CHECK_EQ_INT(p.edges[0].from_ms, T0 + H);
  CHECK_EQ_INT(p.edges[0].to_ms, T0 + 90 * M);

  CHECK_EQ_INT(p.d_lo, p.d_hi); /* no whole day */

  /* 30 days from 08:30: hours 09:00 .. day+30 08:00; days [next midnight,
   * midnight of day 30). T0 is 08:00, so 15 hours before the first midnight
   * and 8 after the last. */
  CHECK_EQ_INT(rollup_plan_window(T0 + 30 * M, T0 + 30 * 24 * H + 15 * M, 10 * M, &p), 0);
  CHECK_EQ_INT(p.h_lo, HR0 + 1);
  CHECK_EQ_INT(p.h_hi, HR0 + 720);
  CHECK_EQ_INT(p.d_lo * 24, HR0 + 16);
  CHECK_EQ_INT(p.d_hi - p.d_lo, 29);
  CHECK_EQ_INT(p.h_hi - p.d_hi * 24, 8);
  CHECK_EQ_INT(rollup_day_of_hour(HR0), (HR0 - 8) / 24);
  CHECK_EQ_INT(rollup_day_of_hour(-1), -1);

  CHECK_EQ_INT(rollup_plan_window(T0, T0, 10 * M, &p), -EINVAL);
  CHECK_EQ_INT(rollup_plan_window(INT64_MIN, T0, 10 * M, &p), -EINVAL);
  CHECK_EQ_INT(rollup_plan_window(T0, INT64_MAX, 10 * M, &p), -EINVAL);
}

static void test_stale(void) {
  int64_t h0, h1, next;
  metrics_event pc = ev("p", T0 + 59 * M, METRICS_PRODUCT_COUNT, NULL, "A", 1);
  rollup_stale_hours(&pc, NULL, 10 * M, &h0, &h1);
  CHECK_EQ_INT(h0, HR0);
  CHECK_EQ_INT(h1, HR0 + 1);

  metrics_event st = ev("s", T0 + 55 * M, METRICS_WORKING, "w", "A", 0);
  rollup_stale_hours(&st, NULL, 10 * M, &h0, &h1); /* ends T0+65m */
  CHECK_EQ_INT(h0, HR0);
  CHECK_EQ_INT(h1, HR0 + 2);
  next = T0 + 58 * M;
  rollup_stale_hours(&st, &next, 10 * M, &h0, &h1); /* ends T0+58m */
  CHECK_EQ_INT(h1, HR0 + 1);
  next = T0 + 55 * M; /* a tie after it: its interval is empty */
  rollup_stale_hours(&st, &next, 10 * M, &h0, &h1);
  CHECK_EQ_INT(h0, HR0);
  CHECK_EQ_INT(h1, HR0 + 1);
  rollup_stale_hours(&st, NULL, 0, &h0, &h1);
  CHECK_EQ_INT(h1, HR0 + 1);
  st.ts_ms = T0 + 50 * M; /* ends exactly at T0+H: hour 1 is untouched */
  rollup_stale_hours(&st, NULL, 10 * M, &h0, &h1);
  CHECK_EQ_INT(h1, HR0 + 1);
  rollup_stale_hours(&st, NULL, 10 * M + 1, &h0, &h1);
  CHECK_EQ_INT(h1, HR0 + 2);
  rollup_stale_hours(&st, NULL, 3 * H, &h0, &h1); /* a long cap spans hours */
  CHECK_EQ_INT(h1, HR0 + 4);
}

/* Two workers overlap at station A across the hour boundary:
 *   w1 working at A  [50m, 70m)           (cap 20m)
 *   w2 idle at A     [55m, 65m), then absent at A [65m, 85m)
 *   w3 absent at C   [70m, 90m)           (C has only absent time)
 *   a product count without worker at B, 61m, count 4. */
static const metrics_event EVS[] = {
    {"e1", "ag", T0 + 50 * M, METRICS_WORKING, "w1", "A", 0},
    {"e2", "ag", T0 + 55 * M, METRICS_IDLE, "w2", "A", 0},
    {"e3", "ag", T0 + 65 * M, METRICS_ABSENT, "w2", "A", 0},
    {"e4", "ag", T0 + 70 * M, METRICS_ABSENT, "w3", "C", 0},
    {"e5", "ag", T0 + 61 * M, METRICS_PRODUCT_COUNT, NULL, "B", 4},
};
#define NEVS (sizeof EVS / sizeof EVS[0])

static const rollup_worker_hour *find_w(const rollup_buckets *b, int64_t hour, const char *id) {
  for (size_t i = 0; i < b->n_workers; i++)
    if (b->workers[i].hour == hour && strcmp(b->workers[i].worker_id, id) == 0) return &b->workers[i];
  CHECK(0);
  static const rollup_worker_hour zero;
  return &zero;
}

static const rollup_station_hour *find_s(const rollup_buckets *b, int64_t hour, const char *id) {
  for (size_t i = 0; i < b->n_stations; i++)
    if (b->stations[i].hour == hour && strcmp(b->stations[i].workstation_id, id) == 0) return &b->stations[i];
  CHECK(0);
  static const rollup_station_hour zero;
  return &zero;
}

static void test_build(void) {
  rollup_buckets b;
  CHECK_EQ_INT(rollup_build(EVS, NEVS, 20 * M, HR0, HR0 + 3, &b), 0);
  CHECK_EQ_INT(b.h0, HR0);
  CHECK_EQ_INT(b.h1, HR0 + 3);

  CHECK_EQ_INT(b.n_workers, 5); /* w1 h0 h1, w2 h0 h1, w3 h1 */
  CHECK_EQ_INT(find_w(&b, HR0, "w1")->working_ms, 10 * M);
  CHECK_EQ_INT(find_w(&b, HR0, "w1")->events, 1);
  CHECK_EQ_INT(find_w(&b, HR0 + 1, "w1")->working_ms, 10 * M);
  CHECK_EQ_INT(find_w(&b, HR0 + 1, "w1")->events, 0);
  CHECK_EQ_INT(find_w(&b, HR0, "w2")->idle_ms, 5 * M);
  CHECK_EQ_INT(find_w(&b, HR0 + 1, "w2")->idle_ms, 5 * M);
  CHECK_EQ_INT(find_w(&b, HR0 + 1, "w2")->absent_ms, 20 * M);
  CHECK_EQ_INT(find_w(&b, HR0 + 1, "w2")->events, 1);
  CHECK_EQ_INT(find_w(&b, HR0 + 1, "w3")->absent_ms, 20 * M);

  /* Station A: union within each hour, not the sum of the two workers. */
  CHECK_EQ_INT(find_s(&b, HR0, "A")->occupancy_ms, 10 * M); /* [50,60) */
  CHECK_EQ_INT(find_s(&b, HR0, "A")->working_ms, 10 * M);
  CHECK_EQ_INT(find_s(&b, HR0, "A")->state_ms, 15 * M); /* 10 + 5 */
  CHECK_EQ_INT(find_s(&b, HR0, "A")->events, 2);
  CHECK_EQ_INT(find_s(&b, HR0 + 1, "A")->occupancy_ms, 10 * M); /* [60,70) */
  CHECK_EQ_INT(find_s(&b, HR0 + 1, "A")->working_ms, 10 * M);
  CHECK_EQ_INT(find_s(&b, HR0 + 1, "A")->state_ms, 35 * M); /* 10 + 5 + 20 */
  CHECK_EQ_INT(find_s(&b, HR0 + 1, "B")->units, 4);
  CHECK_EQ_INT(find_s(&b, HR0 + 1, "B")->occupancy_ms, 0);
  CHECK_EQ_INT(find_s(&b, HR0 + 1, "C")->occupancy_ms, 0);
  CHECK_EQ_INT(find_s(&b, HR0 + 1, "C")->state_ms, 20 * M);
  CHECK_EQ_INT(b.n_stations, 4); /* A h0, A h1, B h1, C h1 */

  CHECK_EQ_INT(b.n_hours, 2);
  CHECK_EQ_INT(b.hours[0].hour, HR0);
  CHECK_EQ_INT(b.hours[0].events, 2);
  CHECK_EQ_INT(b.hours[1].events, 3);
  CHECK_EQ_INT(b.hours[1].units, 4);
  /* Rows are sorted by (hour, id). */
  for (size_t i = 1; i < b.n_workers; i++)
    CHECK(b.workers[i - 1].hour < b.workers[i].hour ||
          (b.workers[i - 1].hour == b.workers[i].hour &&
           strcmp(b.workers[i - 1].worker_id, b.workers[i].worker_id) < 0));
  rollup_buckets_clear(&b);

  CHECK_EQ_INT(rollup_build(EVS, NEVS, 20 * M, HR0, HR0, &b), -EINVAL);
  rollup_buckets_clear(NULL);
}

static void combine(int64_t from, int64_t to, const rollup_buckets *rows, metrics_result *ret) {
  rollup_plan p;
  metrics_result edges[2];
  memset(ret, 0, sizeof *ret);
  CHECK_EQ_INT(rollup_plan_window(from, to, 20 * M, &p), 0);
  for (size_t i = 0; i < p.n_edges; i++)
    CHECK_EQ_INT(metrics_compute(EVS, NEVS, p.edges[i].from_ms, p.edges[i].to_ms, 20 * M, &edges[i]), 0);
  CHECK_EQ_INT(rollup_combine(&p, rows, edges, p.n_edges, ret), 0);
  for (size_t i = 0; i < p.n_edges; i++) metrics_result_clear(&edges[i]);
}

static void test_combine(void) {
  rollup_buckets b;
  metrics_result r, exact;
  CHECK_EQ_INT(rollup_build(EVS, NEVS, 20 * M, HR0 - 1, HR0 + 3, &b), 0);

  /* Edge [30m, 60m) + hour 1: A occupancy [50,70) = 20m, not 10+5+10+5. */
  combine(T0 + 30 * M, T0 + 2 * H, &b, &r);
  CHECK_EQ_INT(metrics_compute(EVS, NEVS, T0 + 30 * M, T0 + 2 * H, 20 * M, &exact), 0);
  const metrics_station *a = metrics_find_station(&r, "A");
  CHECK(a != NULL);
  if (a) {
    CHECK_EQ_INT(a->occupancy_ms, 20 * M);
    CHECK_EQ_INT(a->working_ms, 20 * M);
    CHECK_EQ_INT(a->events, 3);
  }
  CHECK_EQ_INT(r.n_workers, 3);
  CHECK_EQ_INT(r.n_stations, 3);
  CHECK_EQ_INT(r.factory.events, 5);
  CHECK_EQ_INT(r.factory.units, 4);
  CHECK_EQ_INT(r.factory.working_ms, 20 * M);
  CHECK(r.factory.avg_utilization_pct == exact.factory.avg_utilization_pct);
  CHECK(memcmp(&r.factory, &exact.factory, sizeof r.factory) == 0);
  for (size_t i = 0; i < r.n_workers && i < exact.n_workers; i++) {
    CHECK_EQ_STR(r.workers[i].worker_id, exact.workers[i].worker_id);
    CHECK_EQ_INT(r.workers[i].idle_ms, exact.workers[i].idle_ms);
    CHECK_EQ_INT(r.workers[i].absent_ms, exact.workers[i].absent_ms);
  }
  metrics_result_clear(&r);
  metrics_result_clear(&exact);

  /* Only whole hour 1 [60m, 120m): C is in through absent time alone. */
  combine(T0 + H, T0 + 2 * H, &b, &r);
  const metrics_station *c = metrics_find_station(&r, "C");
  CHECK(c != NULL);
  if (c) CHECK_EQ_INT(c->occupancy_ms, 0);
  CHECK(metrics_find_worker(&r, "w3") != NULL);
  CHECK_EQ_INT(r.n_stations, 3);
  metrics_result_clear(&r);

  /* Hour 2: every state ended by 90m, no events: nobody is in. */
  combine(T0 + 2 * H, T0 + 3 * H, &b, &r);
  CHECK_EQ_INT(r.n_workers, 0);
  CHECK_EQ_INT(r.n_stations, 0);
  metrics_result_clear(&r);

  /* Edge windows that do not match the plan are refused. */
  rollup_plan p;
  metrics_result e;
  CHECK_EQ_INT(rollup_plan_window(T0 + 30 * M, T0 + 2 * H, 20 * M, &p), 0);
  CHECK_EQ_INT(metrics_compute(EVS, NEVS, T0 + 20 * M, T0 + H, 20 * M, &e), 0);
  memset(&r, 0, sizeof r);
  CHECK_EQ_INT(rollup_combine(&p, &b, &e, 1, &r), -EINVAL);
  CHECK_EQ_INT(rollup_combine(&p, &b, &e, 0, &r), -EINVAL);
  CHECK(r.workers == NULL);
  metrics_result_clear(&e);
  rollup_buckets_clear(&b);
}

/* The accumulator takes rows in any order and any pre-aggregation. */
static void test_acc(void) {
  rollup_acc *a = rollup_acc_new();
  metrics_result r;
  CHECK(a != NULL);
  if (!a) return;
  rollup_worker_hour w1 = {.hour = 1, .worker_id = "w", .working_ms = 30 * M, .idle_ms = 10 * M};
  rollup_worker_hour w2 = {.hour = 2, .worker_id = "w", .working_ms = 30 * M, .units = 6, .events = 2};
  rollup_worker_hour z = {.hour = 2, .worker_id = "ghost"}; /* all zero: not a member */
  rollup_station_hour s1 = {.hour = 1, .workstation_id = "S", .state_ms = 1};
  rollup_hour h = {.hour = 2, .events = 2, .units = 6};
  CHECK_EQ_INT(rollup_acc_add_worker(a, &w2), 0);
  CHECK_EQ_INT(rollup_acc_add_worker(a, &z), 0);
  CHECK_EQ_INT(rollup_acc_add_worker(a, &w1), 0);
  CHECK_EQ_INT(rollup_acc_add_station(a, &s1), 0);
  rollup_acc_add_hour(a, &h);
  CHECK_EQ_INT(rollup_acc_finish(a, T0, T0 + 2 * H, &r), 0);
  CHECK_EQ_INT(r.n_workers, 1);
  CHECK_EQ_STR(r.workers[0].worker_id, "w");
  CHECK_EQ_INT(r.workers[0].working_ms, 60 * M);
  CHECK(r.workers[0].utilization_pct > 85.71 && r.workers[0].utilization_pct < 85.72); /* 60/70 */
  CHECK(r.workers[0].units_per_hour == 6.0);
  CHECK_EQ_INT(r.n_stations, 1);
  CHECK_EQ_INT(r.factory.events, 2);
  CHECK(r.factory.units_per_hour == 3.0);
  metrics_result_clear(&r);
  CHECK(rollup_acc_free(a) == NULL);
}

/* Day rows (sums of hour rows) read through the accumulator give the same
 * figures as hour rows alone and as the exact computation. */
static void test_day_rows(void) {
  metrics_event e[64];
  char ids[64][16];
  static const char *const wk[] = {"w1", "w2", "w3"};
  static const char *const st[] = {"A", "B"};
  size_t n = 0;
  for (int i = 0; i < 60; i++) { /* every ~83 minutes over ~3.5 days */
    snprintf(ids[i], sizeof ids[i], "e%02d", i);
    e[n++] = ev(ids[i], T0 + (int64_t)i * 83 * M + (i % 7) * S, (metrics_type)(i % 4), wk[i % 3],
                st[(i / 3) % 2], 1 + i % 5);
  }
  int64_t cap = 2 * H, from = T0 + 17 * M, to = T0 + 3 * 24 * H + 41 * M;
  rollup_plan p;
  CHECK_EQ_INT(rollup_plan_window(from, to, cap, &p), 0);
  CHECK(p.d_lo < p.d_hi);
  rollup_buckets b;
  CHECK_EQ_INT(rollup_build(e, n, cap, p.h_lo, p.h_hi, &b), 0);

  rollup_acc *a = rollup_acc_new();
  CHECK(a != NULL);
  if (!a) return;
  /* Day rows: sum the hour rows of each (day, id) — what the store's
   * INSERT ... SELECT SUM(...) GROUP BY day, id would keep. */
  for (int64_t d = p.d_lo; d < p.d_hi; d++) {
    for (size_t k = 0; k < 3; k++) {
      rollup_worker_hour sum = {.hour = d * 24, .worker_id = wk[k]};
      for (size_t i = 0; i < b.n_workers; i++) {
        const rollup_worker_hour *w = &b.workers[i];
        if (rollup_day_of_hour(w->hour) != d || strcmp(w->worker_id, wk[k]) != 0) continue;
        sum.working_ms += w->working_ms, sum.idle_ms += w->idle_ms;
        sum.absent_ms += w->absent_ms, sum.units += w->units, sum.events += w->events;
      }
      CHECK_EQ_INT(rollup_acc_add_worker(a, &sum), 0);
    }
    for (size_t k = 0; k < 2; k++) {
      rollup_station_hour sum = {.hour = d * 24, .workstation_id = st[k]};
      for (size_t i = 0; i < b.n_stations; i++) {
        const rollup_station_hour *s = &b.stations[i];
        if (rollup_day_of_hour(s->hour) != d || strcmp(s->workstation_id, st[k]) != 0) continue;
        sum.occupancy_ms += s->occupancy_ms, sum.working_ms += s->working_ms;
        sum.units += s->units, sum.events += s->events, sum.state_ms += s->state_ms;
      }
      CHECK_EQ_INT(rollup_acc_add_station(a, &sum), 0);
    }
    rollup_hour hs = {.hour = d * 24};
    for (size_t i = 0; i < b.n_hours; i++)
      if (rollup_day_of_hour(b.hours[i].hour) == d)
        hs.events += b.hours[i].events, hs.units += b.hours[i].units;
    rollup_acc_add_hour(a, &hs);
  }
  /* Hour rows outside the whole days. */
  for (size_t i = 0; i < b.n_workers; i++) {
    int64_t d = rollup_day_of_hour(b.workers[i].hour);
    if (d < p.d_lo || d >= p.d_hi) CHECK_EQ_INT(rollup_acc_add_worker(a, &b.workers[i]), 0);
  }
  for (size_t i = 0; i < b.n_stations; i++) {
    int64_t d = rollup_day_of_hour(b.stations[i].hour);
    if (d < p.d_lo || d >= p.d_hi) CHECK_EQ_INT(rollup_acc_add_station(a, &b.stations[i]), 0);
  }
  for (size_t i = 0; i < b.n_hours; i++) {
    int64_t d = rollup_day_of_hour(b.hours[i].hour);
    if (d < p.d_lo || d >= p.d_hi) rollup_acc_add_hour(a, &b.hours[i]);
  }
  metrics_result edges[2], viaday, viahour, exact;
  for (size_t i = 0; i < p.n_edges; i++) {
    CHECK_EQ_INT(metrics_compute(e, n, p.edges[i].from_ms, p.edges[i].to_ms, cap, &edges[i]), 0);
    CHECK_EQ_INT(rollup_acc_add_result(a, &edges[i]), 0);
  }
  CHECK_EQ_INT(p.n_edges, 2);
  CHECK_EQ_INT(rollup_acc_finish(a, from, to, &viaday), 0);
  CHECK_EQ_INT(rollup_combine(&p, &b, edges, p.n_edges, &viahour), 0);
  CHECK_EQ_INT(metrics_compute(e, n, from, to, cap, &exact), 0);
  CHECK_EQ_INT(exact.n_workers, 3);
  CHECK_EQ_INT(exact.n_stations, 2);
  CHECK(exact.factory.units > 0 && exact.factory.working_ms > 0);
  CHECK(memcmp(&viaday.factory, &exact.factory, sizeof exact.factory) == 0);
  CHECK(memcmp(&viahour.factory, &exact.factory, sizeof exact.factory) == 0);
  CHECK_EQ_INT(viaday.n_stations, exact.n_stations);
  for (size_t i = 0; i < exact.n_stations && i < viaday.n_stations; i++) {
    CHECK_EQ_INT(viaday.stations[i].occupancy_ms, exact.stations[i].occupancy_ms);
    CHECK_EQ_INT(viaday.stations[i].working_ms, exact.stations[i].working_ms);
    CHECK(viaday.stations[i].units_per_hour == exact.stations[i].units_per_hour);
  }
  CHECK_EQ_INT(viaday.n_workers, exact.n_workers);
  for (size_t i = 0; i < exact.n_workers && i < viaday.n_workers; i++) {
    CHECK_EQ_INT(viaday.workers[i].idle_ms, exact.workers[i].idle_ms);
    CHECK_EQ_INT(viaday.workers[i].absent_ms, exact.workers[i].absent_ms);
    CHECK(viaday.workers[i].utilization_pct == exact.workers[i].utilization_pct);
  }
  for (size_t i = 0; i < p.n_edges; i++) metrics_result_clear(&edges[i]);
  metrics_result_clear(&viaday);
  metrics_result_clear(&viahour);
  metrics_result_clear(&exact);
  rollup_acc_free(a);
  rollup_buckets_clear(&b);
}

int main(void) {
  test_hour_of();
  test_plan();
  test_stale();
  test_build();
  test_combine();
  test_acc();
  test_day_rows();
  return check_finish("test_collector_rollup");
}
