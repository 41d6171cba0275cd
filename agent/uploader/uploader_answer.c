/* uploader_answer: the uploader's pure pieces (uploader.h) — classifying an
 * attempt (SPEC §2), telling TLS failures apart, Retry-After, parsing the
 * collector's 200 answer into rejected events, the refusal reason of a 4xx,
 * the batch limit after a success, and the names of states and failure
 * classes (declared in uploader_answer.h). No I/O and no state, so the unit
 * tests drive them directly; uploader.c is the handle that uses them. */
#include "uploader.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cjson/cJSON.h>

#include "timefmt.h"

/* ---- pure pieces ---------------------------------------------------------- */

up_verdict up_classify(bool transport_ok, long status, bool ack_parsed) {
  up_verdict v = {UP_ACT_AT_MAX, UP_STATE_CONFIG_ERROR, UP_FAIL_CONFIG_ERROR};
  if (!transport_ok) {
    v.action = UP_ACT_BACKOFF;
    v.state = UP_STATE_UNREACHABLE;
    v.fail = UP_FAIL_UNREACHABLE;
  } else if (status == 200) {
    if (ack_parsed) {
      v.action = UP_ACT_ACK;
      v.state = UP_STATE_OK;
    } else {
      v.action = UP_ACT_BACKOFF;
      v.state = UP_STATE_RETRYING;
      v.fail = UP_FAIL_RETRYING;
    }
  } else if (status == 408 || status == 409 || status == 429 || (status >= 500 && status <= 599)) {
    /* 409: the collector is still working on this Idempotency-Key (the same
     * batch sent before a restart or a timeout); retry like an overload */
    v.action = UP_ACT_BACKOFF;
    v.state = UP_STATE_RETRYING;
    v.fail = UP_FAIL_RETRYING;
  } else if (status == 401 || status == 403) {
    v.action = UP_ACT_AT_MAX;
    v.state = UP_STATE_AUTH_ERROR;
    v.fail = UP_FAIL_AUTH_ERROR;
  } else if (status == 400 || status == 413 || status == 422) {
    /* the collector is reachable and talking; the content is the problem */
    v.action = UP_ACT_SHRINK;
    v.state = UP_STATE_OK;
    v.fail = UP_FAIL_REJECTED;
  }
  /* 1xx, other 2xx, 3xx (redirects are not followed), 404, 405, 410, 415,
   * other 4xx and anything stranger: config_error at retry-max (initial v) */
  return v;
}

int up_tls_failure(int curl_code) {
  switch (curl_code) {
    case CURLE_PEER_FAILED_VERIFICATION: /* untrusted, expired, wrong host */
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_CERTPROBLEM: /* our client certificate or key */
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CLIENTCERT: return 1;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_SHUTDOWN_FAILED: return 2;
    default: return 0;
  }
}

int up_parse_retry_after(const char *value, int64_t now_ms, double *ret_s) {
  if (!value) return -EINVAL;
  while (*value == ' ' || *value == '\t') value++;
  size_t len = strlen(value);
  while (len && (value[len - 1] == ' ' || value[len - 1] == '\t' || value[len - 1] == '\r' ||
                 value[len - 1] == '\n'))
    len--;
  if (len == 0) return -EINVAL;
  if (value[0] >= '0' && value[0] <= '9') {
    double s = 0;
    for (size_t i = 0; i < len; i++) {
      if (value[i] < '0' || value[i] > '9') return -EINVAL;
      if (s < 1e9) /* far beyond any cap; stop growing */
        s = s * 10 + (value[i] - '0');
    }
    *ret_s = s;
    return 0;
  }
  char buf[UP_RA_MAX];
  if (len >= sizeof(buf)) return -EINVAL;
  memcpy(buf, value, len);
  buf[len] = '\0';
  int64_t at_ms;
  if (tf_parse_http_date(buf, &at_ms) < 0) return -EINVAL;
  double d = (double)(at_ms - now_ms) / 1000.0;
  *ret_s = d > 0 ? d : 0;
  return 0;
}

static int cmp_rejected(const void *a, const void *b) {
  int64_t x = ((const journal_rejected *)a)->seq, y = ((const journal_rejected *)b)->seq;
  return (x > y) - (x < y);
}

static bool seq_in(const int64_t *seqs, size_t n, int64_t seq) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (seqs[mid] == seq) return true;
    if (seqs[mid] < seq) lo = mid + 1;
    else hi = mid;
  }
  return false;
}

static bool is_count(const cJSON *x) {
  return cJSON_IsNumber(x) && x->valuedouble >= 0 && x->valuedouble <= 1e15 &&
         x->valuedouble == (double)(int64_t)x->valuedouble;
}

int up_parse_ack(const char *body, size_t len, const int64_t *seqs, size_t n_seqs,
                 journal_rejected **ret_rejected, size_t *ret_n, size_t *ret_ignored) {
  cJSON *root = cJSON_ParseWithLength(body, len);
  journal_rejected *rej = NULL;
  size_t n = 0, ignored = 0;
  int r = -EINVAL;
  if (!cJSON_IsObject(root)) goto out;
  if (!is_count(cJSON_GetObjectItemCaseSensitive(root, "accepted")) ||
      !is_count(cJSON_GetObjectItemCaseSensitive(root, "duplicates")))
    goto out;
  const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "rejected");
  if (arr && !cJSON_IsArray(arr) && !cJSON_IsNull(arr)) goto out;
  int cnt = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0;
  if (cnt > 0) {
    rej = calloc((size_t)cnt, sizeof(*rej));
    if (!rej) {
      r = -ENOMEM;
      goto out;
    }
  }
  const cJSON *list = cJSON_IsArray(arr) ? arr : NULL;
  const cJSON *it;
  cJSON_ArrayForEach(it, list) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(it, "seq");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(it, "error");
    if (!cJSON_IsObject(it) || !is_count(s)) goto out;
    int64_t seq = (int64_t)s->valuedouble;
    if (!seq_in(seqs, n_seqs, seq)) {
      ignored++;
      continue;
    }
    rej[n].seq = seq;
    snprintf(rej[n].error, sizeof(rej[n].error), "%s",
             cJSON_IsString(e) && e->valuestring[0] ? e->valuestring : "rejected");
    n++;
  }
  if (n > 1) {
    qsort(rej, n, sizeof(*rej), cmp_rejected);
    size_t w = 1;
    for (size_t i = 1; i < n; i++) {
      if (rej[i].seq == rej[w - 1].seq) ignored++;
      else rej[w++] = rej[i];
    }
    n = w;
  }
  r = 0;
out:
  cJSON_Delete(root);
  if (r < 0) {
    free(rej);
    return r;
  }
  if (n == 0) {
    free(rej);
    rej = NULL;
  }
  *ret_rejected = rej;
  *ret_n = n;
  *ret_ignored = ignored;
  return 0;
}

int64_t up_answer_max_future_s(const char *body, size_t len) {
  cJSON *root = body && len ? cJSON_ParseWithLength(body, len) : NULL;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "max_future_s");
  int64_t r = is_count(v) ? (int64_t)v->valuedouble : -1;
  cJSON_Delete(root);
  return r;
}

const char *up_tls_mismatch_hint(int curl_code, const char *errbuf, bool https) {
  const char *e = errbuf ? errbuf : "";
  if (https && (curl_code == CURLE_SSL_CONNECT_ERROR || curl_code == CURLE_RECV_ERROR) &&
      (strstr(e, "wrong version number") || strstr(e, "packet length too long") ||
       strstr(e, "unexpected TLS packet") || strstr(e, "unexpected message") ||
       strstr(e, "record overflow") || strstr(e, "not a TLS") || strstr(e, "http request")))
    return "the collector answered plain HTTP on an https:// URL: serve HTTPS on the collector (--tls-cert "
           "and --tls-key) or use http:// (on a trusted network, with --insecure-http)";
  if (https && curl_code == CURLE_SSL_CONNECT_ERROR &&
      (strstr(e, "SSL_ERROR_SYSCALL") || strstr(e, "unexpected eof")))
    return "the collector closed the connection during the TLS handshake, as a plain-HTTP server does: "
           "check that it serves HTTPS (--tls-cert and --tls-key) on that port";
  if (!https && (curl_code == CURLE_GOT_NOTHING || curl_code == CURLE_WEIRD_SERVER_REPLY ||
                 curl_code == CURLE_RECV_ERROR || curl_code == CURLE_UNSUPPORTED_PROTOCOL))
    return "the collector did not answer HTTP on an http:// URL: if it serves HTTPS (--tls-cert), use "
           "https://";
  return NULL;
}

void up_refusal_reason(const char *body, size_t len, long status, char *out, size_t outlen) {
  cJSON *root = body && len ? cJSON_ParseWithLength(body, len) : NULL;
  const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
  const cJSON *code = cJSON_GetObjectItemCaseSensitive(err, "code");
  const cJSON *msg = cJSON_GetObjectItemCaseSensitive(err, "message");
  if (cJSON_IsString(err)) /* {"error":"code"} */
    snprintf(out, outlen, "%s", err->valuestring);
  else if (cJSON_IsString(code) && cJSON_IsString(msg))
    snprintf(out, outlen, "%s: %s", code->valuestring, msg->valuestring);
  else if (cJSON_IsString(code)) snprintf(out, outlen, "%s", code->valuestring);
  else snprintf(out, outlen, "http %ld", status);
  cJSON_Delete(root);
}

size_t up_limit_after_success(size_t limit, size_t max) {
  if (limit == 0) return max ? max : 1;
  size_t next = limit > max / 2 ? max : limit * 2;
  return next ? next : 1;
}

size_t up_limit_after_shrink(size_t n_sent) { return n_sent > 1 ? n_sent / 2 : 1; }

const char *up_state_name(up_state s) {
  static const char *const names[UP_STATE_COUNT_] = {"ok", "retrying", "auth_error", "config_error",
                                                     "unreachable"};
  return (unsigned)s < UP_STATE_COUNT_ ? names[s] : "unknown";
}

const char *up_fail_name(up_fail_class c) {
  static const char *const names[UP_FAIL_COUNT_] = {"unreachable",  "retrying", "auth_error",
                                                    "config_error", "rejected", "tls"};
  return (unsigned)c < UP_FAIL_COUNT_ ? names[c] : "unknown";
}
