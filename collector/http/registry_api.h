/* registry_api: the plant registry over HTTP (SPEC §6.6) —
 *   GET /v1/registry             the document with its version (read or admin token)
 *   PUT /v1/registry             replace it from JSON (admin token)
 *   GET /v1/registry/{kind}      one kind as CSV (read or admin token)
 *   PUT /v1/registry/{kind}      replace one kind from CSV (admin token)
 * Writes run on the writer thread (validated whole there, against the
 * document they replace); reads on a libuv worker with a reader handle. */
#ifndef FERRY_COLLECTOR_REGISTRY_API_H
#define FERRY_COLLECTOR_REGISTRY_API_H

#include <stdbool.h>

#include "app.h"

#define REGISTRY_API_PATH "/v1/registry"

/* Whether path is one of the registry endpoints. */
bool registry_api_match(const char *path);
/* Method and token checks: HTTPD_ANSWERED, or HTTPD_READ_BODY to go on. */
httpd_verdict registry_api_on_headers(col_app *app, httpd_req *req);
void registry_api_on_request(col_app *app, httpd_req *req);

#endif
