/* ingest: POST /v1/ingest — authenticate from the headers, decode and parse
 * the batch on a libuv worker thread, hand it to the writer, and answer only
 * after the writer's commit (SPEC §3 Ingest). */
#ifndef FERRY_COLLECTOR_INGEST_H
#define FERRY_COLLECTOR_INGEST_H

#include <stddef.h>

#include "app.h"

/* Headers are in: authenticate and check the media and encoding. Returns 0 to
 * read the body, 1 when already answered. */
httpd_verdict ingest_on_headers(col_app *app, httpd_req *req);
/* The body is in: parse off the loop, store, answer. */
void ingest_on_request(col_app *app, httpd_req *req);

/* "ferry-agent/1.2.3 (...)" → "1.2.3" in out; "" when not an agent's. */
void ingest_user_agent_version(const char *ua, char *out, size_t outlen);

#endif
