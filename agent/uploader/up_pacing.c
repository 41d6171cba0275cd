/* up_pacing: AIMD on the uploads in flight (see up_pacing.h). */
#include "up_pacing.h"

void pc_init(pc_state *p, unsigned max_window) {
  p->max = max_window ? max_window : 1;
  p->window = 1; /* start small: the collector may be busy with the fleet */
  p->last_latency_ms = 0;
  p->decreases = 0;
}

void pc_set_max(pc_state *p, unsigned max_window) {
  p->max = max_window ? max_window : 1;
  if (p->window > p->max) p->window = p->max;
}

static void pc__halve(pc_state *p) {
  p->window /= 2;
  if (p->window < 1) p->window = 1;
  p->decreases++;
}

void pc_on_ack(pc_state *p, double latency_ms) {
  p->last_latency_ms = latency_ms;
  if (latency_ms > PC_LATENCY_HIGH_MS) {
    pc__halve(p);
    return;
  }
  p->window += 1.0 / p->window;
  if (p->window > p->max) p->window = p->max;
}

void pc_on_busy(pc_state *p) { pc__halve(p); }

unsigned pc_allowed(const pc_state *p) {
  unsigned n = (unsigned)p->window;
  return n < 1 ? 1 : n > p->max ? p->max : n;
}
