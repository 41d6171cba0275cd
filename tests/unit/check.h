/* check.h: the tiny assertion kit of ferry's unit tests. A failed CHECK prints
 * file:line and the expression and counts a failure; the test's main returns
 * check_finish(), nonzero when anything failed or nothing was checked, so
 * CTest sees it. */
#ifndef FERRY_CHECK_H
#define FERRY_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_failures_;
static int check_count_;

#define CHECK(cond)                                                            \
  do {                                                                         \
    check_count_++;                                                            \
    if (!(cond)) {                                                             \
      check_failures_++;                                                       \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)

#define CHECK_EQ_INT(a, b)                                                                           \
  do {                                                                                               \
    long long a_ = (long long)(a), b_ = (long long)(b);                                              \
    check_count_++;                                                                                  \
    if (a_ != b_) {                                                                                  \
      check_failures_++;                                                                             \
      fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b, a_, b_); \
    }                                                                                                \
  } while (0)

#define CHECK_EQ_STR(a, b)                                                                      \
  do {                                                                                          \
    const char *a_ = (a), *b_ = (b);                                                            \
    check_count_++;                                                                             \
    if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                    \
      check_failures_++;                                                                        \
      fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, #a, #b, \
              a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                          \
    }                                                                                           \
  } while (0)

/* A test that ran no check at all proves nothing: that fails too (a main
 * that forgot to call its tests, a loop that never ran). */
static inline int check_finish(const char *name) {
  printf("%s: %d checks, %d failed\n", name, check_count_, check_failures_);
  if (check_count_ == 0) fprintf(stderr, "%s: ran no checks\n", name);
  return check_failures_ || check_count_ == 0 ? 1 : 0;
}

#endif
