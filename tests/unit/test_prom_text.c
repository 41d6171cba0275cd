/* test_prom_text: the Prometheus text writer both programs use — exact
 * lines for HELP/TYPE, labelled samples with escaped values, value formats,
 * a histogram series, and a page over its bound failing as a whole. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "prom_text.h"

static void test_lines(void) {
  strbuf b;
  sb_init(&b, 1 << 16);
  pt_metric_u64(&b, "x_total", "counter", "Things.", 18446744073709551615ull);
  pt_metric_i64(&b, "g", "gauge", "Signed.", -5);
  pt_metric_f64(&b, "s", "gauge", "Secs.", 1.23456, 3);
  pt_sample_u64(&b, "i", (pt_label[]){{"a", "q\"b\\c\nd"}, {"e", NULL}}, 2, 1);
  CHECK_EQ_STR(b.p, "# HELP x_total Things.\n# TYPE x_total counter\nx_total 18446744073709551615\n"
                    "# HELP g Signed.\n# TYPE g gauge\ng -5\n"
                    "# HELP s Secs.\n# TYPE s gauge\ns 1.235\n"
                    "i{a=\"q\\\"b\\\\c\\nd\",e=\"\"} 1\n");
  sb_clear(&b);
}

static void test_histogram(void) {
  strbuf b;
  sb_init(&b, 1 << 16);
  static const double le[] = {0.001, 0.25, 10};
  static const uint64_t cum[] = {1, 3, 4};
  pt_histogram(&b, "d", &(pt_label){"route", "x"}, 1, le, cum, 3, 5, 12.5);
  CHECK_EQ_STR(b.p, "d_bucket{route=\"x\",le=\"0.001\"} 1\n"
                    "d_bucket{route=\"x\",le=\"0.25\"} 3\n"
                    "d_bucket{route=\"x\",le=\"10\"} 4\n"
                    "d_bucket{route=\"x\",le=\"+Inf\"} 5\n"
                    "d_sum{route=\"x\"} 12.500000\n"
                    "d_count{route=\"x\"} 5\n");
  sb_clear(&b);
  sb_init(&b, 1 << 16);
  pt_histogram(&b, "u", NULL, 0, le, cum, 1, 2, 0);
  CHECK_EQ_STR(b.p, "u_bucket{le=\"0.001\"} 1\nu_bucket{le=\"+Inf\"} 2\nu_sum 0.000000\nu_count 2\n");
  sb_clear(&b);
}

static void test_bound(void) {
  char buf[40];
  strbuf b;
  sb_init_fixed(&b, buf, sizeof(buf));
  pt_metric_u64(&b, "a_long_metric_name_total", "counter", "Help.", 1);
  CHECK_EQ_INT(b.err, -ENOSPC);
  CHECK(b.len < sizeof(buf));
}

int main(void) {
  test_lines();
  test_histogram();
  test_bound();
  return check_finish("test_prom_text");
}
