/* test_collector_delivery: the seq range arithmetic behind /v1/agents —
 * merging, counting, contiguous prefix, and the SPEC's figures (missing never
 * negative, a seq dropped and later received counted once). */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "delivery.h"

static void test_merge(void) {
  dlv_set s;
  dlv_set_init(&s);
  CHECK_EQ_INT(dlv_set_add(&s, 5, 7), 0);
  CHECK_EQ_INT(dlv_set_add(&s, 1, 2), 0);
  CHECK_EQ_INT(s.n, 2);
  CHECK_EQ_INT(dlv_set_add(&s, 3, 4), 0); /* touches both: one range 1..7 */
  CHECK_EQ_INT(s.n, 1);
  CHECK_EQ_INT(s.r[0].from, 1);
  CHECK_EQ_INT(s.r[0].to, 7);
  CHECK_EQ_INT(dlv_set_add(&s, 10, 12), 0);
  CHECK_EQ_INT(dlv_set_add(&s, 20, 20), 0);
  CHECK_EQ_INT(dlv_set_add(&s, 11, 25), 0); /* swallows 10..12 and 20 */
  CHECK_EQ_INT(s.n, 2);
  CHECK_EQ_INT(s.r[1].from, 10);
  CHECK_EQ_INT(s.r[1].to, 25);
  CHECK_EQ_INT(dlv_set_add(&s, 2, 3), 0); /* inside: no change */
  CHECK_EQ_INT(s.n, 2);
  CHECK_EQ_INT(dlv_set_count(&s), 7 + 16);
  CHECK_EQ_INT(dlv_set_max(&s), 25);
  CHECK_EQ_INT(dlv_set_add(&s, 0, 3), -EINVAL);
  CHECK_EQ_INT(dlv_set_add(&s, 9, 8), -EINVAL);
  dlv_set_clear(&s);
}

static void test_seqs(void) {
  dlv_set s;
  dlv_set_init(&s);
  int64_t seqs[] = {9, 3, 4, 4, 1, 8, 2, 12};
  CHECK_EQ_INT(dlv_set_add_seqs(&s, seqs, sizeof(seqs) / sizeof(seqs[0])), 0);
  CHECK_EQ_INT(s.n, 3); /* 1..4, 8..9, 12 */
  CHECK_EQ_INT(dlv_set_count(&s), 7);
  CHECK_EQ_INT(s.r[1].from, 8);
  CHECK_EQ_INT(s.r[2].to, 12);
  int64_t bad[] = {3, 0};
  CHECK_EQ_INT(dlv_set_add_seqs(&s, bad, 2), -EINVAL);
  dlv_set_clear(&s);
}

static void test_minus_and_contiguous(void) {
  dlv_set a, b;
  dlv_set_init(&a);
  dlv_set_init(&b);
  dlv_set_add(&a, 1, 10);
  dlv_set_add(&a, 20, 30);
  dlv_set_add(&b, 5, 22);
  CHECK_EQ_INT(dlv_set_count_minus(&a, &b), 4 + 8);
  CHECK_EQ_INT(dlv_set_count_minus(&b, &a), 9);
  CHECK_EQ_INT(dlv_contiguous(&a, &b), 30);
  dlv_set c, d;
  dlv_set_init(&c);
  dlv_set_init(&d);
  CHECK_EQ_INT(dlv_contiguous(&c, &d), 0);
  dlv_set_add(&c, 2, 5);
  CHECK_EQ_INT(dlv_contiguous(&c, &d), 0); /* 1 is in neither */
  dlv_set_add(&d, 1, 1);
  CHECK_EQ_INT(dlv_contiguous(&c, &d), 5);
  dlv_set_add(&d, 7, 9);
  CHECK_EQ_INT(dlv_contiguous(&c, &d), 5); /* 6 missing */
  dlv_set_add(&c, 6, 6);
  CHECK_EQ_INT(dlv_contiguous(&c, &d), 9);
  dlv_set_clear(&a);
  dlv_set_clear(&b);
  dlv_set_clear(&c);
  dlv_set_clear(&d);
}

static void test_figures(void) {
  dlv_set recv, drop;
  dlv_set_init(&recv);
  dlv_set_init(&drop);
  dlv_figures f;
  /* nothing at all */
  dlv_figures_compute(&recv, &drop, 0, &f);
  CHECK_EQ_INT(f.high_seq, 0);
  CHECK_EQ_INT(f.missing, 0);
  /* received 1..3 and 6, dropped 4..5, high 10: 7..10 missing */
  dlv_set_add(&recv, 1, 3);
  dlv_set_add(&recv, 6, 6);
  dlv_set_add(&drop, 4, 5);
  dlv_figures_compute(&recv, &drop, 10, &f);
  CHECK_EQ_INT(f.received, 4);
  CHECK_EQ_INT(f.dropped, 2);
  CHECK_EQ_INT(f.missing, 4);
  CHECK_EQ_INT(f.contiguous_seq, 6);
  /* 5 was declared dropped and then arrived after all: counted once */
  dlv_set_add(&recv, 5, 5);
  dlv_figures_compute(&recv, &drop, 10, &f);
  CHECK_EQ_INT(f.received, 5);
  CHECK_EQ_INT(f.dropped, 1);
  CHECK_EQ_INT(f.missing, 4);
  /* high_seq below what the sets hold (stale): raised, missing never negative */
  dlv_figures_compute(&recv, &drop, 2, &f);
  CHECK_EQ_INT(f.high_seq, 6);
  CHECK(f.missing >= 0);
  CHECK_EQ_INT(f.missing, 0);
  dlv_set_clear(&recv);
  dlv_set_clear(&drop);
}

static void test_many_ranges(void) {
  /* every other seq, then the gaps: ends as one range */
  dlv_set s;
  dlv_set_init(&s);
  for (int64_t i = 1; i <= 2000; i += 2) dlv_set_add(&s, i, i);
  CHECK_EQ_INT(s.n, 1000);
  for (int64_t i = 2000; i >= 2; i -= 2) dlv_set_add(&s, i, i);
  CHECK_EQ_INT(s.n, 1);
  CHECK_EQ_INT(dlv_set_count(&s), 2000);
  dlv_set_clear(&s);
}

int main(void) {
  test_merge();
  test_seqs();
  test_minus_and_contiguous();
  test_figures();
  test_many_ranges();
  return check_finish("test_collector_delivery");
}
