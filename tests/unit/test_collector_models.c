/* test_collector_models: the model figures and the drift rule
 * (collector/metrics/models.c) on hand-computed cases — every field, each
 * branch of the rule (thresholds just below and above, too few events, a new
 * model version against the previous one's baseline, missing confidence,
 * cameras and rows without a model_version). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "models.h"

#define CHECK_NEAR(a, b) CHECK(fabs((double)(a) - (double)(b)) < 1e-12)

/* n events of type t, the first n_low with confidence lo, the rest hi (has = false: none) */
static void fill(models_cell *c, int n, metrics_type t, bool has, int n_low, double lo, double hi,
                 int64_t ts) {
  for (int i = 0; i < n; i++) models_cell_add_event(c, t, ts + i, has, i < n_low ? lo : hi);
}

static void test_bins(void) {
  CHECK_EQ_INT(models_bin(0), 0);
  CHECK_EQ_INT(models_bin(0.0005), 0);
  CHECK_EQ_INT(models_bin(0.001), 1);
  CHECK_EQ_INT(models_bin(0.29), 290); /* 0.29 * 1000 is 289.99999999999994 */
  CHECK_EQ_INT(models_bin(nextafter(0.29, 0)), 289);
  CHECK_EQ_INT(models_bin(0.5), 500);
  CHECK_EQ_INT(models_bin(nextafter(0.5, 0)), 499);
  CHECK_EQ_INT(models_bin(0.999), 999);
  CHECK_EQ_INT(models_bin(nextafter(1.0, 0)), 999);
  CHECK_EQ_INT(models_bin(1.0), 1000);
  for (int k = 0; k <= 1000; k++) CHECK_EQ_INT(models_bin((double)k / 1000.0), k);
  CHECK_EQ_INT(models_micro(0.1234565), 123457 - (llround(0.1234565 * 1e6) == 123456));
  CHECK_EQ_INT(models_micro(1.0), 1000000);
}

static void test_parse_low(void) {
  int v = -1;
  CHECK_EQ_INT(models_parse_low("0.5", &v), 0);
  CHECK_EQ_INT(v, 500);
  CHECK_EQ_INT(models_parse_low("0.35", &v), 0);
  CHECK_EQ_INT(v, 350);
  CHECK_EQ_INT(models_parse_low("0.29", &v), 0);
  CHECK_EQ_INT(v, 290);
  CHECK_EQ_INT(models_parse_low("0", &v), 0);
  CHECK_EQ_INT(v, 0);
  CHECK_EQ_INT(models_parse_low("1", &v), 0);
  CHECK_EQ_INT(v, 1000);
  CHECK_EQ_INT(models_parse_low("0.3505", &v), -EINVAL);
  CHECK_EQ_INT(models_parse_low("1.5", &v), -EINVAL);
  CHECK_EQ_INT(models_parse_low("-0.1", &v), -EINVAL);
  CHECK_EQ_INT(models_parse_low("nan", &v), -EINVAL);
  CHECK_EQ_INT(models_parse_low("0.5x", &v), -EINVAL);
  CHECK_EQ_INT(models_parse_low("", &v), -EINVAL);
}

static void test_keys_and_set(void) {
  char a[MODELS_KEY_MAX], b[MODELS_KEY_MAX], c[MODELS_KEY_MAX];
  models_key(NULL, a);
  models_key("", b);
  models_key("cam-1", c);
  CHECK(strcmp(a, b) < 0 && strcmp(b, c) < 0); /* none first, then ids in byte order */
  CHECK(models_key_id(a) == NULL);
  CHECK_EQ_STR(models_key_id(b), "");
  CHECK_EQ_STR(models_key_id(c), "cam-1");
  models_set s;
  models_set_init(&s);
  CHECK(models_set_get(&s, "=b", "=v2") != NULL);
  CHECK(models_set_get(&s, "=a", "") != NULL);
  CHECK(models_set_get(&s, "", "=v1") != NULL);
  CHECK(models_set_get(&s, "=b", "=v1") != NULL);
  CHECK(models_set_get(&s, "=b", "=v2") == models_set_get(&s, "=b", "=v2"));
  CHECK_EQ_INT(s.n, 4);
  CHECK_EQ_STR(s.e[0]->camera, "");
  CHECK_EQ_STR(s.e[1]->camera, "=a");
  CHECK_EQ_STR(s.e[2]->model, "=v1");
  CHECK_EQ_STR(s.e[3]->model, "=v2");
  CHECK(models_set_find(&s, "=c", "") == NULL);
  models_set_clear(&s);
}

static void test_hist_pack(void) {
  models_cell a, b;
  models_cell_init(&a);
  models_cell_init(&b);
  fill(&a, 10, METRICS_WORKING, true, 3, 0.25, 0.75, 0);
  uint8_t p[MODELS_HIST_BYTES];
  size_t n = models_hist_pack(a.hist, p); /* two bins: sparse */
  CHECK_EQ_INT(n, 12);
  CHECK_EQ_INT(models_hist_add(b.hist, p, n), 0);
  CHECK_EQ_INT(models_hist_add(b.hist, p, n), 0);
  CHECK_EQ_INT(b.hist[250], 6);
  CHECK_EQ_INT(b.hist[750], 14);
  /* every bin used: dense */
  models_cell d;
  models_cell_init(&d);
  for (int k = 0; k < MODELS_BINS; k++) models_cell_add_event(&d, METRICS_IDLE, 0, true, (double)k / 1000.0);
  n = models_hist_pack(d.hist, p);
  CHECK_EQ_INT(n, MODELS_HIST_BYTES);
  models_cell_init(&b);
  CHECK_EQ_INT(models_hist_add(b.hist, p, n), 0);
  for (int k = 0; k < MODELS_BINS; k++) CHECK_EQ_INT(b.hist[k], 1);
  /* not a histogram */
  CHECK_EQ_INT(models_hist_add(b.hist, p, 10), -EINVAL);
  uint8_t bad[6] = {0xff, 0x7f, 1, 0, 0, 0}; /* bin 32767 */
  CHECK_EQ_INT(models_hist_add(b.hist, bad, 6), -EINVAL);
  CHECK_EQ_INT(models_hist_add(b.hist, NULL, 0), 0);
}

/* every field on ten events with confidences 0.1 .. 1.0 */
static void test_fields(void) {
  models_cell c;
  models_cell_init(&c);
  static const double conf[10] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0};
  static const metrics_type t[10] = {
      METRICS_WORKING, METRICS_WORKING, METRICS_WORKING,       METRICS_WORKING,       METRICS_IDLE,
      METRICS_IDLE,    METRICS_ABSENT,  METRICS_PRODUCT_COUNT, METRICS_PRODUCT_COUNT, METRICS_PRODUCT_COUNT};
  for (int i = 0; i < 10; i++) models_cell_add_event(&c, t[i], 1000 + i, true, conf[i]);
  models_cell_add_event(&c, METRICS_WORKING, 500, false, 0); /* no confidence */
  models_fig f;
  models_figures(&c, NULL, 500, false, &f);
  CHECK_EQ_INT(f.events, 11);
  CHECK_EQ_INT(f.with_conf, 10);
  CHECK(f.has_conf);
  CHECK_NEAR(f.conf_mean, 0.55);
  CHECK_NEAR(f.conf_p10, 0.1); /* nearest rank: ceil(0.1 * 10) = 1st */
  CHECK_NEAR(f.low_rate, 0.4); /* 0.1 .. 0.4; 0.5 is not below 0.5 */
  CHECK_NEAR(f.mix[METRICS_WORKING], 5.0 / 11);
  CHECK_NEAR(f.mix[METRICS_IDLE], 2.0 / 11);
  CHECK_NEAR(f.mix[METRICS_ABSENT], 1.0 / 11);
  CHECK_NEAR(f.mix[METRICS_PRODUCT_COUNT], 3.0 / 11);
  CHECK(!f.flagged);
  CHECK_EQ_INT(f.baseline_events, 0);
  CHECK_EQ_INT(c.last_ms, 1009);
  CHECK_NEAR(models_round4(5.0 / 11), 0.4545);
  /* another threshold from the same counts */
  models_figures(&c, NULL, 501, false, &f);
  CHECK_NEAR(f.low_rate, 0.5);
  /* p10 of 11 values: the 2nd */
  models_cell_add_event(&c, METRICS_IDLE, 0, true, 0.05);
  models_figures(&c, NULL, 500, false, &f);
  CHECK_NEAR(f.conf_p10, 0.1);
  CHECK_NEAR(f.conf_mean, 5.55 / 11);
  /* p10 is rounded down to 0.001 */
  models_cell d;
  models_cell_init(&d);
  models_cell_add_event(&d, METRICS_IDLE, 0, true, 0.6789);
  models_figures(&d, NULL, 500, false, &f);
  CHECK_NEAR(f.conf_p10, 0.678);
  CHECK_NEAR(f.conf_mean, 0.6789);
  /* missing confidence: no rate, no mean */
  models_cell e;
  models_cell_init(&e);
  fill(&e, 5, METRICS_IDLE, false, 0, 0, 0, 0);
  models_figures(&e, NULL, 500, false, &f);
  CHECK(!f.has_conf);
  CHECK_EQ_INT(f.with_conf, 0);
  CHECK_NEAR(f.low_rate, 0);
  CHECK_NEAR(f.mix[METRICS_IDLE], 1);
}

static void test_drift_rate(void) {
  models_cell b, w;
  models_fig f;
  models_cell_init(&b);
  fill(&b, 200, METRICS_WORKING, true, 20, 0.1, 0.9, 0); /* rate 0.10 */
  models_cell_init(&w);
  fill(&w, 200, METRICS_WORKING, true, 50, 0.1, 0.9, 0); /* 0.25: rose by exactly 0.15 */
  models_figures(&w, &b, 500, false, &f);
  CHECK(!f.flagged && !f.reason_rate);
  CHECK_EQ_INT(f.baseline_events, 200);
  models_cell_init(&w);
  fill(&w, 200, METRICS_WORKING, true, 51, 0.1, 0.9, 0); /* 0.255 */
  models_figures(&w, &b, 500, false, &f);
  CHECK(f.flagged && f.reason_rate && !f.reason_mix && !f.reason_version);
  /* a rate that fell is not drift */
  models_figures(&b, &w, 500, false, &f);
  CHECK(!f.flagged);
  /* too few events: 199 in the window, or in the baseline */
  models_cell_init(&w);
  fill(&w, 199, METRICS_WORKING, true, 199, 0.1, 0.9, 0);
  models_figures(&w, &b, 500, false, &f);
  CHECK(!f.flagged);
  CHECK_EQ_INT(f.baseline_events, 200);
  models_cell small;
  models_cell_init(&small);
  fill(&small, 199, METRICS_WORKING, true, 0, 0.1, 0.9, 0);
  models_cell_init(&w);
  fill(&w, 400, METRICS_WORKING, true, 400, 0.1, 0.9, 0);
  models_figures(&w, &small, 500, false, &f);
  CHECK(!f.flagged);
  /* the rate counts only events with a confidence: 200 events, 100 of them
   * with one, 50 low (0.5) against 0.1 */
  models_cell_init(&w);
  fill(&w, 100, METRICS_WORKING, true, 50, 0.1, 0.9, 0);
  fill(&w, 100, METRICS_WORKING, false, 0, 0, 0, 0);
  models_figures(&w, &b, 500, false, &f);
  CHECK(f.reason_rate);
  CHECK_NEAR(f.low_rate, 0.5);
  /* no confidence on either side: only the mix is compared */
  models_cell nb, nw;
  models_cell_init(&nb);
  models_cell_init(&nw);
  fill(&nb, 300, METRICS_WORKING, false, 0, 0, 0, 0);
  fill(&nw, 300, METRICS_WORKING, false, 0, 0, 0, 0);
  models_figures(&nw, &nb, 500, false, &f);
  CHECK(!f.flagged);
  /* confidence only in the window: no rate comparison */
  models_cell_init(&nw);
  fill(&nw, 300, METRICS_WORKING, true, 300, 0.1, 0.1, 0);
  models_figures(&nw, &nb, 500, false, &f);
  CHECK(!f.flagged);
}

static void test_drift_mix(void) {
  models_cell b, w;
  models_fig f;
  models_cell_init(&b);
  fill(&b, 200, METRICS_WORKING, false, 0, 0, 0, 0);
  models_cell_init(&w);
  fill(&w, 150, METRICS_WORKING, false, 0, 0, 0, 0);
  fill(&w, 50, METRICS_IDLE, false, 0, 0, 0, 0); /* TV exactly 0.25 */
  models_figures(&w, &b, 500, false, &f);
  CHECK(!f.flagged);
  models_cell_init(&w);
  fill(&w, 149, METRICS_WORKING, false, 0, 0, 0, 0);
  fill(&w, 51, METRICS_IDLE, false, 0, 0, 0, 0); /* 0.255 */
  models_figures(&w, &b, 500, false, &f);
  CHECK(f.flagged && f.reason_mix && !f.reason_rate);
  /* different sizes: 400 events, 300 working / 100 product_count vs 200 working → TV 0.25 */
  models_cell_init(&w);
  fill(&w, 300, METRICS_WORKING, false, 0, 0, 0, 0);
  fill(&w, 100, METRICS_PRODUCT_COUNT, false, 0, 0, 0, 0);
  models_figures(&w, &b, 500, false, &f);
  CHECK(!f.flagged);
  /* both reasons at once */
  models_cell_init(&b);
  fill(&b, 200, METRICS_WORKING, true, 0, 0.1, 0.9, 0);
  models_cell_init(&w);
  fill(&w, 200, METRICS_ABSENT, true, 200, 0.1, 0.9, 0);
  models_figures(&w, &b, 500, false, &f);
  CHECK(f.flagged && f.reason_mix && f.reason_rate);
}

static void test_compute_versions(void) {
  models_set win, base;
  models_set_init(&win);
  models_set_init(&base);
  /* camera A: v1 in the baseline; v2 (new) in the window, worse */
  fill(models_set_get(&base, "=A", "=v1"), 300, METRICS_WORKING, true, 30, 0.2, 0.9, 1000);
  fill(models_set_get(&base, "=A", "=v0"), 300, METRICS_WORKING, true, 0, 0.2, 0.9, 0); /* older */
  fill(models_set_get(&win, "=A", "=v2"), 300, METRICS_WORKING, true, 120, 0.2, 0.9, 5000);
  /* camera A, v1 still running in the window: compared with its own baseline */
  fill(models_set_get(&win, "=A", "=v1"), 300, METRICS_WORKING, true, 30, 0.2, 0.9, 5000);
  /* camera B without a model_version: its own baseline, flagged by mix */
  fill(models_set_get(&base, "=B", ""), 250, METRICS_WORKING, false, 0, 0, 0, 0);
  fill(models_set_get(&win, "=B", ""), 250, METRICS_IDLE, false, 0, 0, 0, 5000);
  /* events without a camera: never compared with another version */
  fill(models_set_get(&base, "", "=v1"), 300, METRICS_WORKING, false, 0, 0, 0, 0);
  fill(models_set_get(&win, "", "=v2"), 300, METRICS_IDLE, false, 0, 0, 0, 5000);
  /* camera C: a new version whose own baseline is too small — the previous one is used */
  fill(models_set_get(&base, "=C", "=v1"), 300, METRICS_WORKING, true, 0, 0.2, 0.9, 100);
  fill(models_set_get(&base, "=C", "=v2"), 10, METRICS_WORKING, true, 0, 0.2, 0.9, 2000);
  fill(models_set_get(&win, "=C", "=v2"), 300, METRICS_WORKING, true, 0, 0.2, 0.9, 5000);
  /* camera D: a new version, no other version in the baseline */
  fill(models_set_get(&win, "=D", "=v9"), 300, METRICS_WORKING, true, 300, 0.2, 0.9, 5000);

  models_fig f[8];
  CHECK_EQ_INT(win.n, 6);
  models_compute(&win, &base, 500, f);
  /* order: "" < "=A" < "=B" < "=C" < "=D"; v1 < v2 */
  CHECK_EQ_STR(win.e[0]->camera, "");
  CHECK(!f[0].flagged);
  CHECK_EQ_INT(f[0].baseline_events, 0);
  CHECK(f[0].baseline_model_key == NULL);
  CHECK_EQ_STR(win.e[1]->model, "=v1"); /* A v1 against itself: same rate */
  CHECK(!f[1].flagged);
  CHECK_EQ_INT(f[1].baseline_events, 300);
  CHECK_EQ_STR(f[1].baseline_model_key, "=v1");
  CHECK_EQ_STR(win.e[2]->model, "=v2"); /* A v2 against v1 (the latest), 0.4 vs 0.1 */
  CHECK(f[2].flagged && f[2].reason_rate && f[2].reason_version && !f[2].reason_mix);
  CHECK_EQ_STR(f[2].baseline_model_key, "=v1");
  CHECK_EQ_INT(f[2].baseline_events, 300);
  CHECK_EQ_STR(win.e[3]->camera, "=B");
  CHECK(f[3].flagged && f[3].reason_mix && !f[3].reason_version);
  CHECK_EQ_STR(win.e[4]->camera, "=C");
  CHECK(!f[4].flagged);
  CHECK_EQ_STR(f[4].baseline_model_key, "=v1");
  CHECK_EQ_INT(f[4].baseline_events, 300);
  CHECK_EQ_STR(win.e[5]->camera, "=D");
  CHECK(!f[5].flagged);
  CHECK_EQ_INT(f[5].baseline_events, 0);
  models_set_clear(&win);
  models_set_clear(&base);
}

int main(void) {
  test_bins();
  test_parse_low();
  test_keys_and_set();
  test_hist_pack();
  test_fields();
  test_drift_rate();
  test_drift_mix();
  test_compute_versions();
  return check_finish("test_collector_models");
}
