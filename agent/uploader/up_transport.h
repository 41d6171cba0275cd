/* up_transport: libcurl's multi-socket API on the libuv loop — a uv_poll per
 * socket, a uv_timer for curl's timeout — so a slow or dead collector never
 * blocks the loop (DNS: libcurl's threaded resolver). It posts request bodies
 * and hands each finished transfer back by its private pointer; what to send
 * and what an answer means is the uploader's business (uploader.c). */
#ifndef FERRY_AGENT_UP_TRANSPORT_H
#define FERRY_AGENT_UP_TRANSPORT_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#define UT_RESP_MAX (1024 * 1024) /* response body kept; the rest is discarded */
#define UT_RA_MAX   64            /* Retry-After value kept */

typedef struct ut_multi ut_multi;

/* One transfer: the request and, once done, the answer. */
typedef struct ut_xfer {
  CURL *easy;
  struct curl_slist *headers;
  char *resp;
  size_t resp_len;
  bool resp_truncated;
  char retry_after[UT_RA_MAX];
  char errbuf[CURL_ERROR_SIZE];
  void *owner; /* given back to done */
} ut_xfer;

typedef struct ut_request {
  const char *url;
  const char *auth_header; /* "Authorization: Bearer ..." or NULL */
  const char *encoding;    /* Content-Encoding */
  const char *idem_key;    /* "" or NULL: none */
  const char *request_id;  /* X-Request-ID, or NULL */
  const void *body;        /* kept by the caller until the transfer ends */
  size_t body_len;
  double connect_timeout_s, request_timeout_s;
  const char *ca_file, *pinned_pubkey, *client_cert, *client_key;
} ut_request;

/* done(owner, xfer, result) runs on the loop for every finished transfer;
 * the caller reads the answer then calls ut_xfer_drop. closed(arg) runs once
 * every handle is closed after ut_close. */
ut_multi *ut_new(uv_loop_t *loop, void (*done)(void *owner, ut_xfer *x, CURLcode result));
/* 0, or -ENOMEM / -EIO (nothing was started; x is clean). */
int ut_send(ut_multi *m, ut_xfer *x, const ut_request *rq);
/* Forget a transfer (finished or not); x is clean afterwards. */
void ut_xfer_drop(ut_multi *m, ut_xfer *x);
/* Stop everything; closed(arg) when the uv handles are closed. Transfers
 * must have been dropped first. */
void ut_close(ut_multi *m, void (*closed)(void *arg), void *arg);

#endif
