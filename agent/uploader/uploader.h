/* uploader: the one long-lived handle that moves journaled events to the
 * collector (transport: up_transport.c, libcurl on the libuv loop).
 *
 * Each upload: read a batch from the journal (built on its worker thread) →
 * POST /v1/ingest → classify the answer → apply a 200 to the journal or
 * schedule a retry. Up to upload_window uploads are in flight at once, each
 * over its own run of seqs (SPEC §6.2), as many as the pace allows
 * (up_pacing.h); live events go before the backlog (up_lanes.h). What an
 * answer means is in uploader_answer.h. */
#ifndef FERRY_AGENT_UPLOADER_H
#define FERRY_AGENT_UPLOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "journal.h"
#include "uploader_answer.h"

typedef struct uploader uploader;

typedef struct uploader_config {
  const char *collector;  /* base URL; "/v1/ingest" is appended */
  const char *auth_token; /* NULL: no Authorization header */
  size_t batch_max_events;
  size_t batch_max_bytes;     /* already min(batch-max-bytes, collector-max-body-bytes) */
  size_t backfill_max_events; /* backfill batches (0: batch_max_events) */
  size_t backfill_max_bytes;  /* (0: batch_max_bytes); within collector-max-body-bytes */
  double live_window_s;       /* events younger than this go first; 0 = one lane */
  unsigned upload_window;     /* uploads in flight at most (1..UP_WINDOW_MAX) */
  codec_t codec;
  double retry_initial_s, retry_max_s;
  double heartbeat_interval_s;
  double connect_timeout_s, request_timeout_s;
  const char *ca_file;                  /* NULL: libcurl's default (the system store) */
  const char *pinned_pubkey;            /* "sha256//B64[;sha256//B64]" or NULL */
  const char *client_cert, *client_key; /* PEM files for mTLS, or NULL */
} uploader_config;

typedef struct uploader_stats {
  up_state state;
  uint64_t consecutive_failures;
  int64_t last_success_ms; /* wall clock, 0 = never */
  double next_retry_in_s;  /* 0 when no retry is scheduled */
  bool retry_scheduled;
  double retry_delay_s;     /* the delay chosen after the last failure, 0 after success */
  uint64_t uploaded_events; /* events acknowledged (not rejected) by a 200 */
  uint64_t dead_lettered;   /* events moved to dead-letter by this uploader */
  uint64_t uploads_ok;      /* 200s, heartbeats included */
  uint64_t heartbeats;
  uint64_t failures[UP_FAIL_COUNT_];
  bool has_last_fail;                      /* a failure happened since start */
  up_fail_class last_fail;                 /* class of the latest failure */
  char last_error[200];                    /* what it was (libcurl's message or the answer) */
  size_t batch_limit;                      /* current batch event limit (live lane) */
  int64_t collector_max_future_s;          /* from the collector's last answer; -1 = not told */
  unsigned inflight;                       /* uploads in flight now */
  unsigned window;                         /* uploads the pace allows now */
  uint64_t pace_decreases;                 /* times the pace halved (busy or slow answers) */
  int64_t live_backlog;                    /* pending events younger than live_window */
  int64_t backfill_backlog;                /* the rest */
  double live_oldest_s;                    /* age of the oldest pending live event */
  uint64_t live_batches, backfill_batches; /* acknowledged */
} uploader_stats;

#define UP_WINDOW_MAX 8

/* Create and start: the first contact (batch or heartbeat) goes out at once.
 * Returns 0 or a negative errno with err set. Strings in cfg are copied. */
int uploader_start(uv_loop_t *loop, journal *j, const uploader_config *cfg, uploader **ret, char *err,
                   size_t errlen);
/* New events were committed: start an upload now if idle (cheap; call freely). */
void uploader_kick(uploader *u);
void uploader_get_stats(const uploader *u, uploader_stats *ret);
/* Fill st's live/backfill figures for a backlog of `backlog` events (the
 * journal's figure of the same snapshot). */
void uploader_split(const uploader *u, int64_t backlog, uploader_stats *st);
/* Apply new settings (a reload): collector URL, token, batch limits, codec,
 * retry pace, heartbeat and timeouts (the TLS files in cfg are ignored: they
 * stay those given at start). An upload in flight finishes with the
 * settings it started with; the next one uses the new ones. When the URL or
 * the token changed and a retry is waiting, it is tried at once with a fresh
 * backoff (the operator just fixed what was failing). Returns 0, or -ENOMEM
 * with the old settings kept. */
int uploader_reconfigure(uploader *u, const uploader_config *cfg);
/* Cancel the transfer in flight (the journal keeps its events), wait for a
 * journal operation in progress, close the handles, free, then done(arg). */
void uploader_stop(uploader *u, void (*done)(void *arg), void *arg);

#endif
