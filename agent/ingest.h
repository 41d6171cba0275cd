/* ingest: POST /v1/events — the local API an inference box posts to.
 *
 * One request is one short-lived object: headers checked on the loop thread
 * (token, media type), the body parsed and validated on libuv's threadpool
 * (uv_queue_work, never on the loop), then committed by the journal's worker;
 * the 202 goes out only from the commit's done callback. Every request gets
 * its own answer. Counters feed /metrics; nothing is logged per event. */
#ifndef FERRY_AGENT_INGEST_H
#define FERRY_AGENT_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "event.h"
#include "httpd.h"
#include "journal.h"

#define INGEST_MAX_INFLIGHT              64 /* requests being parsed or committed; more → 503 */
#define INGEST_RETRY_AFTER_FULL_S        30 /* Retry-After on 507 */
#define INGEST_RETRY_AFTER_UNAVAILABLE_S 5  /* Retry-After on 503 */

typedef struct ingest ingest;

typedef struct ingest_config {
  uv_loop_t *loop;
  journal *j;
  const char *ingest_token;       /* NULL: open */
  void (*on_committed)(void *ud); /* events were newly stored (uploader_kick) */
  void (*on_drained)(void *ud);   /* stopping and nothing in flight any more */
  /* how far ahead of the clock an event may be before the collector rejects
   * it (seconds): its own figure once it told us, else --max-future-s */
  double (*max_future_s)(void *ud);
  void *ud;
} ingest_config;

typedef struct ingest_counters {
  uint64_t requests; /* POST /v1/events that reached the body stage */
  uint64_t accepted; /* events newly stored */
  uint64_t duplicates;
  uint64_t rejected_requests; /* answered 400 invalid_event */
  uint64_t rejected_events;   /* distinct invalid events in those */
  uint64_t unauthorized;      /* 401 */
  uint64_t unsupported;       /* 415 */
  uint64_t full;              /* 507 */
  uint64_t unavailable;       /* 503 */
  uint64_t future_events;     /* accepted events timestamped beyond max_future_s */
} ingest_counters;

int ingest_new(const ingest_config *cfg, ingest **ret);
/* Headers of POST /v1/events are in: 401 / 415 / 503 answered here (returns 1),
 * else 0 to read the body. */
httpd_verdict ingest_on_headers(ingest *in, httpd_req *req);
/* The body is in: parse off-loop, commit, answer. */
void ingest_on_request(ingest *in, httpd_req *req);
void ingest_get_counters(const ingest *in, ingest_counters *ret);
unsigned ingest_inflight(const ingest *in);
/* New requests get 503; on_drained runs once nothing is in flight (maybe at once). */
void ingest_stop(ingest *in);
/* Only after drained. */
void ingest_free(ingest *in);

/* Pure helpers (tested). */
/* Content-Type → body kind: NULL / "" / application/json → JSON,
 * application/x-ndjson → NDJSON (parameters ignored, case-insensitive).
 * Returns 0, or -ENOTSUP for any other media type. */
int ingest_media_kind(const char *content_type, ev_body_kind *ret);
/* "Authorization: Bearer TOKEN" check in constant time over the token. A NULL
 * expected token lets everyone in. */
bool ingest_token_ok(const char *expected, const char *authorization);
/* Build the 400 body for errs (caller owns the cJSON). */
cJSON *ingest_invalid_json(const ev_errors *errs);
/* Distinct event indices among the recorded errors (-1 counts as one). */
size_t ingest_invalid_events(const ev_errors *errs);

#endif
