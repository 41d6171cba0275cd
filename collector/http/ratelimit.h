/* ratelimit: admission for ingest requests, so that the collector applies
 * only the work it can and shares it fairly between agents.
 *
 * Collector-wide: at most max_inflight batches are applied at once (a
 * *slot*); a batch that finds no free slot waits in a FIFO queue and is
 * started, in arrival order, as slots free. Requests are admitted at their
 * headers (before the body is read) while the slots and the queue
 * (queue_max places, counting batches still being read) have room and the
 * bodies of the admitted batches not applied yet come to at most
 * queue_bytes (a request's bytes are its Content-Length, then its body once
 * read; one batch alone is admitted whatever its size, so a body the size
 * limit accepts is never refused for good); past that a request is refused
 * (429) and its agent becomes a *waiter*: the next place that frees in the queue is kept for the waiters
 * before any agent that was not refused. So an agent that gets its answer
 * and sends again at once cannot take the place of one that was told to
 * come back (an agent with a huge backlog does not starve one with a small
 * one), and the queue keeps the slots busy while waiters come back. A
 * waiter keeps its turn until it comes back, or for its Retry-After plus a
 * grace period. Retry-After follows the queue: the queue and the waiters
 * ahead, at the rate batches completed lately.
 *
 * Per agent (optional, off by default): a token bucket (rate requests per
 * second on average, up to burst at once after an idle spell) and a cap on
 * requests in progress at the same time, so one stolen token cannot take
 * the collector's whole capacity.
 *
 * The table is bounded (max_agents entries; idle ones are swept when it is
 * full). An admitted request holds a ticket until rl_release, so entries in
 * use are never swept. Loop thread only; the clock is passed in. */
#ifndef FERRY_COLLECTOR_RATELIMIT_H
#define FERRY_COLLECTOR_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rl_table rl_table;
typedef struct rl_ticket rl_ticket;

typedef struct rl_config {
  unsigned max_inflight;   /* batches applied at once collector-wide; 0 = no cap */
  unsigned queue_max;      /* batches admitted beyond them (being read or queued) */
  uint64_t queue_bytes;    /* their bodies' bytes at most (one alone always fits); 0 = no cap */
  double rate;             /* requests per second; 0 = no rate limit */
  unsigned burst;          /* bucket size, at least 1 */
  unsigned max_concurrent; /* at least 1 */
  size_t max_agents;       /* 0 = 65536 */
} rl_config;

/* RL_BUSY: the collector is at max_inflight (the agent now waits its turn). */
typedef enum { RL_OK = 0, RL_RATE, RL_CONCURRENT, RL_FULL, RL_BUSY } rl_verdict;

/* 0 or -ENOMEM. */
int rl_new(const rl_config *cfg, rl_table **ret);
/* Every admitted request must be released first. */
void rl_free(rl_table *t);
/* Admit one request of agent_id at now_ms (monotonic). RL_OK: *ret_ticket
 * is to be given to rl_release once the request is over (NULL on ENOMEM is
 * RL_FULL). Otherwise *ret_retry_s (>= 1) says when to come back. */
rl_verdict rl_admit(rl_table *t, const char *agent_id, uint64_t now_ms, rl_ticket **ret_ticket,
                    unsigned *ret_retry_s);
/* rl_admit for a request whose body is to be bytes long (its Content-Length;
 * 0 when not known yet): refused RL_BUSY too when the bodies admitted and
 * not applied yet would pass queue_bytes. */
rl_verdict rl_admit_sized(rl_table *t, const char *agent_id, uint64_t bytes, uint64_t now_ms,
                          rl_ticket **ret_ticket, unsigned *ret_retry_s);
/* The ticket's body is bytes long after all (it is in): counted instead of
 * what rl_admit_sized was told, until the batch gets its slot or is over. */
void rl_ticket_bytes(rl_ticket *tk, uint64_t bytes);
/* The admitted batch wants a slot (to be decoded, parsed and applied in): true when it has one now;
 * false when it is queued, and go(arg) runs (from an rl_release of another
 * ticket) once it has one. */
bool rl_start(rl_ticket *tk, void (*go)(void *arg), void *arg);
/* The request is over, whatever its stage (void * so it can be an httpd
 * data_free): its slot goes to the head of the queue. */
void rl_release(void *ticket);
/* Agents in the table (for tests and metrics). */
size_t rl_count(const rl_table *t);
/* Batches being applied; admitted and not applied yet; agents waiting their turn at now_ms. */
unsigned rl_inflight(const rl_table *t);
unsigned rl_pending(const rl_table *t);
/* Body bytes of the batches admitted and not applied yet. */
uint64_t rl_pending_bytes(const rl_table *t);
size_t rl_waiting(rl_table *t, uint64_t now_ms);

#endif
