/* activity: what the operator needs to see in the collector's log without a
 * dashboard — every refusal, rate-limited, and a one-line summary per
 * interval while anything happened — and the per-agent reasons of rejected
 * events for /v1/agents and /metrics. Counts live in memory (loop thread
 * only) and start at zero when the collector starts. */
#ifndef FERRY_COLLECTOR_ACTIVITY_H
#define FERRY_COLLECTOR_ACTIVITY_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "strbuf.h"

#define ACT_MAX_AGENTS  4096 /* agents tracked; more share the "other" entry */
#define ACT_MAX_REASONS 8    /* reasons per agent; more count under "other" */
#define ACT_LOG_BURST   5    /* refusal lines per interval before they are only counted */

typedef struct activity activity;

activity *activity_new(void);
void activity_free(activity *a);

/* A batch answered 200: counts, and the events it rejected (seq and error
 * of each; reason = error up to its first ':'). backlog < 0: not reported. */
void activity_batch(activity *a, const char *agent_id, const char *request_id, const char *client,
                    uint64_t accepted, uint64_t duplicates, int64_t backlog, size_t n_rejected,
                    const int64_t *rej_seq, const char *const *rej_error);
/* A request refused (4xx): 401/403 on its token (ingest, or a read endpoint
 * presenting a wrong token), or 400/413 on an ingest body. agent_id NULL
 * when not known yet. Never pass a token. */
void activity_refused(activity *a, unsigned status, const char *code, const char *msg, const char *client,
                      const char *agent_id, const char *request_id);
/* Interval end: logs the summary line (when anything happened) and what the
 * rate limits held back, then starts a new interval. */
void activity_tick(activity *a);

/* /v1/agents: adds "rejected_by_reason" ({} when none) and "last_rejected"
 * (null or {seq, error, at}) to agent object o. */
void activity_agent_json(const activity *a, const char *agent_id, cJSON *o);
/* /metrics: ferry_collector_events_rejected_by_reason_total{agent,reason}. */
void activity_prom(const activity *a, strbuf *b);

#endif
