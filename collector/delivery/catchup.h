/* catchup: the collector's estimate of how each agent's backlog moves and
 * when it will be drained, from the backlog figures agents send with every
 * batch (stats.backlog). The trend is the backlog's change per second
 * (negative while draining), blended over spans of a few seconds so one
 * batch does not swing it; the catch-up time is the backlog over the drain
 * rate, unknown while the backlog does not shrink.
 *
 * In memory only (a restart forgets the trends; they come back within
 * seconds of traffic), bounded (max_agents; the agent heard from least
 * recently makes room). Loop thread only; the clock is passed in. */
#ifndef FERRY_COLLECTOR_CATCHUP_H
#define FERRY_COLLECTOR_CATCHUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cu_table cu_table;

typedef struct cu_estimate {
  bool has_trend;     /* false until two reports a span apart */
  double trend_per_s; /* backlog change per second (negative: draining) */
  bool has_eta;       /* a backlog that shrinks (or none) */
  double catch_up_s;  /* seconds until the backlog is drained at the trend */
} cu_estimate;

/* NULL on out of memory. max_agents 0 = 65536. */
cu_table *cu_new(size_t max_agents);
void cu_free(cu_table *t);
/* agent_id reported backlog at now_ms (monotonic). 0 or -ENOMEM. */
int cu_note(cu_table *t, const char *agent_id, int64_t backlog, uint64_t now_ms);
/* The estimate for agent_id (all false when unknown or stale: no report
 * for two minutes). */
cu_estimate cu_get(const cu_table *t, const char *agent_id, uint64_t now_ms);

#endif
