/* ratelimit: token buckets and in-progress counts per agent (see
 * ratelimit.h), in a chained hash table of bounded size. */
#include "ratelimit.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

#define RL_BUCKETS            1024u
#define RL_DEFAULT_MAX_AGENTS 65536u
#define RL_SWEEP_EVERY_MS     1000u /* a full table is swept at most this often */

struct rl_entry {
  rl_entry *next;
  rl_table *t;
  double tokens;
  uint64_t last_ms;
  unsigned inflight;
  char agent_id[AUTH_AGENT_ID_MAX + 1];
};

struct rl_table {
  rl_config cfg;
  size_t n;
  uint64_t last_sweep_ms;
  bool swept_once;
  rl_entry *buckets[RL_BUCKETS];
};

int rl_new(const rl_config *cfg, rl_table **ret) {
  rl_table *t = calloc(1, sizeof(*t));
  if (!t) return -ENOMEM;
  t->cfg = *cfg;
  if (t->cfg.burst < 1) t->cfg.burst = 1;
  if (t->cfg.max_concurrent < 1) t->cfg.max_concurrent = 1;
  if (!t->cfg.max_agents) t->cfg.max_agents = RL_DEFAULT_MAX_AGENTS;
  if (t->cfg.rate < 0) t->cfg.rate = 0;
  *ret = t;
  return 0;
}

void rl_free(rl_table *t) {
  if (!t) return;
  for (unsigned i = 0; i < RL_BUCKETS; i++)
    for (rl_entry *e = t->buckets[i], *nx; e; e = nx) {
      nx = e->next;
      free(e);
    }
  free(t);
}

static unsigned rl__hash(const char *s) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h % RL_BUCKETS;
}

/* Bring e's bucket up to now. */
static void rl__refill(const rl_table *t, rl_entry *e, uint64_t now_ms) {
  if (now_ms > e->last_ms && t->cfg.rate > 0) {
    e->tokens += (double)(now_ms - e->last_ms) * t->cfg.rate / 1000.0;
    if (e->tokens > t->cfg.burst) e->tokens = t->cfg.burst;
  }
  if (now_ms > e->last_ms) e->last_ms = now_ms;
}

/* Drop entries that hold nothing: no request in progress and a full bucket
 * (forgetting them changes no future answer). */
static void rl__sweep(rl_table *t, uint64_t now_ms) {
  for (unsigned i = 0; i < RL_BUCKETS; i++) {
    rl_entry **pp = &t->buckets[i];
    while (*pp) {
      rl_entry *e = *pp;
      rl__refill(t, e, now_ms);
      if (e->inflight == 0 && (t->cfg.rate <= 0 || e->tokens >= t->cfg.burst)) {
        *pp = e->next;
        free(e);
        t->n--;
      } else {
        pp = &e->next;
      }
    }
  }
  t->last_sweep_ms = now_ms;
  t->swept_once = true;
}

rl_verdict rl_admit(rl_table *t, const char *agent_id, uint64_t now_ms, rl_entry **ret_entry,
                    unsigned *ret_retry_s) {
  size_t len = strlen(agent_id);
  if (len > AUTH_AGENT_ID_MAX) len = AUTH_AGENT_ID_MAX;
  char id[AUTH_AGENT_ID_MAX + 1];
  memcpy(id, agent_id, len);
  id[len] = '\0';
  unsigned b = rl__hash(id);
  rl_entry *e = t->buckets[b];
  while (e && strcmp(e->agent_id, id) != 0) e = e->next;
  if (!e) {
    if (t->n >= t->cfg.max_agents && (!t->swept_once || now_ms - t->last_sweep_ms >= RL_SWEEP_EVERY_MS))
      rl__sweep(t, now_ms);
    if (t->n >= t->cfg.max_agents || !(e = calloc(1, sizeof(*e)))) {
      *ret_retry_s = 1;
      return RL_FULL;
    }
    e->t = t;
    e->tokens = t->cfg.burst;
    e->last_ms = now_ms;
    memcpy(e->agent_id, id, len + 1);
    e->next = t->buckets[b];
    t->buckets[b] = e;
    t->n++;
  }
  rl__refill(t, e, now_ms);
  if (e->inflight >= t->cfg.max_concurrent) {
    *ret_retry_s = 1;
    return RL_CONCURRENT;
  }
  if (t->cfg.rate > 0) {
    if (e->tokens < 1.0) {
      double wait = (1.0 - e->tokens) / t->cfg.rate;
      *ret_retry_s = wait < 1.0 ? 1u : wait > 3600.0 ? 3600u : (unsigned)ceil(wait);
      return RL_RATE;
    }
    e->tokens -= 1.0;
  }
  e->inflight++;
  *ret_entry = e;
  return RL_OK;
}

void rl_release(void *entry) {
  rl_entry *e = entry;
  if (e && e->inflight) e->inflight--;
}

size_t rl_count(const rl_table *t) { return t ? t->n : 0; }
