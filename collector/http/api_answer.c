/* api_answer: shared answers of the read endpoints (api_answer.h). */
#include "api_answer.h"

#include <stdarg.h>
#include <stdio.h>

#include "app.h"
#include "log.h"

void api_bad_param(httpd_req *req, const char *param, const char *fmt, ...) {
  char msg[300];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  cJSON *j = httpd_error_json("invalid_parameter", msg);
  cJSON *e = j ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
  if (e && param) cJSON_AddStringToObject(e, "param", param);
  httpd_respond_json(req, 400, j);
}

void api_db_unavailable(httpd_req *req, const char *what, const char *errmsg) {
  flog_err("%s: reading the database failed: %s", what, errmsg);
  httpd_req_add_header(req, "Retry-After", COL_RETRY_AFTER_S);
  httpd_respond_error(req, 503, "unavailable", "the database could not be read; retry later");
}

void api_no_memory(httpd_req *req) {
  httpd_req_add_header(req, "Retry-After", COL_RETRY_AFTER_S);
  httpd_respond_error(req, 503, "unavailable", "out of memory");
}

void api_shutting_down(httpd_req *req) {
  httpd_req_add_header(req, "Retry-After", COL_RETRY_AFTER_S);
  httpd_respond_error(req, 503, "shutting_down", "the collector is shutting down");
}

void api_not_scheduled(httpd_req *req) {
  httpd_req_add_header(req, "Retry-After", COL_RETRY_AFTER_S);
  httpd_respond_error(req, 503, "unavailable", "could not schedule the query; retry later");
}

void api_json(httpd_req *req, cJSON *j) {
  if (j) httpd_respond_json(req, 200, j);
  else api_no_memory(req);
}
