/* delivery: seq range sets and the delivery figures of SPEC §3 "Delivery
 * tracking", as pure functions so they are testable without a database.
 * A set is a sorted array of disjoint, non-adjacent closed ranges [from, to];
 * every insert keeps it merged. Sets grow through dl_set_add only, which
 * refuses to pass DL_MAX_RANGES ranges (a client sending every other seq
 * cannot make us allocate without bound). */
#ifndef FERRY_DELIVERY_H
#define FERRY_DELIVERY_H

#include <stddef.h>
#include <stdint.h>

#define DL_MAX_RANGES 1000000 /* per set; -E2BIG past it */

typedef struct dl_range {
  int64_t from, to; /* inclusive, 1 <= from <= to */
} dl_range;

typedef struct dl_set {
  dl_range *r;
  size_t n, cap;
} dl_set;

typedef struct dl_figures {
  int64_t high_seq;       /* highest seq seen (rejected included) or declared */
  int64_t received;       /* distinct seqs received */
  int64_t dropped;        /* distinct seqs declared dropped and not received */
  int64_t missing;        /* max(0, high_seq - received - dropped) */
  int64_t contiguous_seq; /* highest n: every seq <= n received or dropped */
} dl_figures;

void dl_set_init(dl_set *s);
void dl_set_free(dl_set *s);
/* Add [from, to], merging with overlapping or adjacent ranges.
 * 0, -EINVAL (from < 1 or to < from), -ENOMEM, -E2BIG. */
int dl_set_add(dl_set *s, int64_t from, int64_t to);
/* Add n seqs in any order (duplicates allowed). Same errors as dl_set_add. */
int dl_set_add_seqs(dl_set *s, const int64_t *seqs, size_t n);
/* Number of seqs in the set. */
int64_t dl_set_count(const dl_set *s);
/* Highest seq in the set, 0 when empty. */
int64_t dl_set_max(const dl_set *s);
/* |a \ b|: seqs in a that are not in b. */
int64_t dl_set_count_minus(const dl_set *a, const dl_set *b);
/* Highest n such that every seq in 1..n is in a or b; 0 if 1 is in neither. */
int64_t dl_contiguous(const dl_set *a, const dl_set *b);
/* The SPEC figures from the received and declared-dropped sets and the
 * highest seq seen in any batch (may be below what the sets hold). */
void dl_figures_compute(const dl_set *received, const dl_set *dropped, int64_t high_seq, dl_figures *ret);

#endif
