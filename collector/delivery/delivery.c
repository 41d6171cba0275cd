/* delivery: merged seq range sets and the SPEC's delivery figures (see
 * delivery.h). Kept free of SQLite and I/O so the arithmetic — the part that
 * decides whether an operator sees "missing" events — is unit-tested alone. */
#include "delivery.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void dlv_set_init(dlv_set *s) { memset(s, 0, sizeof(*s)); }

void dlv_set_clear(dlv_set *s) {
  if (!s) return;
  free(s->r);
  memset(s, 0, sizeof(*s));
}

static int dlv__reserve(dlv_set *s, size_t need) {
  if (need <= s->cap) return 0;
  if (need > DLV_MAX_RANGES) return -E2BIG;
  size_t cap = s->cap ? s->cap * 2 : 8;
  while (cap < need) cap *= 2;
  if (cap > DLV_MAX_RANGES) cap = DLV_MAX_RANGES;
  dlv_range *r = realloc(s->r, cap * sizeof(*r));
  if (!r) return -ENOMEM;
  s->r = r;
  s->cap = cap;
  return 0;
}

int dlv_set_add(dlv_set *s, int64_t from, int64_t to) {
  if (from < 1 || to < from) return -EINVAL;
  /* first range that ends at or after from-1 (could touch or overlap) */
  size_t lo = 0, hi = s->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->r[mid].to < from - 1) lo = mid + 1;
    else hi = mid;
  }
  size_t first = lo, last = lo;                      /* [first, last) are merged into the new range */
  while (last < s->n && s->r[last].from - 1 <= to) { /* overlaps or touches */
    if (s->r[last].from < from) from = s->r[last].from;
    if (s->r[last].to > to) to = s->r[last].to;
    last++;
  }
  if (first == last) {
    int r = dlv__reserve(s, s->n + 1);
    if (r < 0) return r;
    memmove(&s->r[first + 1], &s->r[first], (s->n - first) * sizeof(dlv_range));
    s->n++;
  } else if (last - first > 1) {
    memmove(&s->r[first + 1], &s->r[last], (s->n - last) * sizeof(dlv_range));
    s->n -= last - first - 1;
  }
  s->r[first].from = from;
  s->r[first].to = to;
  return 0;
}

static int dlv__cmp64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

int dlv_set_add_seqs(dlv_set *s, const int64_t *seqs, size_t n) {
  if (n == 0) return 0;
  int64_t *v = malloc(n * sizeof(*v));
  if (!v) return -ENOMEM;
  memcpy(v, seqs, n * sizeof(*v));
  qsort(v, n, sizeof(*v), dlv__cmp64);
  int r = v[0] < 1 ? -EINVAL : 0;
  size_t i = 0;
  while (i < n && r == 0) {
    int64_t from = v[i], to = v[i];
    i++;
    while (i < n && v[i] - 1 <= to) to = v[i++]; /* sorted: v[i] >= to */
    r = dlv_set_add(s, from, to);
  }
  free(v);
  return r;
}

int64_t dlv_set_count(const dlv_set *s) {
  int64_t c = 0;
  for (size_t i = 0; i < s->n; i++) c += s->r[i].to - s->r[i].from + 1;
  return c;
}

int64_t dlv_set_max(const dlv_set *s) { return s->n ? s->r[s->n - 1].to : 0; }

int64_t dlv_set_count_minus(const dlv_set *a, const dlv_set *b) {
  int64_t c = 0;
  size_t j = 0;
  for (size_t i = 0; i < a->n; i++) {
    int64_t from = a->r[i].from, to = a->r[i].to;
    int64_t overlap = 0;
    while (j < b->n && b->r[j].to < from) j++;
    for (size_t k = j; k < b->n && b->r[k].from <= to; k++) {
      int64_t lo = b->r[k].from > from ? b->r[k].from : from;
      int64_t hi = b->r[k].to < to ? b->r[k].to : to;
      if (hi >= lo) overlap += hi - lo + 1;
    }
    c += (to - from + 1) - overlap;
  }
  return c;
}

int64_t dlv_contiguous(const dlv_set *a, const dlv_set *b) {
  /* walk both sorted lists in order of from, extending the prefix 1..n */
  int64_t n = 0;
  size_t i = 0, j = 0;
  for (;;) {
    const dlv_range *next = NULL;
    if (i < a->n && (j >= b->n || a->r[i].from <= b->r[j].from)) next = &a->r[i++];
    else if (j < b->n) next = &b->r[j++];
    if (!next || next->from > n + 1) return n;
    if (next->to > n) n = next->to;
  }
}

void dlv_figures_compute(const dlv_set *received, const dlv_set *dropped, int64_t high_seq,
                         dlv_figures *ret) {
  dlv_figures f;
  f.received = dlv_set_count(received);
  f.dropped = dlv_set_count_minus(dropped, received);
  f.high_seq = high_seq;
  if (dlv_set_max(received) > f.high_seq) f.high_seq = dlv_set_max(received);
  if (dlv_set_max(dropped) > f.high_seq) f.high_seq = dlv_set_max(dropped);
  f.missing = f.high_seq - f.received - f.dropped;
  if (f.missing < 0) f.missing = 0;
  f.contiguous_seq = dlv_contiguous(received, dropped);
  *ret = f;
}
