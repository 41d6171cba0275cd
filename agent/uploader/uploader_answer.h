/* uploader_answer: what the uploader decides from the collector's answers,
 * as pure functions tested without a network (uploader_answer.c): the class
 * of an answer (ack, backoff, retry at --retry-max, halve the batch), TLS
 * failures and plain-HTTP/TLS mismatch hints, Retry-After, the ack body,
 * the refusal reason, and the batch size after an answer. The lanes
 * (up_lanes.h) and the pace (up_pacing.h) are policy too, in files of their
 * own; uploader.c is the handle that follows them over up_transport.c. */
#ifndef FERRY_AGENT_UPLOADER_ANSWER_H
#define FERRY_AGENT_UPLOADER_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

#endif
