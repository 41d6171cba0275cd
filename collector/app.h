/* app: the state the collector's HTTP handlers share — configuration, auth,
 * the writer — owned by main.c and touched only on the loop thread. */
#ifndef FERRY_COLLECTOR_APP_H
#define FERRY_COLLECTOR_APP_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "auth.h"
#include "config.h"
#include "httpd.h"
#include "ratelimit.h"
#include "store.h"
#include "tls_server.h"
#include "writer.h"

/* Counters for logs now and /metrics later (loop thread only). */
typedef struct col_stats {
  uint64_t batches;                                   /* ingest batches answered 200 */
  uint64_t heartbeats;                                /* of which without events */
  uint64_t replays;                                   /* of which answered from the idempotency table */
  uint64_t accepted, duplicates, rejected, conflicts; /* events */
  uint64_t refused;                                   /* 4xx answers to /v1/ingest */
  uint64_t overloaded;     /* 503 answers: queue full, waited too long, shutting down */
  uint64_t storage_errors; /* batches that failed in the database */
  uint64_t rate_limited;   /* 429 answers: an agent over its rate or concurrency cap */
  uint64_t busy;           /* 429 answers: the collector at max-ingest-inflight and its queue full */
  uint64_t queued;         /* batches that waited in the queue for a slot */
  unsigned parsed;         /* batches admitted at their headers being decoded, parsed or applied */
  unsigned parsed_max;     /* the most of them at once since start */
} col_stats;

struct rd_pool;
struct col_prom;
struct reg_cache;

typedef struct col_app {
  uv_loop_t *loop;
  col_config *cfg;
  col_auth auth;
  store *st;
  writer *wr;
  httpd *http;
  struct rd_pool *readers;                 /* read-only store handles for metrics (worker threads) */
  struct col_prom *prom;                   /* /metrics counters and cache */
  tls_server *tls;                         /* HTTPS identity and client CA, or NULL for plain HTTP */
  rl_table *rl;                            /* per-agent admission, or NULL */
  struct cu_table *catchup;                /* backlog trends for /v1/agents, or NULL */
  unsigned inflight;                       /* requests between on_request and their answer */
  unsigned parsing;                        /* ingest bodies being decoded and parsed on the threadpool */
  unsigned parse_max;                      /* at once, at most (the CPU cores: parsing is CPU-bound) */
  struct ing_req *parse_head, *parse_tail; /* bodies waiting for a parse, in arrival order */
  struct idem_inflight *idem;              /* Idempotency-Keys being processed (409 for a second one) */
  struct activity *activity;               /* refusal logs, summaries, rejection reasons (may be NULL) */
  struct reg_cache *reg;                   /* the plant registry as ingest checks it (SPEC §6.6) */
  bool stopping;
  col_stats stats;
} col_app;

#define COL_RETRY_AFTER_S "5" /* what 503 answers ask agents to wait */

#endif
