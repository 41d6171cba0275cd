/* store_rollup: see store_rollup.h. Written once so the two backends'
 * maintain() and note_event cannot drift apart. */
#include "store_rollup.h"

#include "metrics.h"
#include "rollup.h"

void sr_stale_hours(const ev_event *e, int64_t max_state_ms, int64_t *ret_h0, int64_t *ret_h1) {
  metrics_event me = {
      .event_id = e->event_id,
      .ts_ms = e->ts_ms,
      .type = (metrics_type)e->type,
      .worker_id = e->worker_id,
      .workstation_id = e->workstation_id,
      .count = e->count,
  };
  rollup_stale_hours(&me, NULL, max_state_ms, ret_h0, ret_h1);
}

int sr_rebuild(const int64_t *hours, size_t n, const sr_writer *w) {
  int r = 0;
  for (size_t i = 0; r == 0 && i < n;) {
    size_t j = i + 1;
    while (j < n && hours[j] == hours[j - 1] + 1) j++;
    r = w->write_hours(w->ctx, hours[i], hours[j - 1] + 1);
    i = j;
  }
  int64_t last_day = INT64_MIN;
  for (size_t i = 0; r == 0 && i < n; i++) {
    int64_t d = rollup_day_of_hour(hours[i]);
    if (d == last_day) continue;
    last_day = d;
    bool pending = false;
    if (w->day_pending) r = w->day_pending(w->ctx, d, &pending);
    if (r == 0 && !pending) r = w->write_day(w->ctx, d);
  }
  return r;
}
