/* writer: the one thread that touches the database. The loop thread never
 * calls SQLite; it hands the writer jobs (an ingest batch, a read of
 * /v1/agents, a readiness ping) through a bounded queue and gets each job
 * back, done, on the loop thread through a uv_async.
 *
 * Ingest jobs are group-committed: everything queued is applied in one
 * transaction (a savepoint per batch) and committed once, then all of them are
 * answered. A job that waited longer than max_wait_ms is answered 503 without
 * being applied, and submit refuses work (-EAGAIN) when the queue is full or
 * the writer has been stuck on one group longer than max_wait_ms — the SPEC's
 * "503 rather than queue work it cannot commit within 30 s". */
#ifndef FERRY_COLLECTOR_WRITER_H
#define FERRY_COLLECTOR_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "store.h"

#define WR_GROUP_MAX 64 /* batches per transaction */

typedef enum { WR_INGEST = 0, WR_LIST_AGENTS, WR_PING, WR_CALL } wr_kind;

typedef struct wr_job wr_job;
struct wr_job {
  wr_kind kind;
  /* in */
  st_ingest in; /* WR_INGEST */
  size_t bytes; /* what the job holds in memory, for the queue bound */
  /* out (valid in done) */
  int err; /* 0, or negative errno: storage failure / -ETIMEDOUT (waited too long) */
  char errmsg[256];
  st_result res;         /* WR_INGEST */
  st_agent_info *agents; /* WR_LIST_AGENTS (owned by the job's owner after done) */
  size_t n_agents;
  /* WR_CALL: runs on the writer thread, outside any ingest transaction; a
   * negative return is a storage failure (err/errmsg), anything else lands
   * in call_ret */
  int (*call)(store *st, wr_job *job);
  int call_ret;
  /* runs on the loop thread once the job is finished */
  void (*done)(wr_job *job);
  void *data;
  /* private */
  uint64_t enq_ms;
  wr_job *next;
};

typedef struct writer writer;

typedef struct wr_limits {
  size_t queue_max;         /* jobs */
  size_t queue_max_bytes;   /* sum of job->bytes */
  uint64_t max_wait_ms;     /* queue wait / stuck-commit limit */
  uint64_t purge_before_ms; /* idempotency keys older than this (relative) are purged; 0 = never */
} wr_limits;

/* Start the thread. The writer owns nothing of st (the caller closes it after
 * wr_stop). 0 or negative errno. */
int wr_start(uv_loop_t *loop, store *st, const wr_limits *lim, writer **ret);
/* Queue a job (loop thread). 0, or -EAGAIN (full or stuck: answer 503) or
 * -ESHUTDOWN (stopping). On error the job is untouched and done is not called. */
int wr_submit(writer *w, wr_job *job);
/* Jobs queued or being worked on. */
size_t wr_pending(writer *w);
/* Whether the last database operation succeeded and when (tf_mono_ms). */
bool wr_healthy(writer *w, uint64_t *ret_last_ok_ms, char *why, size_t whylen);
/* Finish every queued job, stop the thread, close the uv handle; done_cb
 * runs on the loop once all is closed. The writer is freed then. */
void wr_stop(writer *w, void (*done_cb)(void *arg), void *arg);

#endif
