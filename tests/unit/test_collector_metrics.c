/* test_collector_metrics: hand-computed cases, one or more per rule of SPEC §3
 * "Metrics" as metrics.c implements it. Each expected figure is worked out in
 * the comment beside it, not taken from the code. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "metrics.h"

#define S  INT64_C(1000)
#define M  (60 * S)
#define H  (60 * M)
#define T0 INT64_C(1772352000000) /* 2026-03-01T08:00:00Z, hour-aligned */

#define W METRICS_WORKING
#define I METRICS_IDLE
#define A METRICS_ABSENT
#define P METRICS_PRODUCT_COUNT

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

static metrics_result run(const metrics_event *e, size_t n, int64_t from, int64_t to, int64_t max_state) {
  metrics_result r;
  memset(&r, 0, sizeof r);
  int rc = metrics_compute(e, n, from, to, max_state, &r);
  CHECK_EQ_INT(rc, 0);
  return r;
}

static int near(double a, double b) { return fabs(a - b) < 1e-9; }

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const metrics_worker *wk(const metrics_result *r, const char *id) {
  const metrics_worker *w = metrics_find_worker(r, id);
  CHECK(w != NULL);
  static const metrics_worker zero;
  return w ? w : &zero;
}

static const metrics_station *stn(const metrics_result *r, const char *id) {
  const metrics_station *s = metrics_find_station(r, id);
  CHECK(s != NULL);
  static const metrics_station zero;
  return s ? s : &zero;
}

/* working 10 min, idle 5 min, absent capped at 10 min. */
static void test_basic_states_and_cap(void) {
  metrics_event e[] = {
      ev("e1", T0, W, "w1", "A", 0),
      ev("e2", T0 + 10 * M, I, "w1", "A", 0),
      ev("e3", T0 + 15 * M, A, "w1", "A", 0),
  };
  metrics_result r = run(e, N(e), T0, T0 + H, 10 * M);
  CHECK_EQ_INT(r.n_workers, 1);
  const metrics_worker *w = wk(&r, "w1");
  CHECK_EQ_INT(w->working_ms, 10 * M);
  CHECK_EQ_INT(w->idle_ms, 5 * M);
  CHECK_EQ_INT(w->absent_ms, 10 * M); /* 15..25 min: the cap, not to the window end */
  CHECK(near(w->utilization_pct, 100.0 * 10 / 15));
  CHECK(near(w->units_per_hour, 0));
  CHECK_EQ_INT(r.factory.events, 3);
  CHECK_EQ_INT(r.factory.working_ms, 10 * M);
  metrics_result_clear(&r);
}

/* After the cap the worker has no state: not absent, not in a window that only
 * holds that gap. */
static void test_cap_leaves_no_state(void) {
  metrics_event e[] = {
      ev("e1", T0, W, "w1", "A", 0),
      ev("e2", T0 + 20 * M, I, "w1", "A", 0),
  };
  metrics_result r = run(e, N(e), T0, T0 + H, 10 * M);
  CHECK_EQ_INT(wk(&r, "w1")->working_ms, 10 * M);
  CHECK_EQ_INT(wk(&r, "w1")->idle_ms, 10 * M);
  CHECK_EQ_INT(wk(&r, "w1")->absent_ms, 0);
  metrics_result_clear(&r);

  r = run(e, N(e), T0 + 10 * M, T0 + 20 * M, 10 * M);
  CHECK_EQ_INT(r.n_workers, 0);
  CHECK_EQ_INT(r.n_stations, 0);
  CHECK_EQ_INT(r.factory.workers, 0);
  metrics_result_clear(&r);
}

/* Same ts: the smaller event_id comes first and lasts 0 s; event_id in byte
 * order ("B" < "a"); then agent_id. */
static void test_ties(void) {
  metrics_event e1[] = {
      ev("b", T0, W, "w1", "A", 0), ev("a", T0, I, "w1", "A", 0), /* first, 0 s */
  };
  metrics_result r = run(e1, N(e1), T0, T0 + H, 10 * M);
  CHECK_EQ_INT(wk(&r, "w1")->working_ms, 10 * M);
  CHECK_EQ_INT(wk(&r, "w1")->idle_ms, 0);
  CHECK(near(wk(&r, "w1")->utilization_pct, 100));
  metrics_result_clear(&r);

  metrics_event e2[] = {
      ev("a", T0, W, "w1", "A", 0), /* first, 0 s */
      ev("b", T0, I, "w1", "A", 0),
  };
  r = run(e2, N(e2), T0, T0 + H, 10 * M);
  CHECK_EQ_INT(wk(&r, "w1")->working_ms, 0);
  CHECK_EQ_INT(wk(&r, "w1")->idle_ms, 10 * M);
  CHECK(near(wk(&r, "w1")->utilization_pct, 0));
  metrics_result_clear(&r);

  metrics_event e3[] = {
      ev("a", T0, W, "w1", "A", 0), ev("B", T0, I, "w1", "A", 0), /* 'B' 0x42 < 'a' 0x61: first, 0 s */
  };
  r = run(e3, N(e3), T0, T0 + H, 10 * M);
  CHECK_EQ_INT(wk(&r, "w1")->working_ms, 10 * M);
  CHECK_EQ_INT(wk(&r, "w1")->idle_ms, 0);
  metrics_result_clear(&r);

  /* Same event_id from two agents: agent_id decides. */
  metrics_event e4[] = {
      ev("x", T0, W, "w1", "A", 0),
      ev("x", T0, I, "w1", "A", 0),
  };
  e4[0].agent_id = "ag2";
  e4[1].agent_id = "ag1"; /* first, 0 s */
  r = run(e4, N(e4), T0, T0 + H, 10 * M);
  CHECK_EQ_INT(wk(&r, "w1")->working_ms, 10 * M);
  CHECK_EQ_INT(wk(&r, "w1")->idle_ms, 0);
  metrics_result_clear(&r);
  e4[0].agent_id = "ag1";
  e4[1].agent_id = "ag2";
  r = run(e4, N(e4), T0, T0 + H, 10 * M);
  CHECK_EQ_INT(wk(&r, "w1")->working_ms, 0);
  CHECK_EQ_INT(wk(&r, "w1")->idle_ms, 10 * M);
  metrics_result_clear(&r);

  /* Input order does not matter. */
  metrics_event e5[] = {
      ev("c", T0 + 5 * M, A, "w1", "A", 0),
      ev("b", T0, I, "w1", "A", 0),
      ev("a", T0, W, "w1", "A", 0),
  };
  r = run(e5, N(e5), T0, T0 + H, 10 * M);
  CHECK_EQ_INT(wk(&r, "w1")->working_ms, 0);
  CHECK_EQ_INT(wk(&r, "w1")->idle_ms, 5 * M);
  CHECK_EQ_INT(wk(&r, "w1")->absent_ms, 10 * M);
  metrics_result_clear(&r);
}

/* The window cuts intervals on both sides; an event before `from` counts from
 * `from`; a state runs past `to`. */
static void test_window_cuts(void) {
  metrics_event e[] = {
      ev("e1", T0 - 5 * M, W, "w1", "A", 0),  /* T0-5 .. T0+5 (cap 10) */
      ev("e2", T0 + 55 * M, I, "w1", "A", 0), /* T0+55 .. T0+65 */
  };
  metrics_result r = run(e, N(e), T0, T0 + H, 10 * M);
  const metrics_worker *w = wk(&r, "w1");
  CHECK_EQ_INT(w->working_ms, 5 * M);
  CHECK_EQ_INT(w->idle_ms, 5 * M);
  CHECK_EQ_INT(r.factory.events, 1); /* e1 is before from */
  CHECK_EQ_INT(w->events, 1);
  metrics_result_clear(&r);

  /* Window strictly inside one interval. */
  metrics_event e2[] = {ev("e1", T0, W, "w1", "A", 0)};
  r = run(e2, N(e2), T0 + 10 * M, T0 + 20 * M, H);
  CHECK_EQ_INT(wk(&r, "w1")->working_ms, 10 * M);
  CHECK_EQ_INT(r.factory.events, 0);
  CHECK_EQ_INT(r.n_stations, 1); /* station A has state time inside */
  CHECK_EQ_INT(stn(&r, "A")->occupancy_ms, 10 * M);
  metrics_result_clear(&r);

  /* An event at ts == to is outside; at ts == from inside. */
  metrics_event e3[] = {
      ev("e1", T0, P, "w1", "A", 2),
      ev("e2", T0 + H, P, "w2", "B", 3),
  };
  r = run(e3, N(e3), T0, T0 + H, 10 * M);
  CHECK_EQ_INT(r.n_workers, 1);
  CHECK_EQ_STR(r.workers[0].worker_id, "w1");
  CHECK_EQ_INT(r.n_stations, 1);
  CHECK_EQ_INT(r.factory.units, 2);
  CHECK_EQ_INT(r.factory.events, 1);
  metrics_result_clear(&r);
}

/* Worker in the window only through state time from an earlier event. */
static void test_member_by_state_time(void) {
  metrics_event e[] = {
      ev("e1", T0 - 2 * M, A, "w1", "A", 0),
      ev("e2", T0 - 30 * M, W, "w2", "B", 0), /* ends T0-20: not in window */
  };
  metrics_result r = run(e, N(e), T0, T0 + H, 10 * M);
  CHECK_EQ_INT(r.n_workers, 1);
  CHECK_EQ_STR(r.workers[0].worker_id, "w1");
  CHECK_EQ_INT(r.workers[0].absent_ms, 8 * M);
  CHECK_EQ_INT(r.workers[0].events, 0);
  CHECK_EQ_INT(r.n_stations, 1); /* A through absent state time, occupancy 0 */
  CHECK_EQ_STR(r.stations[0].workstation_id, "A");
  CHECK_EQ_INT(r.stations[0].occupancy_ms, 0);
  CHECK(near(r.stations[0].utilization_pct, 0));
  CHECK_EQ_INT(r.factory.events, 0);
  CHECK_EQ_INT(r.factory.workers, 1);
  CHECK_EQ_INT(r.factory.workstations, 1);
  metrics_result_clear(&r);
}

/* Two (three) workers at one station: occupancy and working are unions. */
static void test_station_union(void) {
  metrics_event e[] = {
      ev("e1", T0, W, "w1", "A", 0),          /* working T0..T0+10 */
      ev("e2", T0 + 5 * M, I, "w2", "A", 0),  /* idle T0+5..T0+15 */
      ev("e3", T0 + 8 * M, W, "w3", "A", 0),  /* working T0+8..T0+12 */
      ev("e4", T0 + 12 * M, A, "w3", "A", 0), /* absent T0+12..T0+22: not occupancy */
      ev("e5", T0 + 30 * M, W, "w1", "B", 0), /* working at B 30..40 */
  };
  metrics_result r = run(e, N(e), T0, T0 + H, 10 * M);
  const metrics_station *a = stn(&r, "A");
  CHECK_EQ_INT(a->occupancy_ms, 15 * M); /* [0,15) */
  CHECK_EQ_INT(a->working_ms, 12 * M);   /* [0,10) ∪ [8,12) */
  CHECK(near(a->utilization_pct, 80));
  CHECK_EQ_INT(stn(&r, "B")->occupancy_ms, 10 * M);
  CHECK_EQ_INT(stn(&r, "B")->working_ms, 10 * M);
  CHECK_EQ_INT(r.factory.working_ms, 10 * M + 10 * M + 4 * M);
  metrics_result_clear(&r);

  /* Cut by the window: [T0+6, T0+9) → occupancy 3 min, working 3 min. */
  r = run(e, N(e), T0 + 6 * M, T0 + 9 * M, 10 * M);
  CHECK_EQ_INT(stn(&r, "A")->occupancy_ms, 3 * M);
  CHECK_EQ_INT(stn(&r, "A")->working_ms, 3 * M);
  CHECK_EQ_INT(r.n_stations, 1);
  metrics_result_clear(&r);
}

/* The state belongs to the station of the event that started it. */
static void test_state_station(void) {
  metrics_event e[] = {
      ev("e1", T0, W, "w1", "A", 0),
      ev("e2", T0 + 5 * M, I, "w1", "B", 0),
  };
  metrics_result r = run(e, N(e), T0, T0 + H, 10 * M);
  CHECK_EQ_INT(stn(&r, "A")->occupancy_ms, 5 * M);
  CHECK_EQ_INT(stn(&r, "A")->working_ms, 5 * M);
  CHECK_EQ_INT(stn(&r, "B")->occupancy_ms, 10 * M);
  CHECK_EQ_INT(stn(&r, "B")->working_ms, 0);
  metrics_result_clear(&r);
}

/* Product counts: a worker's own, and ones without a worker. */
static void test_units(void) {
  metrics_event e[] = {
      ev("e1", T0, W, "w1", "A", 99), /* count on a state event is ignored */
      ev("e2", T0 + 1 * M, P, "w1", "A", 3),   ev("e3", T0 + 2 * M, P, NULL, "A", 5), /* no worker */
      ev("e4", T0 + 3 * M, P, NULL, "C", 7),   /* station C only through this */
      ev("e5", T0 + 2 * H, P, "w1", "A", 100), /* outside the window */
  };
  metrics_result r = run(e, N(e), T0, T0 + 2 * H, 30 * M);
  const metrics_worker *w = wk(&r, "w1");
  CHECK_EQ_INT(w->units, 3);
  CHECK_EQ_INT(w->working_ms, 30 * M);
  CHECK(near(w->units_per_hour, 6)); /* 3 / 0.5 h */
  CHECK_EQ_INT(stn(&r, "A")->units, 8);
  CHECK(near(stn(&r, "A")->units_per_hour, 16)); /* 8 / 0.5 h occupancy */
  CHECK_EQ_INT(stn(&r, "C")->units, 7);
  CHECK_EQ_INT(stn(&r, "C")->occupancy_ms, 0);
  CHECK(near(stn(&r, "C")->units_per_hour, 0));
  CHECK_EQ_INT(r.factory.units, 15);
  CHECK(near(r.factory.units_per_hour, 7.5)); /* 15 / 2 h */
  CHECK_EQ_INT(r.factory.events, 4);
  CHECK_EQ_INT(r.n_workers, 1);
  CHECK_EQ_INT(r.n_stations, 2);
  metrics_result_clear(&r);
}

/* Absent counts for membership but not utilization; utilization 0 when 0;
 * units_per_hour 0 when working is 0; the factory mean skips workers without
 * working+idle. */
static void test_utilization_rules(void) {
  metrics_event e[] = {
      ev("e1", T0, W, "w1", "A", 0),
      ev("e2", T0 + 10 * M, I, "w1", "A", 0), /* w1: 10 working, 10 idle → 50 % */
      ev("e3", T0, A, "w2", "A", 0),          /* w2: absent only */
      ev("e4", T0, P, "w3", "A", 2),          /* w3: units, no state */
      ev("e5", T0, W, "w4", "B", 0),          /* w4: working 10 → 100 % */
  };
  metrics_result r = run(e, N(e), T0, T0 + H, 10 * M);
  CHECK_EQ_INT(r.n_workers, 4);
  CHECK(near(wk(&r, "w1")->utilization_pct, 50));
  CHECK(near(wk(&r, "w2")->utilization_pct, 0));
  CHECK_EQ_INT(wk(&r, "w2")->absent_ms, 10 * M);
  CHECK_EQ_INT(wk(&r, "w3")->units, 2);
  CHECK(near(wk(&r, "w3")->units_per_hour, 0));
  CHECK(near(wk(&r, "w3")->utilization_pct, 0));
  CHECK(near(wk(&r, "w4")->utilization_pct, 100));
  CHECK(near(r.factory.avg_utilization_pct, 75)); /* (50 + 100) / 2 */
  CHECK_EQ_INT(r.factory.workers, 4);
  metrics_result_clear(&r);

  metrics_event e2[] = {ev("e1", T0, A, "w1", "A", 0)};
  r = run(e2, N(e2), T0, T0 + H, 10 * M);
  CHECK(near(r.factory.avg_utilization_pct, 0));
  CHECK(near(r.factory.units_per_hour, 0));
  metrics_result_clear(&r);

  r = run(NULL, 0, T0, T0 + H, 10 * M);
  CHECK_EQ_INT(r.n_workers, 0);
  CHECK_EQ_INT(r.n_stations, 0);
  CHECK_EQ_INT(r.factory.events, 0);
  CHECK(near(r.factory.avg_utilization_pct, 0));
  metrics_result_clear(&r);
}

/* Lists sorted by strcmp: UTF-8 byte order, upper case before lower, a prefix
 * first. */
static void test_sorted_ids(void) {
  static const char *ids[] = {"\xCE\xA9" /* Ω */, "alpha", "\xC3\xA9lan" /* élan */, "Zed", "alph", "a b"};
  static const char *want[] = {"Zed", "a b", "alph", "alpha", "\xC3\xA9lan", "\xCE\xA9"};
  metrics_event e[6];
  for (size_t i = 0; i < 6; i++) e[i] = ev("e", T0 + (int64_t)i, W, ids[i], ids[i], 0);
  metrics_result r = run(e, 6, T0, T0 + H, 10 * M);
  CHECK_EQ_INT(r.n_workers, 6);
  CHECK_EQ_INT(r.n_stations, 6);
  for (size_t i = 0; i < 6 && i < r.n_workers && i < r.n_stations; i++) {
    CHECK_EQ_STR(r.workers[i].worker_id, want[i]);
    CHECK_EQ_STR(r.stations[i].workstation_id, want[i]);
  }
  CHECK(metrics_find_worker(&r, "nobody") == NULL);
  CHECK(metrics_find_station(&r, "alp") == NULL);
  metrics_result_clear(&r);
}

/* max_state 0: every state lasts 0 s; events still make members. */
static void test_zero_cap(void) {
  metrics_event e[] = {ev("e1", T0, W, "w1", "A", 0), ev("e2", T0 + M, I, "w1", "A", 0)};
  metrics_result r = run(e, N(e), T0, T0 + H, 0);
  CHECK_EQ_INT(r.n_workers, 1);
  CHECK_EQ_INT(wk(&r, "w1")->working_ms, 0);
  CHECK_EQ_INT(wk(&r, "w1")->idle_ms, 0);
  CHECK_EQ_INT(wk(&r, "w1")->events, 2);
  metrics_result_clear(&r);
}

static void test_interval_derivation(void) {
  metrics_event e[] = {
      ev("a", T0, W, "w1", "A", 0),         ev("b", T0, I, "w1", "B", 0),          /* tie: "a" lasts 0 */
      ev("p", T0 + M, P, "w1", "A", 1),                                            /* skipped */
      ev("c", T0 + 2 * M, A, "w1", "C", 0), ev("d", T0 + 30 * M, W, "w1", "A", 0), /* after a capped gap */
  };
  metrics_interval iv[5];
  size_t m = metrics_worker_intervals(e, 5, 10 * M, iv);
  CHECK_EQ_INT(m, 4);
  CHECK_EQ_INT(iv[0].start_ms, T0);
  CHECK_EQ_INT(iv[0].end_ms, T0);
  CHECK_EQ_INT(iv[1].end_ms, T0 + 2 * M); /* the product count does not end it */
  CHECK_EQ_STR(iv[1].workstation_id, "B");
  CHECK_EQ_INT(iv[1].type, METRICS_IDLE);
  CHECK_EQ_INT(iv[2].end_ms, T0 + 12 * M);
  CHECK_EQ_INT(iv[2].event_index, 3);
  CHECK_EQ_INT(iv[3].start_ms, T0 + 30 * M);
  CHECK_EQ_INT(iv[3].end_ms, T0 + 40 * M);

  CHECK(metrics_event_cmp(&e[0], &e[1]) < 0);
  CHECK(metrics_event_cmp(&e[1], &e[0]) > 0);
  CHECK(metrics_event_cmp(&e[0], &e[0]) == 0);
}

static void test_union(void) {
  metrics_span s[] = {{10, 20}, {0, 5}, {15, 30}, {5, 7}, {40, 40}, {50, 45}, {12, 13}};
  CHECK_EQ_INT(metrics_union_ms(s, N(s)), 5 + 2 + 20); /* [0,7) ∪ [10,30) */
  CHECK_EQ_INT(metrics_union_ms(NULL, 0), 0);
  metrics_span t[] = {{0, 10}, {10, 20}};
  CHECK_EQ_INT(metrics_union_ms(t, 2), 20);
}

static void test_fetch_range(void) {
  int64_t lo, hi;
  metrics_fetch_range(T0, T0 + H, 10 * M, &lo, &hi);
  CHECK_EQ_INT(lo, T0 - 10 * M);
  CHECK_EQ_INT(hi, T0 + H);

  /* Computing on just the fetched events gives the same figures: e0 ends by
   * its cap before the window; e3 (after to) would end e2 at T0+H+5m, but the
   * window cuts e2 at T0+H anyway. */
  metrics_event e[] = {
      ev("e0", T0 - 11 * M, W, "w1", "A", 0), /* T0-11m .. T0-1m: not fetched */
      ev("e1", T0 - 10 * M, I, "w2", "A", 0), /* T0-10m .. T0: fetched, 0 in window */
      ev("e1b", T0 - 9 * M, I, "w2", "A", 0), /* T0-9m .. T0+1m */
      ev("e2", T0 + H - M, W, "w1", "A", 0),  /* T0+H-1m .. T0+H+5m */
      ev("e3", T0 + H + 5 * M, I, "w1", "A", 0),
  };
  metrics_result all = run(e, N(e), T0, T0 + H, 10 * M);
  metrics_result part = run(e + 1, 3, T0, T0 + H, 10 * M);
  CHECK_EQ_INT(all.n_workers, 2);
  CHECK_EQ_INT(part.n_workers, 2);
  CHECK_EQ_INT(wk(&all, "w1")->working_ms, M);
  CHECK_EQ_INT(wk(&part, "w1")->working_ms, M);
  CHECK_EQ_INT(wk(&all, "w2")->idle_ms, M);
  CHECK_EQ_INT(wk(&part, "w2")->idle_ms, M);
  metrics_result_clear(&all);
  metrics_result_clear(&part);

  /* A cap of 0 still fetches events at exactly from. */
  metrics_fetch_range(T0, T0 + H, 0, &lo, &hi);
  CHECK_EQ_INT(lo, T0);
}

static void test_invalid(void) {
  metrics_result r;
  memset(&r, 0, sizeof r);
  metrics_event e[] = {ev("e1", T0, W, NULL, "A", 0)};
  CHECK_EQ_INT(metrics_compute(e, 1, T0, T0 + H, M, &r), -EINVAL);
  metrics_event f[] = {ev("e1", T0, P, NULL, NULL, 1)};
  CHECK_EQ_INT(metrics_compute(f, 1, T0, T0 + H, M, &r), -EINVAL);
  metrics_event g[] = {ev("e1", T0, (metrics_type)7, "w", "A", 1)};
  CHECK_EQ_INT(metrics_compute(g, 1, T0, T0 + H, M, &r), -EINVAL);
  CHECK_EQ_INT(metrics_compute(NULL, 0, T0, T0, M, &r), -EINVAL);
  CHECK_EQ_INT(metrics_compute(NULL, 0, T0, T0 + 1, -1, &r), -EINVAL);
  CHECK_EQ_INT(metrics_compute(NULL, 0, INT64_MIN, INT64_MAX, M, &r), -EINVAL); /* span overflows */
  CHECK(r.workers == NULL);                                                     /* untouched on failure */

  /* A huge cap saturates instead of overflowing. */
  metrics_event h[] = {ev("e1", T0, W, "w1", "A", 0)};
  r = run(h, 1, T0, T0 + H, INT64_MAX);
  CHECK_EQ_INT(r.n_workers, 1);
  if (r.n_workers) CHECK_EQ_INT(r.workers[0].working_ms, H);
  metrics_result_clear(&r);
  metrics_result_clear(NULL);
}

int main(void) {
  test_basic_states_and_cap();
  test_cap_leaves_no_state();
  test_ties();
  test_window_cuts();
  test_member_by_state_time();
  test_station_union();
  test_state_station();
  test_units();
  test_utilization_rules();
  test_sorted_ids();
  test_zero_cap();
  test_interval_derivation();
  test_union();
  test_fetch_range();
  test_invalid();
  return check_finish("test_collector_metrics");
}
