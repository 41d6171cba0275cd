/* looplag: see looplag.h. */
#include "looplag.h"

#include <string.h>

static void note(looplag *l, uint64_t busy) {
  l->s.iterations++;
  l->s.busy_ns += busy;
  if (busy > l->s.max_stall_ns) l->s.max_stall_ns = busy;
  if (busy > 1000000) l->s.over_1ms++;
  if (busy > 10000000) l->s.over_10ms++;
  if (busy > 100000000) l->s.over_100ms++;
}

/* Just before the poll: the stretch since the previous check (closing
 * callbacks, timers, pending and idle phases) is part of this iteration. */
static void on_prepare(uv_prepare_t *h) {
  looplag *l = h->data;
  l->t_prepare = uv_hrtime();
  l->idle_prepare = uv_metrics_idle_time(h->loop);
}

/* Just after the poll and its I/O callbacks. */
static void on_check(uv_check_t *h) {
  looplag *l = h->data;
  uint64_t now = uv_hrtime();
  if (l->t_prepare) {
    uint64_t idle = uv_metrics_idle_time(h->loop) - l->idle_prepare;
    uint64_t in_poll = now - l->t_prepare;
    uint64_t busy = in_poll > idle ? in_poll - idle : 0;
    if (l->t_check && l->t_prepare > l->t_check) busy += l->t_prepare - l->t_check;
    note(l, busy);
  }
  l->t_check = now;
}

int looplag_start(uv_loop_t *loop, looplag *l) {
  memset(l, 0, sizeof(*l));
  int r = uv_loop_configure(loop, UV_METRICS_IDLE_TIME);
  if (r < 0) return r;
  uv_prepare_init(loop, &l->prepare);
  uv_check_init(loop, &l->check);
  l->prepare.data = l->check.data = l;
  uv_prepare_start(&l->prepare, on_prepare);
  uv_check_start(&l->check, on_check);
  uv_unref((uv_handle_t *)&l->prepare);
  uv_unref((uv_handle_t *)&l->check);
  return 0;
}

void looplag_close(looplag *l) {
  if (!uv_is_closing((uv_handle_t *)&l->prepare)) uv_close((uv_handle_t *)&l->prepare, NULL);
  if (!uv_is_closing((uv_handle_t *)&l->check)) uv_close((uv_handle_t *)&l->check, NULL);
}

void looplag_get(const looplag *l, looplag_stats *ret) { *ret = l->s; }
