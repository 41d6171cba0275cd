/* ratelimit: the collector-wide slots, queue and waiters' turns, and token
 * buckets and in-progress counts per agent (see ratelimit.h), in a chained
 * hash table of bounded size. Waiters are also on a list of their own, in
 * the order they were refused; queued tickets on a FIFO. */
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
#define RL_WAIT_GRACE_MS      2000u /* a waiter's turn outlives its Retry-After by this */
#define RL_RETRY_MAX_S        30u   /* the longest Retry-After the queue asks for */
#define RL_RATE_WINDOW_MS     1000u /* completions are counted over spans this long */

typedef struct rl_entry rl_entry;

typedef enum { TK_ADMITTED = 0, TK_QUEUED, TK_RUNNING } tk_stage;

struct rl_ticket {
  rl_entry *e;
  tk_stage stage;
  uint64_t bytes; /* counted in pending_bytes while not TK_RUNNING */
  rl_ticket *qnext;
  void (*go)(void *);
  void *arg;
};

struct rl_entry {
  rl_entry *next;
  rl_table *t;
  double tokens;
  uint64_t last_ms;
  unsigned inflight;
  uint64_t wait_until_ms; /* a waiter until then; 0 = not waiting */
  uint64_t wait_bytes;    /* a waiter: the body it was refused with (counted in owed_bytes) */
  rl_entry *wprev, *wnext;
  char agent_id[AUTH_AGENT_ID_MAX + 1];
};

struct rl_table {
  rl_config cfg;
  size_t n;
  unsigned inflight;      /* collector-wide: batches applied */
  unsigned pending;       /* admitted, not applied yet (being read, queued) */
  uint64_t pending_bytes; /* their bodies */
  uint64_t owed_bytes;    /* waiters' bodies: room kept for them under queue_bytes */
  rl_ticket *q_head, *q_tail;
  size_t n_wait;
  rl_entry *wait_head, *wait_tail;
  uint64_t done_total; /* requests released since start */
  uint64_t span_t0_ms, span_done0;
  double done_per_s; /* completions per second lately; 0 = not known yet */
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
      if (e->inflight == 0 && !e->wait_until_ms && (t->cfg.rate <= 0 || e->tokens >= t->cfg.burst)) {
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

static void rl__unwait(rl_table *t, rl_entry *e) {
  if (!e->wait_until_ms) return;
  if (e->wprev) e->wprev->wnext = e->wnext;
  else t->wait_head = e->wnext;
  if (e->wnext) e->wnext->wprev = e->wprev;
  else t->wait_tail = e->wprev;
  e->wprev = e->wnext = NULL;
  e->wait_until_ms = 0;
  t->owed_bytes -= e->wait_bytes;
  e->wait_bytes = 0;
  t->n_wait--;
}

/* Forget waiters whose turn lapsed (they did not come back in time). */
static void rl__expire(rl_table *t, uint64_t now_ms) {
  for (rl_entry *e = t->wait_head, *nx; e; e = nx) {
    nx = e->wnext;
    if (e->wait_until_ms < now_ms) rl__unwait(t, e);
  }
}

/* Keep the completion rate up to date (a blend of the last spans). */
static void rl__rate(rl_table *t, uint64_t now_ms) {
  if (!t->span_t0_ms) {
    t->span_t0_ms = now_ms ? now_ms : 1;
    t->span_done0 = t->done_total;
    return;
  }
  if (now_ms < t->span_t0_ms + RL_RATE_WINDOW_MS) return;
  double r = (double)(t->done_total - t->span_done0) * 1000.0 / (double)(now_ms - t->span_t0_ms);
  t->done_per_s = t->done_per_s > 0 ? 0.5 * t->done_per_s + 0.5 * r : r;
  t->span_t0_ms = now_ms;
  t->span_done0 = t->done_total;
}

/* Seconds until a place is likely free for one more waiter: the batches
 * ahead of it (queued and waiting) at the rate they complete. */
static unsigned rl__queue_retry(const rl_table *t) {
  if (t->done_per_s <= 0) return 1;
  double ahead = (double)t->pending + (double)t->n_wait + 1.0;
  double s = ceil(ahead / t->done_per_s);
  return s < 1 ? 1u : s > RL_RETRY_MAX_S ? RL_RETRY_MAX_S : (unsigned)s;
}

/* The collector-wide bound: whether e may be admitted now. */
static bool rl__place(rl_table *t, rl_entry *e, uint64_t bytes, uint64_t now_ms, unsigned *ret_retry_s) {
  if (!t->cfg.max_inflight) return true;
  rl__rate(t, now_ms);
  rl__expire(t, now_ms);
  unsigned cap = t->cfg.max_inflight + t->cfg.queue_max;
  unsigned used = t->inflight + t->pending;
  unsigned free_places = used < cap ? cap - used : 0;
  bool turn = e->wait_until_ms != 0;
  /* the byte budget: one batch alone always fits; room the waiters were
   * refused for is theirs, as places are */
  if (t->cfg.queue_bytes) {
    uint64_t ahead = t->pending_bytes + (turn ? 0 : t->owed_bytes);
    bool alone = t->pending_bytes == 0 && (turn || t->n_wait == 0);
    if (!alone && ahead + bytes > t->cfg.queue_bytes) free_places = 0;
  }
  /* a waiter takes any free place; another agent only one no waiter is owed */
  if (free_places && (turn || free_places > t->n_wait)) {
    rl__unwait(t, e);
    return true;
  }
  unsigned retry = rl__queue_retry(t);
  uint64_t until = now_ms + (uint64_t)retry * 1000u + RL_WAIT_GRACE_MS;
  if (!turn) {
    e->wprev = t->wait_tail;
    e->wnext = NULL;
    if (t->wait_tail) t->wait_tail->wnext = e;
    else t->wait_head = e;
    t->wait_tail = e;
    t->n_wait++;
  }
  t->owed_bytes = t->owed_bytes - e->wait_bytes + bytes;
  e->wait_bytes = bytes;
  e->wait_until_ms = until; /* a waiter refused again keeps its place, for longer */
  *ret_retry_s = retry;
  return false;
}

rl_verdict rl_admit(rl_table *t, const char *agent_id, uint64_t now_ms, rl_ticket **ret_ticket,
                    unsigned *ret_retry_s) {
  return rl_admit_sized(t, agent_id, 0, now_ms, ret_ticket, ret_retry_s);
}

rl_verdict rl_admit_sized(rl_table *t, const char *agent_id, uint64_t bytes, uint64_t now_ms,
                          rl_ticket **ret_ticket, unsigned *ret_retry_s) {
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
  if (t->cfg.rate > 0 && e->tokens < 1.0) {
    double wait = (1.0 - e->tokens) / t->cfg.rate;
    *ret_retry_s = wait < 1.0 ? 1u : wait > 3600.0 ? 3600u : (unsigned)ceil(wait);
    return RL_RATE;
  }
  if (!rl__place(t, e, bytes, now_ms, ret_retry_s)) return RL_BUSY;
  rl_ticket *tk = calloc(1, sizeof(*tk));
  if (!tk) {
    *ret_retry_s = 1;
    return RL_FULL;
  }
  if (t->cfg.rate > 0) e->tokens -= 1.0;
  tk->e = e;
  tk->stage = TK_ADMITTED;
  tk->bytes = bytes;
  e->inflight++;
  t->pending++;
  t->pending_bytes += bytes;
  *ret_ticket = tk;
  return RL_OK;
}

void rl_ticket_bytes(rl_ticket *tk, uint64_t bytes) {
  if (!tk || tk->stage == TK_RUNNING) return;
  rl_table *t = tk->e->t;
  t->pending_bytes = t->pending_bytes - tk->bytes + bytes;
  tk->bytes = bytes;
}

/* tk leaves the admitted-not-applied count (to a slot, or over). */
static void rl__unpend(rl_table *t, rl_ticket *tk) {
  if (t->pending) t->pending--;
  t->pending_bytes = t->pending_bytes >= tk->bytes ? t->pending_bytes - tk->bytes : 0;
  tk->bytes = 0;
}

bool rl_start(rl_ticket *tk, void (*go)(void *arg), void *arg) {
  if (!tk || tk->stage != TK_ADMITTED) return true;
  rl_table *t = tk->e->t;
  if (!t->cfg.max_inflight || (t->inflight < t->cfg.max_inflight && !t->q_head)) {
    tk->stage = TK_RUNNING;
    rl__unpend(t, tk);
    t->inflight++;
    return true;
  }
  tk->stage = TK_QUEUED;
  tk->go = go;
  tk->arg = arg;
  tk->qnext = NULL;
  if (t->q_tail) t->q_tail->qnext = tk;
  else t->q_head = tk;
  t->q_tail = tk;
  return false;
}

static void rl__unqueue(rl_table *t, rl_ticket *tk) {
  rl_ticket **pp = &t->q_head, *prev = NULL;
  while (*pp && *pp != tk) {
    prev = *pp;
    pp = &(*pp)->qnext;
  }
  if (!*pp) return;
  *pp = tk->qnext;
  if (t->q_tail == tk) t->q_tail = prev;
}

void rl_release(void *ticket) {
  rl_ticket *tk = ticket;
  if (!tk) return;
  rl_entry *e = tk->e;
  rl_table *t = e->t;
  if (e->inflight) e->inflight--;
  if (tk->stage == TK_QUEUED) rl__unqueue(t, tk);
  if (tk->stage == TK_RUNNING) {
    if (t->inflight) t->inflight--;
    t->done_total++;
  } else {
    rl__unpend(t, tk);
  }
  free(tk);
  /* hand free slots to the queue, in order */
  while (t->q_head && (!t->cfg.max_inflight || t->inflight < t->cfg.max_inflight)) {
    rl_ticket *nx = t->q_head;
    t->q_head = nx->qnext;
    if (!t->q_head) t->q_tail = NULL;
    nx->stage = TK_RUNNING;
    rl__unpend(t, nx);
    t->inflight++;
    nx->go(nx->arg);
  }
}


size_t rl_count(const rl_table *t) { return t ? t->n : 0; }

unsigned rl_inflight(const rl_table *t) { return t ? t->inflight : 0; }

unsigned rl_pending(const rl_table *t) { return t ? t->pending : 0; }

uint64_t rl_pending_bytes(const rl_table *t) { return t ? t->pending_bytes : 0; }

size_t rl_waiting(rl_table *t, uint64_t now_ms) {
  if (!t) return 0;
  rl__expire(t, now_ms);
  return t->n_wait;
}
