/* agents_api: GET /v1/agents — each agent's delivery figures (SPEC §3
 * "Delivery tracking"), read by the writer thread, shaped here. */
#ifndef FERRY_COLLECTOR_AGENTS_API_H
#define FERRY_COLLECTOR_AGENTS_API_H

#include <cjson/cJSON.h>

#include "app.h"
#include "catchup.h"

/* The answer body for agents (already sorted by agent_id), with the backlog
 * trend and catch-up estimate of cu at now_ms (cu may be NULL). NULL on ENOMEM. */
struct activity;
/* act (may be NULL) adds each agent's rejection reasons. */
cJSON *agents_api_json(const st_agent_info *agents, size_t n, const struct activity *act, const cu_table *cu,
                       uint64_t now_ms);
/* Read auth was checked in on_headers; queue the read and answer from it. */
void agents_api_on_request(col_app *app, httpd_req *req);

#endif
