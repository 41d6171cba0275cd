/* ingest_guard: the checks on an ingest request that are about who may send
 * and how much, kept apart from decoding and storing (ingest.c): the client
 * certificate (mTLS) and its binding to agent_id, the per-agent rate and
 * concurrency limits (429 with Retry-After), and the batch size cap. */
#ifndef FERRY_COLLECTOR_INGEST_GUARD_H
#define FERRY_COLLECTOR_INGEST_GUARD_H

#include <stdbool.h>
#include <stddef.h>

#include "app.h"

/* Headers are in and the token was accepted (grant). Checks the client
 * certificate when a client CA is configured, and admits the request under
 * the agent's limits when the agent is already known (a per-agent token, or
 * the agent_id an Idempotency-Key names). HTTPD_READ_BODY to go on, or
 * HTTPD_ANSWERED after answering (401/403/429/503). */
httpd_verdict guard_headers(col_app *app, httpd_req *req, const auth_grant *grant);

/* Why a guard refused a request: the answer the caller sends. */
typedef struct guard_refusal {
  unsigned status;  /* 401, 403, 429 or 503 */
  const char *code; /* the error code of the answer */
  char msg[200];
  unsigned retry_s; /* 429/503: seconds for Retry-After */
} guard_refusal;

/* The body is parsed and names agent_id. Checks the client certificate
 * allows agent_id and admits the request if guard_headers could not. true,
 * or false with *no filled (the caller answers). */
bool guard_body(col_app *app, httpd_req *req, const char *agent_id, guard_refusal *no);

#endif
