/* test_backoff: the retry schedule's promises, checked over many draws —
 * every delay inside its bound, bounds that double then stop at max, and
 * Retry-After honoured within its 10 % jitter. No clocks involved. */
#include <math.h>

#include "backoff.h"
#include "check.h"

#define DRAWS 10000

static void test_ceiling(void) {
  backoff b;
  backoff_init(&b, 0.5, 60, 42);
  const double expect[] = {0.5, 1, 2, 4, 8, 16, 32, 60, 60, 60};
  for (unsigned i = 0; i < sizeof expect / sizeof *expect; i++) {
    CHECK_EQ_INT(b.attempt, i);
    CHECK(backoff_ceiling(&b) == expect[i]);
    double c = backoff_ceiling(&b);
    double d = backoff_next(&b);
    CHECK(d >= 0 && d <= c);
  }
  /* huge attempt counts neither overflow nor loop for long */
  b.attempt = 4000000000u;
  CHECK(backoff_ceiling(&b) == 60);
  double d = backoff_next(&b);
  CHECK(d >= 0 && d <= 60);
  b.attempt = ~0u;
  backoff_next(&b);
  CHECK_EQ_INT(b.attempt, ~0u); /* saturates */
  backoff_reset(&b);
  CHECK_EQ_INT(b.attempt, 0);
  CHECK(backoff_ceiling(&b) == 0.5);

  /* initial above max is capped; zero initial means no wait */
  backoff_init(&b, 100, 10, 1);
  CHECK(backoff_ceiling(&b) == 10);
  backoff_init(&b, 0, 10, 1);
  b.attempt = 50;
  CHECK(backoff_ceiling(&b) == 0);
  CHECK(backoff_next(&b) == 0);
}

static void test_bounds_many(void) {
  backoff b;
  backoff_init(&b, 0.5, 60, 12345);
  for (int i = 0; i < DRAWS; i++) {
    if (i % 20 == 0) backoff_reset(&b);
    double c = backoff_ceiling(&b);
    double d = backoff_next(&b);
    if (!(d >= 0 && d <= c)) {
      CHECK(d >= 0 && d <= c);
      break;
    }
  }
  for (int i = 0; i < DRAWS; i++) {
    double d = backoff_at_max(&b);
    if (!(d >= 0 && d <= 60)) {
      CHECK(d >= 0 && d <= 60);
      break;
    }
  }
  for (int i = 0; i < DRAWS; i++) {
    double u = backoff_uniform(&b);
    if (!(u >= 0 && u < 1)) {
      CHECK(u >= 0 && u < 1);
      break;
    }
  }
  CHECK(1); /* the loops above count only on failure */
}

/* Mean of U·ceiling is ceiling/2; 10k draws put it well within ±10 %. */
static void test_mean(void) {
  backoff b;
  backoff_init(&b, 8, 8, 777);
  double sum = 0, lo = 1e9, hi = -1;
  for (int i = 0; i < DRAWS; i++) {
    backoff_reset(&b);
    double d = backoff_next(&b);
    sum += d;
    if (d < lo) lo = d;
    if (d > hi) hi = d;
  }
  double mean = sum / DRAWS;
  CHECK(mean > 3.6 && mean < 4.4);
  CHECK(lo < 0.5 && hi > 7.5); /* the whole range is used */
  /* at_max is uniform over [0, max] */
  sum = 0;
  for (int i = 0; i < DRAWS; i++) sum += backoff_at_max(&b);
  mean = sum / DRAWS;
  CHECK(mean > 3.6 && mean < 4.4);
}

static void test_retry_after(void) {
  backoff b;
  backoff_init(&b, 0.5, 60, 99);
  const double ras[] = {0, 1, 30, 59.9, 60, 61, 3600, 1e300};
  for (unsigned k = 0; k < sizeof ras / sizeof *ras; k++) {
    double base = ras[k] < 60 ? ras[k] : 60;
    double lo = 1e300, hi = -1;
    for (int i = 0; i < 2000; i++) {
      double d = backoff_retry_after(&b, ras[k]);
      if (d < lo) lo = d;
      if (d > hi) hi = d;
    }
    CHECK(lo >= base);
    CHECK(hi <= base * 1.1);
    CHECK(hi <= 60 * 1.1);
    if (base > 0) CHECK(hi > base * 1.05); /* jitter is actually applied */
  }
  CHECK(backoff_retry_after(&b, -5) == 0);
  CHECK(backoff_retry_after(&b, NAN) == 0);
  unsigned before = b.attempt;
  backoff_retry_after(&b, 1);
  CHECK_EQ_INT(b.attempt, before + 1);
}

static void test_seed(void) {
  backoff a, z;
  backoff_init(&a, 1, 10, 0);
  CHECK(a.rng != 0);
  backoff_init(&z, 1, 10, 0);
  /* same seed, same sequence; and the zero seed does not get stuck at 0 */
  int same = 1, nonzero = 0;
  for (int i = 0; i < 100; i++) {
    double x = backoff_uniform(&a), y = backoff_uniform(&z);
    if (x != y) same = 0;
    if (x != 0) nonzero++;
  }
  CHECK(same);
  CHECK(nonzero > 90);
  backoff_init(&a, 1, 10, 1);
  backoff_init(&z, 1, 10, 2);
  CHECK(backoff_uniform(&a) != backoff_uniform(&z));
}

int main(void) {
  test_ceiling();
  test_bounds_many();
  test_mean();
  test_retry_after();
  test_seed();
  return check_finish("test_backoff");
}
