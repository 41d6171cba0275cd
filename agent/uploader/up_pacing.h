/* up_pacing: how many uploads the agent keeps in flight, paced by the
 * collector's answers — additive increase, multiplicative decrease (the
 * TCP rule): every acknowledged batch answered in under LATENCY_HIGH_MS
 * widens the window by 1/window (one more upload per window's worth of
 * answers) up to the configured maximum; a 429/503, a failure, or an answer
 * slower than that halves it (at least 1). A busy collector is not hammered
 * (and its Retry-After is honoured by the retry timer, apart from this); an
 * idle one gets the full window. Pure. */
#ifndef FERRY_AGENT_UP_PACING_H
#define FERRY_AGENT_UP_PACING_H

#include <stdbool.h>

/* An answer slower than this counts as a sign of overload: live events
 * must reach the collector within 2 s of their 202 (SPEC §6.2). */
#define PC_LATENCY_HIGH_MS 1000.0

typedef struct pc_state {
  double window; /* uploads allowed in flight, 1 ≤ window ≤ max */
  unsigned max;
  double last_latency_ms;
  unsigned decreases; /* times halved, since start */
} pc_state;

void pc_init(pc_state *p, unsigned max_window);
/* A new maximum (reload); the window is clamped to it. */
void pc_set_max(pc_state *p, unsigned max_window);
/* A 200 that acknowledged a batch, answered latency_ms after it was sent. */
void pc_on_ack(pc_state *p, double latency_ms);
/* 429, 503, 408, a timeout or a network error: the collector is busy or away. */
void pc_on_busy(pc_state *p);
/* Uploads that may be in flight now. */
unsigned pc_allowed(const pc_state *p);

#endif
