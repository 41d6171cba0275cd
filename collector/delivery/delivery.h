/* delivery: seq range sets and the delivery figures of SPEC §3 "Delivery
 * tracking", as pure functions so they are testable without a database.
 * A set is a sorted array of disjoint, non-adjacent closed ranges [from, to];
 * every insert keeps it merged. Sets grow through dlv_set_add only, which
 * refuses to pass DLV_MAX_RANGES ranges (a client sending every other seq
 * cannot make us allocate without bound). */
#ifndef FERRY_DELIVERY_H
#define FERRY_DELIVERY_H

#include <stddef.h>
#include <stdint.h>

#define DLV_MAX_RANGES 1000000 /* per set; -E2BIG past it */

typedef struct dlv_range {
  int64_t from, to; /* inclusive, 1 <= from <= to */
} dlv_range;

typedef struct dlv_set {
  dlv_range *r;
  size_t n, cap;
} dlv_set;

typedef struct dlv_figures {
  int64_t high_seq;       /* highest seq seen (rejected included) or declared */
  int64_t received;       /* distinct seqs received */
  int64_t dropped;        /* distinct seqs declared dropped and not received */
  int64_t missing;        /* max(0, high_seq - received - dropped) */
  int64_t contiguous_seq; /* highest n: every seq <= n received or dropped */
} dlv_figures;

void dlv_set_init(dlv_set *s);
void dlv_set_clear(dlv_set *s); /* frees the ranges; the set itself is the caller's */
/* Add [from, to], merging with overlapping or adjacent ranges.
 * 0, -EINVAL (from < 1 or to < from), -ENOMEM, -E2BIG. */
int dlv_set_add(dlv_set *s, int64_t from, int64_t to);
/* Add n seqs in any order (duplicates allowed). Same errors as dlv_set_add. */
int dlv_set_add_seqs(dlv_set *s, const int64_t *seqs, size_t n);
/* Number of seqs in the set. */
int64_t dlv_set_count(const dlv_set *s);
/* Highest seq in the set, 0 when empty. */
int64_t dlv_set_max(const dlv_set *s);
/* |a \ b|: seqs in a that are not in b. */
int64_t dlv_set_count_minus(const dlv_set *a, const dlv_set *b);
/* Highest n such that every seq in 1..n is in a or b; 0 if 1 is in neither. */
int64_t dlv_contiguous(const dlv_set *a, const dlv_set *b);
/* The SPEC figures from the received and declared-dropped sets and the
 * highest seq seen in any batch (may be below what the sets hold). */
void dlv_figures_compute(const dlv_set *received, const dlv_set *dropped, int64_t high_seq, dlv_figures *ret);

#endif
