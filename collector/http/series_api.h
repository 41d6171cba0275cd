/* series_api: GET /v1/metrics/series?from&to&step=hour|day — units and
 * events per UTC hour (or day) over a metrics window, for the dashboard's
 * chart. Not in SPEC §3; documented in docs/openapi.json and
 * docs/dashboard.md. Each bucket's figures are the store's metrics for that
 * bucket's window, so they add up to /v1/metrics/factory over the same
 * window. The reads run on a libuv worker thread with a read-only handle. */
#ifndef FERRY_COLLECTOR_SERIES_API_H
#define FERRY_COLLECTOR_SERIES_API_H

#include "app.h"

#define SERIES_API_PATH "/v1/metrics/series"

/* Read auth was checked in on_headers. */
void series_api_on_request(col_app *app, httpd_req *req);

#endif
