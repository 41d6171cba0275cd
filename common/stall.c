/* stall: see stall.h. Kept apart from the watchdog timers so the rule
 * "busy and no progress for longer than the limit" has one definition. */
#include "stall.h"

uint64_t stall_observe(stall_track *t, bool busy, uint64_t count, uint64_t now_ms) {
  if (!t->started || !busy || count != t->last_count || now_ms < t->good_ms) {
    t->started = true;
    t->last_count = count;
    t->good_ms = now_ms;
    return 0;
  }
  return now_ms - t->good_ms;
}
