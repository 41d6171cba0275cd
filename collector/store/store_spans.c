/* store_spans: see store_spans.h. */
#include "store_spans.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int sts__cmp(st_id_kind ka, const char *a, st_id_kind kb, const char *b) {
  if (ka != kb) return ka < kb ? -1 : 1;
  return strcmp(a, b);
}

static st_id_span *sts__find(sts_spans *s, st_id_kind kind, const char *id) {
  size_t lo = 0, hi = s->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = sts__cmp(s->v[mid].kind, s->v[mid].id, kind, id);
    if (c == 0) return &s->v[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

int sts_add_id(sts_spans *s, st_id_kind kind, const char *id) {
  if (!id || strlen(id) > EV_REF_MAX) return 0;
  if (s->n && sts__cmp(s->v[s->n - 1].kind, s->v[s->n - 1].id, kind, id) >= 0) return 0;
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    st_id_span *v = realloc(s->v, cap * sizeof(*v));
    if (!v) return -ENOMEM;
    s->v = v;
    s->cap = cap;
  }
  st_id_span *e = &s->v[s->n++];
  memset(e, 0, sizeof(*e));
  e->kind = kind;
  snprintf(e->id, sizeof(e->id), "%s", id);
  e->first_ms = INT64_MAX;
  e->last_ms = INT64_MIN;
  return 0;
}

int sts_add_hour(sts_spans *s, int64_t hour) {
  if (s->nh == s->caph) {
    size_t cap = s->caph ? s->caph * 2 : 64;
    int64_t *v = realloc(s->hours, cap * sizeof(*v));
    if (!v) return -ENOMEM;
    s->hours = v;
    s->caph = cap;
  }
  s->hours[s->nh++] = hour;
  return 0;
}

int sts_add_range(sts_spans *s, st_id_kind kind, const char *id, int64_t first, int64_t last) {
  if (!sts__find(s, kind, id)) return 0;
  int r = sts_add_hour(s, first);
  return r == 0 && last != first ? sts_add_hour(s, last) : r;
}

static int sts__hour_cmp(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

void sts_hours_done(sts_spans *s) {
  if (!s->nh) return;
  qsort(s->hours, s->nh, sizeof(int64_t), sts__hour_cmp);
  size_t m = 1;
  for (size_t i = 1; i < s->nh; i++)
    if (s->hours[i] != s->hours[m - 1]) s->hours[m++] = s->hours[i];
  s->nh = m;
}

static void sts__widen(st_id_span *e, int64_t ts) {
  if (!e) return;
  if (ts < e->first_ms) e->first_ms = ts;
  if (ts > e->last_ms) e->last_ms = ts;
}

void sts_fold(sts_spans *s, const char *worker_id, const char *workstation_id, int64_t ts_ms) {
  if (worker_id) sts__widen(sts__find(s, ST_ID_WORKER, worker_id), ts_ms);
  if (workstation_id) sts__widen(sts__find(s, ST_ID_STATION, workstation_id), ts_ms);
}

void sts_finish(sts_spans *s, st_id_span **ret, size_t *ret_n) {
  for (size_t i = 0; i < s->n; i++)
    if (s->v[i].first_ms > s->v[i].last_ms) s->v[i].first_ms = s->v[i].last_ms = 0; /* none found */
    else s->v[i].seen = true;
  *ret = s->v;
  *ret_n = s->n;
  s->v = NULL;
  s->n = s->cap = 0;
  sts_clear(s);
}

void sts_clear(sts_spans *s) {
  free(s->v);
  free(s->hours);
  memset(s, 0, sizeof(*s));
}
