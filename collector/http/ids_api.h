/* ids_api: GET /v1/workers and GET /v1/workstations (SPEC §6.6): every id
 * seen in an event or registered, with its registry name (and team / type,
 * line, site), the time of its first and last event, and whether the
 * registry knows it. Read on a libuv worker thread with a reader handle. */
#ifndef FERRY_COLLECTOR_IDS_API_H
#define FERRY_COLLECTOR_IDS_API_H

#include "app.h"

#define IDS_API_WORKERS  "/v1/workers"
#define IDS_API_STATIONS "/v1/workstations"

/* Read auth was checked in on_headers. */
void ids_api_on_request(col_app *app, httpd_req *req, bool stations);

#endif
