/* api_answer: the answers every read endpoint gives the same way — a 400
 * naming the bad query parameter, a 503 with Retry-After when the database
 * could not be read or memory ran out, and the 200 of a built JSON object
 * (or that 503 when it could not be built). One wording, one status, one
 * header for all of them, so an operator's alert or an integrator's retry
 * rule matches every endpoint. */
#ifndef FERRY_COLLECTOR_API_ANSWER_H
#define FERRY_COLLECTOR_API_ANSWER_H

#include <cjson/cJSON.h>

#include "httpd.h"

/* 400 invalid_parameter with error.param = param (may be NULL). */
__attribute__((format(printf, 3, 4))) void api_bad_param(httpd_req *req, const char *param, const char *fmt,
                                                         ...);
/* 503 unavailable + Retry-After: the store failed. what names the endpoint in
 * the log line ("metrics: reading the database failed: errmsg"). */
void api_db_unavailable(httpd_req *req, const char *what, const char *errmsg);
/* 503 unavailable + Retry-After: out of memory. */
void api_no_memory(httpd_req *req);
/* 503 shutting_down + Retry-After: the worker was cancelled at shutdown. */
void api_shutting_down(httpd_req *req);
/* 503 unavailable + Retry-After: uv_queue_work refused the query. */
void api_not_scheduled(httpd_req *req);
/* 200 with j (owned), or api_no_memory when j is NULL. */
void api_json(httpd_req *req, cJSON *j);

#endif
