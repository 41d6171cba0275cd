/* looplag: measures how long the agent's libuv loop goes without waiting for
 * I/O — the longest stretch of callbacks between two polls, which is the
 * longest any socket, timer or signal waited on the loop thread. Shown in
 * /v1/status ("loop") so "the loop never blocks" is a figure, not a claim.
 *
 * How: a uv_prepare (just before the poll) and a uv_check (just after the
 * poll's I/O callbacks), with the loop's idle-time metric
 * (UV_METRICS_IDLE_TIME) subtracting the time spent waiting in the poll.
 * Both handles are unref'd and do no I/O: no wakeups, no polling. */
#ifndef FERRY_AGENT_LOOPLAG_H
#define FERRY_AGENT_LOOPLAG_H

#include <stdint.h>
#include <uv.h>

typedef struct looplag_stats {
  uint64_t iterations;
  uint64_t max_stall_ns;                    /* longest busy stretch between two polls */
  uint64_t busy_ns;                         /* total time not waiting in the poll */
  uint64_t over_1ms, over_10ms, over_100ms; /* iterations busier than that */
} looplag_stats;

typedef struct looplag {
  uv_prepare_t prepare;
  uv_check_t check;
  uint64_t t_prepare, idle_prepare, t_check;
  looplag_stats s;
} looplag;

/* Start measuring on loop (call before uv_run: it configures the loop's
 * idle-time metric). Returns 0 or a negative libuv error. */
int looplag_start(uv_loop_t *loop, looplag *l);
/* Close both handles (their memory is l's; keep l alive until the loop ran). */
void looplag_close(looplag *l);
void looplag_get(const looplag *l, looplag_stats *ret);

#endif
