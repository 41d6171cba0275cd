/* metrics_api: GET /v1/metrics/factory, /workers, /workers/{id},
 * /workstations, /workstations/{id} (SPEC §3 "Metrics"). The query runs on a
 * libuv worker thread with a read-only store handle; the loop thread only
 * parses the request and shapes the JSON. */
#ifndef FERRY_COLLECTOR_METRICS_API_H
#define FERRY_COLLECTOR_METRICS_API_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "app.h"

#define METRICS_API_PREFIX "/v1/metrics/"

/* Whether path (raw) is one of the metrics endpoints. */
bool metrics_api_match(const char *path);
/* Read auth was checked in on_headers. */
void metrics_api_on_request(col_app *app, httpd_req *req);
/* SPEC §6.5: a query parameter not in allowed (NULL-terminated) is a 400
 * naming it ("?form=" must not silently give the default window). Returns 1
 * after answering, 0 when every parameter is known. */
int metrics_api_refuse_unknown(httpd_req *req, const char *const *allowed);
/* The factory object's fields (shared with /metrics). */
void metrics_api_factory_fields(cJSON *o, const metrics_result *r);

#endif
