/* ratelimit: per-agent admission for ingest requests, so that one agent (or
 * one stolen token) cannot take the collector's whole capacity. Each agent
 * has a token bucket (rate requests per second on average, up to burst at
 * once after an idle spell) and a cap on requests in progress at the same
 * time. A refused request gets 429 with the seconds to wait (Retry-After),
 * which the agent honours.
 *
 * The table is bounded (max_agents entries; idle ones are swept when it is
 * full). An admitted request holds its entry until rl_release, so entries in
 * use are never swept. Loop thread only; the clock is passed in. */
#ifndef FERRY_COLLECTOR_RATELIMIT_H
#define FERRY_COLLECTOR_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

typedef struct rl_table rl_table;
typedef struct rl_entry rl_entry;

typedef struct rl_config {
  double rate;             /* requests per second; 0 = no rate limit */
  unsigned burst;          /* bucket size, at least 1 */
  unsigned max_concurrent; /* at least 1 */
  size_t max_agents;       /* 0 = 65536 */
} rl_config;

typedef enum { RL_OK = 0, RL_RATE, RL_CONCURRENT, RL_FULL } rl_verdict;

/* 0 or -ENOMEM. */
int rl_new(const rl_config *cfg, rl_table **ret);
/* Every admitted request must be released first. */
void rl_free(rl_table *t);
/* Admit one request of agent_id at now_ms (monotonic). RL_OK: *ret_entry is
 * to be given to rl_release once the request is answered. Otherwise
 * *ret_retry_s (≥ 1) says when to come back. */
rl_verdict rl_admit(rl_table *t, const char *agent_id, uint64_t now_ms, rl_entry **ret_entry,
                    unsigned *ret_retry_s);
/* The admitted request is over (void * so it can be an httpd data_free). */
void rl_release(void *entry);
/* Agents in the table (for tests and metrics). */
size_t rl_count(const rl_table *t);

#endif
