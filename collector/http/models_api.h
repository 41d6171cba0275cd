/* models_api: GET /v1/metrics/models?from&to[&step=hour] (SPEC §6.3) — per
 * camera and model version: events, confidence mean and p10, low-confidence
 * rate, event mix and the drift flag against the 7 days before `from`. With
 * step=hour the answer also holds, per camera, hourly points of events,
 * confidence mean and low-confidence rate (the dashboard's chart). The
 * figures come from collector/metrics/models.c; the reads run on a libuv
 * worker thread with a read-only store handle. */
#ifndef FERRY_COLLECTOR_MODELS_API_H
#define FERRY_COLLECTOR_MODELS_API_H

#include "app.h"
#include "models.h"

#define MODELS_API_PATH "/v1/metrics/models"

/* Read auth was checked in on_headers. */
void models_api_on_request(col_app *app, httpd_req *req);

/* Read the window [from, to) and its baseline (the 7 days before from) on a
 * reader handle into win and base (initialised here; free both). */
int models_api_read(store *rd, int64_t from_ms, int64_t to_ms, models_set *win, models_set *base);

#endif
