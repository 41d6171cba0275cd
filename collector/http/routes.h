/* routes: which handler answers which method and path, plus the two
 * always-open probes (/healthz, /readyz). 404 and 405 (with Allow) answers
 * are JSON like every other error. Later endpoints (metrics) add a row. */
#ifndef FERRY_COLLECTOR_ROUTES_H
#define FERRY_COLLECTOR_ROUTES_H

#include "app.h"

/* httpd_config callbacks; ud is the col_app. */
httpd_verdict routes_on_headers(httpd_req *req, void *ud);
void routes_on_request(httpd_req *req, void *ud);

#endif
