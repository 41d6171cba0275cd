/* uploader: the one long-lived handle that moves journaled events to the
 * collector. libcurl's multi-socket API runs on the libuv loop (a uv_poll per
 * socket, a uv_timer for curl's timeout), so a slow or dead collector never
 * blocks the loop; DNS is resolved by libcurl's threaded resolver.
 *
 * One upload in flight: read a batch from the journal (built on its worker
 * thread) → POST /v1/ingest → classify the answer → apply a 200 to the journal
 * or schedule a retry. The classification, Retry-After and ack parsing are pure
 * functions below so they can be tested without a network. */
#ifndef FERRY_AGENT_UPLOADER_H
#define FERRY_AGENT_UPLOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "journal.h"

/* collector.state of SPEC §2 */
typedef enum {
  UP_STATE_OK = 0,
  UP_STATE_RETRYING,
  UP_STATE_AUTH_ERROR,
  UP_STATE_CONFIG_ERROR,
  UP_STATE_UNREACHABLE,
  UP_STATE_COUNT_
} up_state;

/* Failure classes counted in ferry_agent_upload_failures_total{class=...}. */
typedef enum {
  UP_FAIL_UNREACHABLE = 0,
  UP_FAIL_RETRYING,
  UP_FAIL_AUTH_ERROR,
  UP_FAIL_CONFIG_ERROR,
  UP_FAIL_REJECTED, /* 400/413/422: batch halved or event dead-lettered */
  UP_FAIL_TLS,      /* TLS: certificate not trusted, wrong host, pin mismatch, handshake */
  UP_FAIL_COUNT_
} up_fail_class;

/* What to do with an answer. */
typedef enum {
  UP_ACT_ACK = 0, /* 200 with a parsed answer: apply it */
  UP_ACT_BACKOFF, /* network error, timeout, 408/429/5xx, unparsable 200: backoff_next / Retry-After */
  UP_ACT_AT_MAX,  /* 401/403, config errors: backoff_at_max */
  UP_ACT_SHRINK,  /* 400/413/422: halve the batch, at once; one event alone → dead-letter */
} up_action;

typedef struct up_verdict {
  up_action action;
  up_state state;     /* the collector state after this answer (the caller
                                 leaves the state as it was after UP_ACT_SHRINK) */
  up_fail_class fail; /* meaningful unless action == UP_ACT_ACK */
} up_verdict;

/* Classify an attempt. transport_ok: libcurl got an HTTP answer; status: its
 * code; ack_parsed: for a 200, whether the body parsed as an ingest answer. */
up_verdict up_classify(bool transport_ok, long status, bool ack_parsed);

/* Whether a libcurl result is a TLS failure: 1 when a certificate or key is
 * not acceptable (the collector's: untrusted, expired, wrong host, pin
 * mismatch; or ours: unreadable) — state config_error, retried at
 * --retry-max; 2 for another TLS failure (handshake broken off) — state
 * unreachable, with backoff; 0 when it is not about TLS. Either way the
 * failure counts in class "tls". */
int up_tls_failure(int curl_code);

/* Retry-After value → seconds from now (≥ 0): delta-seconds or an HTTP-date.
 * Returns 0, or -EINVAL when the value is neither. At most UP_RA_MAX - 1
 * bytes of it are read (the handle keeps no more). */
#define UP_RA_MAX 64
int up_parse_retry_after(const char *value, int64_t now_ms, double *ret_s);

/* The collector's 200 body {"accepted":A,"duplicates":D,"rejected":[{"seq":s,"error":e}]}.
 * Rejected seqs not in the batch's seqs (sorted ascending) are ignored and
 * counted in *ret_ignored. Returns 0 with *ret_rejected (malloc'd, may be NULL
 * when none) / *ret_n, or -EINVAL when the body is not an ingest answer. */
int up_parse_ack(const char *body, size_t len, const int64_t *seqs, size_t n_seqs,
                 journal_rejected **ret_rejected, size_t *ret_n, size_t *ret_ignored);

/* The error code/message of a refusal body {"error":{"code":..,"message":..}},
 * written as "code: message" into out; falls back to "http STATUS". */
/* The collector's "max_future_s" in an ingest answer, or -1 when absent. */
int64_t up_answer_max_future_s(const char *body, size_t len);
/* A hint for a transport failure that means a TLS/plain-HTTP mismatch
 * (curl code and message, on an https or http URL), or NULL. */
const char *up_tls_mismatch_hint(int curl_code, const char *errbuf, bool https);

void up_refusal_reason(const char *body, size_t len, long status, char *out, size_t outlen);

/* Next batch limit after a success: double, up to max. After a shrink
 * answer to a batch of n events: n/2 (at least 1). */
size_t up_limit_after_success(size_t limit, size_t max);
size_t up_limit_after_shrink(size_t n_sent);

const char *up_state_name(up_state s);
const char *up_fail_name(up_fail_class c);

typedef struct uploader uploader;

typedef struct uploader_config {
  const char *collector;  /* base URL; "/v1/ingest" is appended */
  const char *auth_token; /* NULL: no Authorization header */
  size_t batch_max_events;
  size_t batch_max_bytes; /* already min(batch-max-bytes, collector-max-body-bytes) */
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
  bool has_last_fail;             /* a failure happened since start */
  up_fail_class last_fail;        /* class of the latest failure */
  char last_error[200];           /* what it was (libcurl's message or the answer) */
  size_t batch_limit;             /* current batch event limit */
  int64_t collector_max_future_s; /* from the collector's last answer; -1 = not told */
} uploader_stats;

/* Create and start: the first contact (batch or heartbeat) goes out at once.
 * Returns 0 or a negative errno with err set. Strings in cfg are copied. */
int uploader_start(uv_loop_t *loop, journal *j, const uploader_config *cfg, uploader **ret, char *err,
                   size_t errlen);
/* New events were committed: start an upload now if idle (cheap; call freely). */
void uploader_kick(uploader *u);
void uploader_get_stats(const uploader *u, uploader_stats *ret);
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
