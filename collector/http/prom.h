/* prom: GET /metrics on the collector in the Prometheus text format (0.0.4):
 * ingest counters by agent, request latency histograms by route, each
 * agent's backlog and missing gauges, today's (UTC) factory figures and build
 * info. Counters live in memory (loop thread); the database part is read on a
 * worker thread with a reader handle at most once per PROM_CACHE_MS, so a
 * scrape costs nothing heavy. */
#ifndef FERRY_COLLECTOR_PROM_H
#define FERRY_COLLECTOR_PROM_H

#include <stdint.h>

#include "app.h"

#define PROM_CACHE_MS   5000
#define PROM_MAX_AGENTS 4096 /* agents with their own counters; the rest count under "other" */
/* bound on the page: a few hundred bytes per agent (counters and the
 * database snapshot's gauges) for hundreds of thousands of agents */
#define PROM_PAGE_MAX   ((size_t)64 << 20)

typedef struct col_prom col_prom;

col_prom *prom_new(void);
void prom_free(col_prom *p);
/* Loop thread: one answered ingest batch. */
void prom_count_batch(col_prom *p, const char *agent_id, uint64_t accepted, uint64_t duplicates,
                      uint64_t rejected);
/* httpd on_answer hook (ud = col_app). */
void prom_on_answer(const httpd_req *req, unsigned status, double seconds, void *ud);
/* GET /metrics (read auth checked). */
void prom_on_request(col_app *app, httpd_req *req);

#endif
