/* export_api: GET /v1/events/export?from&to[&camera_id][&model_version]
 * [&max_confidence][&event_type][&limit][&after] (SPEC §6.3) — the matching
 * stored events as NDJSON, oldest first ((timestamp, agent_id, event_id) in
 * byte order), each with its agent_id; the low-confidence samples a
 * retraining pipeline collects.
 *
 * Streamed with bounded memory: a producer thread of its own reads the
 * events on a reader handle and fills a 1 MiB buffer; the loop thread hands
 * the buffer to libmicrohttpd as the client takes it (the connection sleeps
 * while the buffer is empty, the producer while it is full). Never a read on
 * the loop thread. A page holds at most `limit` events (default 100,000, at
 * most 1,000,000); when it is full, `Link: <…&after=CURSOR>; rel="next"`
 * continues after its last event (keyset paging: no gap and no repeat while
 * events keep arriving; an event stored later with a timestamp before the
 * cursor belongs to the pages already read). The producer first finds where
 * the page ends (the Link is a header), then streams up to there. At most
 * EXPORT_MAX_ACTIVE exports run at once (503 beyond). */
#ifndef FERRY_COLLECTOR_EXPORT_API_H
#define FERRY_COLLECTOR_EXPORT_API_H

#include "app.h"

#define EXPORT_API_PATH   "/v1/events/export"
#define EXPORT_MAX_ACTIVE 2

/* Read auth was checked in on_headers. */
void export_api_on_request(col_app *app, httpd_req *req);

#endif
