/* test_agent_classify: what the uploader does with each answer (SPEC §2
 * Upload, §4): status code → state and action, Retry-After as seconds or
 * HTTP-date, the ingest answer parser, and the batch halving path. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "uploader.h"

static void expect(bool transport_ok, long status, bool parsed, up_action act, up_state st,
                   up_fail_class fail, int line) {
  up_verdict v = up_classify(transport_ok, status, parsed);
  if (v.action != act || v.state != st || (act != UP_ACT_ACK && v.fail != fail))
    fprintf(stderr, "line %d: status %ld: got action %d state %s fail %s\n", line, status, v.action,
            up_state_name(v.state), up_fail_name(v.fail));
  CHECK(v.action == act);
  CHECK(v.state == st);
  if (act != UP_ACT_ACK) CHECK(v.fail == fail);
}
#define EXPECT(t, s, p, a, st, f) expect(t, s, p, a, st, f, __LINE__)

int main(void) {
  /* network errors and timeouts */
  EXPECT(false, 0, false, UP_ACT_BACKOFF, UP_STATE_UNREACHABLE, UP_FAIL_UNREACHABLE);
  /* 200 acknowledges only with a parsed answer */
  EXPECT(true, 200, true, UP_ACT_ACK, UP_STATE_OK, 0);
  EXPECT(true, 200, false, UP_ACT_BACKOFF, UP_STATE_RETRYING, UP_FAIL_RETRYING);
  /* retried with backoff */
  EXPECT(true, 408, false, UP_ACT_BACKOFF, UP_STATE_RETRYING, UP_FAIL_RETRYING);
  EXPECT(true, 429, false, UP_ACT_BACKOFF, UP_STATE_RETRYING, UP_FAIL_RETRYING);
  EXPECT(true, 409, false, UP_ACT_BACKOFF, UP_STATE_RETRYING, UP_FAIL_RETRYING); /* key in flight */
  EXPECT(true, 500, false, UP_ACT_BACKOFF, UP_STATE_RETRYING, UP_FAIL_RETRYING);
  EXPECT(true, 502, false, UP_ACT_BACKOFF, UP_STATE_RETRYING, UP_FAIL_RETRYING);
  EXPECT(true, 503, false, UP_ACT_BACKOFF, UP_STATE_RETRYING, UP_FAIL_RETRYING);
  EXPECT(true, 599, false, UP_ACT_BACKOFF, UP_STATE_RETRYING, UP_FAIL_RETRYING);
  /* auth */
  EXPECT(true, 401, false, UP_ACT_AT_MAX, UP_STATE_AUTH_ERROR, UP_FAIL_AUTH_ERROR);
  EXPECT(true, 403, false, UP_ACT_AT_MAX, UP_STATE_AUTH_ERROR, UP_FAIL_AUTH_ERROR);
  /* content refused: halve */
  EXPECT(true, 400, false, UP_ACT_SHRINK, UP_STATE_OK, UP_FAIL_REJECTED);
  EXPECT(true, 413, false, UP_ACT_SHRINK, UP_STATE_OK, UP_FAIL_REJECTED);
  EXPECT(true, 422, false, UP_ACT_SHRINK, UP_STATE_OK, UP_FAIL_REJECTED);
  /* config errors: redirects, wrong path, other 4xx, other 2xx */
  long cfg_codes[] = {301, 302, 307, 308, 404, 405, 410, 415, 402, 418, 451, 201, 204, 100, 600};
  for (size_t i = 0; i < sizeof(cfg_codes) / sizeof(cfg_codes[0]); i++)
    EXPECT(true, cfg_codes[i], false, UP_ACT_AT_MAX, UP_STATE_CONFIG_ERROR, UP_FAIL_CONFIG_ERROR);

  CHECK_EQ_STR(up_state_name(UP_STATE_OK), "ok");
  CHECK_EQ_STR(up_state_name(UP_STATE_UNREACHABLE), "unreachable");
  CHECK_EQ_STR(up_state_name(UP_STATE_AUTH_ERROR), "auth_error");
  CHECK_EQ_STR(up_fail_name(UP_FAIL_CONFIG_ERROR), "config_error");
  CHECK_EQ_STR(up_fail_name(UP_FAIL_REJECTED), "rejected");

  /* Retry-After */
  double s = -1;
  int64_t now = 1445412480000LL; /* 2015-10-21T07:28:00Z */
  CHECK_EQ_INT(up_parse_retry_after("120", now, &s), 0);
  CHECK(s == 120);
  CHECK_EQ_INT(up_parse_retry_after(" 0 ", now, &s), 0);
  CHECK(s == 0);
  CHECK_EQ_INT(up_parse_retry_after("99999999999999999999", now, &s), 0);
  CHECK(s >= 1e9); /* huge, capped later by backoff_retry_after */
  CHECK_EQ_INT(up_parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now, &s), 0);
  CHECK(s > 29.9 && s < 30.1);
  CHECK_EQ_INT(up_parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT\r\n", now, &s), 0);
  CHECK(s == 0); /* in the past: at once */
  CHECK_EQ_INT(up_parse_retry_after("-5", now, &s), -EINVAL);
  CHECK_EQ_INT(up_parse_retry_after("1.5", now, &s), -EINVAL);
  CHECK_EQ_INT(up_parse_retry_after("soon", now, &s), -EINVAL);
  CHECK_EQ_INT(up_parse_retry_after("", now, &s), -EINVAL);
  CHECK_EQ_INT(up_parse_retry_after(NULL, now, &s), -EINVAL);

  /* the ingest answer */
  int64_t seqs[] = {10, 11, 12, 13};
  journal_rejected *rej = NULL;
  size_t n = 99, ign = 99;
  const char *ok = "{\"accepted\":4,\"duplicates\":0,\"rejected\":[]}";
  CHECK_EQ_INT(up_parse_ack(ok, strlen(ok), seqs, 4, &rej, &n, &ign), 0);
  CHECK(rej == NULL && n == 0 && ign == 0);
  const char *some = "{\"accepted\":2,\"duplicates\":0,\"rejected\":[{\"seq\":13,\"error\":"
                     "\"timestamp_out_of_range\"},{\"seq\":11,\"error\":\"x\"},{\"seq\":99,"
                     "\"error\":\"not ours\"},{\"seq\":13,\"error\":\"again\"}]}";
  CHECK_EQ_INT(up_parse_ack(some, strlen(some), seqs, 4, &rej, &n, &ign), 0);
  CHECK_EQ_INT(n, 2);
  CHECK_EQ_INT(ign, 2);
  if (n == 2) {
    CHECK_EQ_INT(rej[0].seq, 11);
    CHECK_EQ_INT(rej[1].seq, 13);
    CHECK_EQ_STR(rej[1].error, "timestamp_out_of_range");
  }
  free(rej);
  rej = NULL;
  const char *no_rej = "{\"accepted\":0,\"duplicates\":4}"; /* rejected omitted: none */
  CHECK_EQ_INT(up_parse_ack(no_rej, strlen(no_rej), seqs, 4, &rej, &n, &ign), 0);
  CHECK_EQ_INT(n, 0);
  const char *bad[] = {"",
                       "<html>",
                       "[]",
                       "{\"accepted\":1}",
                       "{\"accepted\":\"1\",\"duplicates\":0}",
                       "{\"accepted\":1,\"duplicates\":0,\"rejected\":{}}",
                       "{\"accepted\":1,\"duplicates\":0,\"rejected\":[{\"error\":\"x\"}]}",
                       "{\"accepted\":-1,\"duplicates\":0}",
                       "{\"accepted\":1.5,\"duplicates\":0}"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    rej = NULL;
    int r = up_parse_ack(bad[i], strlen(bad[i]), seqs, 4, &rej, &n, &ign);
    if (r != -EINVAL) fprintf(stderr, "accepted bad ack: %s\n", bad[i]);
    CHECK_EQ_INT(r, -EINVAL);
    CHECK(rej == NULL);
  }

  /* refusal reasons for dead-letter */
  char why[160];
  const char *e1 = "{\"error\":{\"code\":\"invalid_event\",\"message\":\"timestamp bad\"}}";
  up_refusal_reason(e1, strlen(e1), 422, why, sizeof(why));
  CHECK_EQ_STR(why, "invalid_event: timestamp bad");
  up_refusal_reason("oops", 4, 400, why, sizeof(why));
  CHECK_EQ_STR(why, "http 400");
  up_refusal_reason(NULL, 0, 413, why, sizeof(why));
  CHECK_EQ_STR(why, "http 413");

  /* halving to one event, then back up after successes */
  size_t limit = 1000, sent = 1000;
  int steps = 0;
  while (sent > 1 && steps < 64) {
    limit = up_limit_after_shrink(sent);
    sent = limit;
    steps++;
  }
  CHECK_EQ_INT(sent, 1);
  CHECK_EQ_INT(steps, 9); /* 1000→500→250→125→62→31→15→7→3→1 */
  CHECK_EQ_INT(up_limit_after_shrink(1), 1);
  CHECK_EQ_INT(up_limit_after_shrink(0), 1);
  CHECK_EQ_INT(up_limit_after_shrink(2), 1);
  CHECK_EQ_INT(up_limit_after_success(1, 1000), 2);
  CHECK_EQ_INT(up_limit_after_success(500, 1000), 1000);
  CHECK_EQ_INT(up_limit_after_success(600, 1000), 1000);
  CHECK_EQ_INT(up_limit_after_success(1000, 1000), 1000);
  CHECK_EQ_INT(up_limit_after_success(1, 1), 1);
  steps = 0;
  for (limit = 1; limit < 1000 && steps < 64; steps++) limit = up_limit_after_success(limit, 1000);
  CHECK_EQ_INT(limit, 1000);
  CHECK_EQ_INT(steps, 10);

  /* the collector's max_future_s in its answer (contract v2), absent in older ones */
  CHECK_EQ_INT(up_answer_max_future_s("{\"max_future_s\":300,\"accepted\":1,\"duplicates\":0}", 48), 300);
  CHECK_EQ_INT(up_answer_max_future_s("{\"accepted\":1,\"duplicates\":0}", 29), -1);
  CHECK_EQ_INT(up_answer_max_future_s("{\"max_future_s\":-5}", 19), -1);
  CHECK_EQ_INT(up_answer_max_future_s("not json", 8), -1);
  /* TLS on one side only is named; other failures get no hint */
  const char *h =
      up_tls_mismatch_hint(35 /* CURLE_SSL_CONNECT_ERROR */,
                           "OpenSSL/3.0: error:0A00010B:SSL routines::wrong version number", true);
  CHECK(h && strstr(h, "answered plain HTTP on an https:// URL") != NULL);
  h = up_tls_mismatch_hint(52 /* CURLE_GOT_NOTHING */, "Empty reply from server", false);
  CHECK(h && strstr(h, "use https://") != NULL);
  CHECK(up_tls_mismatch_hint(7 /* CURLE_COULDNT_CONNECT */, "Couldn't connect to server", true) == NULL);
  CHECK(up_tls_mismatch_hint(35, "wrong version number", false) == NULL);
  return check_finish("test_agent_classify");
}
