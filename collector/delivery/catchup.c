/* catchup: backlog trends and catch-up estimates per agent (see catchup.h),
 * in an open hash table keyed by agent_id. */
#include "catchup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CU_SPAN_MS     2000u   /* the trend is measured over spans at least this long */
#define CU_STALE_MS    120000u /* no report this long: the estimate is unknown */
#define CU_DEFAULT_MAX 65536u
#define CU_ID_MAX      64

typedef struct cu_entry {
  char id[CU_ID_MAX + 1];
  bool used;
  int64_t backlog;      /* latest report */
  uint64_t last_ms;     /* when it came */
  int64_t span_backlog; /* at the start of the current span */
  uint64_t span_ms;
  bool has_trend;
  double trend;
} cu_entry;

struct cu_table {
  cu_entry *e;
  size_t cap, n, max;
};

cu_table *cu_new(size_t max_agents) {
  cu_table *t = calloc(1, sizeof(*t));
  if (!t) return NULL;
  t->max = max_agents ? max_agents : CU_DEFAULT_MAX;
  return t;
}

void cu_free(cu_table *t) {
  if (!t) return;
  free(t->e);
  free(t);
}

static size_t cu__hash(const char *s) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

/* The slot of id, or the empty slot where it would go (cap > n always). */
static cu_entry *cu__slot(const cu_table *t, const char *id) {
  size_t i = cu__hash(id) & (t->cap - 1);
  while (t->e[i].used && strcmp(t->e[i].id, id) != 0) i = (i + 1) & (t->cap - 1);
  return &t->e[i];
}

static int cu__grow(cu_table *t) {
  size_t ncap = t->cap ? t->cap * 2 : 64;
  cu_entry *old = t->e, *ne = calloc(ncap, sizeof(*ne));
  if (!ne) return -ENOMEM;
  size_t ocap = t->cap;
  t->e = ne;
  t->cap = ncap;
  for (size_t i = 0; i < ocap; i++)
    if (old[i].used) *cu__slot(t, old[i].id) = old[i];
  free(old);
  return 0;
}

/* Remove the entry heard from least recently (table at its bound). */
static void cu__evict(cu_table *t) {
  size_t victim = t->cap;
  for (size_t i = 0; i < t->cap; i++)
    if (t->e[i].used && (victim == t->cap || t->e[i].last_ms < t->e[victim].last_ms)) victim = i;
  if (victim == t->cap) return;
  /* rebuild without it (open addressing: deleting in place breaks probes) */
  cu_entry *old = t->e;
  cu_entry *ne = calloc(t->cap, sizeof(*ne));
  if (!ne) {
    old[victim].used = false; /* degrade: a probe chain may lose later entries */
    t->n--;
    return;
  }
  t->e = ne;
  for (size_t i = 0; i < t->cap; i++)
    if (old[i].used && i != victim) *cu__slot(t, old[i].id) = old[i];
  free(old);
  t->n--;
}

int cu_note(cu_table *t, const char *agent_id, int64_t backlog, uint64_t now_ms) {
  char id[CU_ID_MAX + 1];
  snprintf(id, sizeof(id), "%s", agent_id);
  cu_entry *e = t->cap ? cu__slot(t, id) : NULL;
  if (!e || !e->used) {
    if (t->n >= t->max) cu__evict(t);
    if ((t->n + 1) * 2 > t->cap && cu__grow(t) < 0) return -ENOMEM;
    e = cu__slot(t, id);
    memset(e, 0, sizeof(*e));
    memcpy(e->id, id, sizeof(id));
    e->used = true;
    e->span_backlog = backlog;
    e->span_ms = now_ms;
    t->n++;
  }
  if (now_ms - e->last_ms > CU_STALE_MS && e->last_ms) { /* a new start after silence */
    e->has_trend = false;
    e->span_backlog = backlog;
    e->span_ms = now_ms;
  }
  e->backlog = backlog;
  e->last_ms = now_ms;
  if (now_ms >= e->span_ms + CU_SPAN_MS) {
    double r = (double)(backlog - e->span_backlog) * 1000.0 / (double)(now_ms - e->span_ms);
    e->trend = e->has_trend ? 0.5 * e->trend + 0.5 * r : r;
    e->has_trend = true;
    e->span_backlog = backlog;
    e->span_ms = now_ms;
  }
  return 0;
}

cu_estimate cu_get(const cu_table *t, const char *agent_id, uint64_t now_ms) {
  cu_estimate est = {0};
  if (!t || !t->cap) return est;
  char id[CU_ID_MAX + 1];
  snprintf(id, sizeof(id), "%s", agent_id);
  const cu_entry *e = cu__slot(t, id);
  if (!e->used || now_ms > e->last_ms + CU_STALE_MS) return est;
  if (e->backlog <= 0) {
    est.has_eta = true; /* nothing to catch up */
    est.catch_up_s = 0;
  }
  if (!e->has_trend) return est;
  est.has_trend = true;
  est.trend_per_s = e->trend;
  if (e->backlog > 0 && e->trend < 0) {
    est.has_eta = true;
    est.catch_up_s = (double)e->backlog / -e->trend;
  }
  return est;
}
