/* test_agent_ingest: the pure parts of POST /v1/events — media types (no
 * parameters, case-insensitive), the ingest token check, and the 400 body. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "ingest.h"

int main(void) {
  ev_body_kind k = EV_BODY_NDJSON;
  CHECK_EQ_INT(ingest_media_kind(NULL, &k), 0);
  CHECK(k == EV_BODY_JSON);
  k = EV_BODY_NDJSON;
  CHECK_EQ_INT(ingest_media_kind("", &k), 0);
  CHECK(k == EV_BODY_JSON);
  CHECK_EQ_INT(ingest_media_kind("application/json", &k), 0);
  CHECK(k == EV_BODY_JSON);
  CHECK_EQ_INT(ingest_media_kind("Application/JSON; charset=utf-8", &k), 0);
  CHECK(k == EV_BODY_JSON);
  CHECK_EQ_INT(ingest_media_kind("application/x-ndjson", &k), 0);
  CHECK(k == EV_BODY_NDJSON);
  k = EV_BODY_JSON;
  CHECK_EQ_INT(ingest_media_kind(" APPLICATION/X-NDJSON ;charset=UTF-8", &k), 0);
  CHECK(k == EV_BODY_NDJSON);
  CHECK_EQ_INT(ingest_media_kind("text/plain", &k), -ENOTSUP);
  CHECK_EQ_INT(ingest_media_kind("application/x-www-form-urlencoded", &k), -ENOTSUP);
  CHECK_EQ_INT(ingest_media_kind("application/jsonx", &k), -ENOTSUP);
  CHECK_EQ_INT(ingest_media_kind("application/json-seq", &k), -ENOTSUP);
  CHECK_EQ_INT(ingest_media_kind("application", &k), -ENOTSUP);

  CHECK(ingest_token_ok(NULL, NULL));
  CHECK(ingest_token_ok(NULL, "Bearer whatever"));
  CHECK(!ingest_token_ok("tok", NULL));
  CHECK(ingest_token_ok("tok", "Bearer tok"));
  CHECK(ingest_token_ok("tok", "bearer tok"));
  CHECK(!ingest_token_ok("tok", "Bearer tok2"));
  CHECK(!ingest_token_ok("tok", "Bearer to"));
  CHECK(!ingest_token_ok("tok", "Bearer "));
  CHECK(!ingest_token_ok("tok", "Basic dG9r"));
  CHECK(!ingest_token_ok("tok", "tok"));
  CHECK(!ingest_token_ok("tok", "Bearer TOK"));
  /* the collector's whitespace rule (common/httpd_auth): tabs like spaces */
  CHECK(ingest_token_ok("tok", "\tBearer\ttok \t"));
  CHECK(!ingest_token_ok("tok", "Bearertok"));

  ev_errors errs;
  memset(&errs, 0, sizeof(errs));
  ev_errors_add(&errs, 0, "timestamp", "bad timestamp");
  ev_errors_add(&errs, 0, "worker_id", "missing");
  ev_errors_add(&errs, 3, "event_type", "unknown");
  CHECK_EQ_INT(ingest_invalid_events(&errs), 2);
  cJSON *o = ingest_invalid_json(&errs);
  CHECK(o != NULL);
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
  CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "code")), "invalid_event");
  CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "message")));
  const cJSON *arr = cJSON_GetObjectItemCaseSensitive(e, "errors");
  CHECK_EQ_INT(cJSON_GetArraySize(arr), 3);
  const cJSON *third = cJSON_GetArrayItem(arr, 2);
  CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(third, "index")), 3);
  CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(third, "field")), "event_type");
  CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(third, "message")), "unknown");
  cJSON_Delete(o);

  /* a body-level error (index -1): no "index":-1 nor "field":"" in the answer */
  memset(&errs, 0, sizeof(errs));
  ev_errors_add(&errs, -1, "", "malformed JSON at byte 3");
  CHECK_EQ_INT(ingest_invalid_events(&errs), 1);
  o = ingest_invalid_json(&errs);
  char *txt = cJSON_PrintUnformatted(o);
  CHECK(txt && strstr(txt, "\"index\"") == NULL);
  CHECK(txt && strstr(txt, "\"field\"") == NULL);
  CHECK(txt && strstr(txt, "malformed JSON") != NULL);
  cJSON_free(txt);
  cJSON_Delete(o);
  return check_finish("test_agent_ingest");
}
