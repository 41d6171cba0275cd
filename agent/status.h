/* status: the agent's read-only local endpoints — /healthz, /readyz,
 * /v1/status and /metrics. A snapshot of the journal's, ingest's and the
 * uploader's figures is taken on the loop thread, then rendered by pure
 * functions (JSON for /v1/status, Prometheus text format 0.0.4 for /metrics)
 * that the unit tests drive with hand-made snapshots. */
#ifndef FERRY_AGENT_STATUS_H
#define FERRY_AGENT_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "httpd.h"
#include "ingest.h"
#include "journal.h"
#include "looplag.h"
#include "mqtt.h"
#include "uploader.h"

#define STATUS_METRICS_MAX (64 * 1024) /* bound on the /metrics body */

typedef struct status_snapshot {
  const char *agent_id;
  const char *version;
  int64_t now_ms; /* wall clock, for ages from ingested_at */
  journal_stats js;
  ingest_counters ic;
  uploader_stats us;
  looplag_stats lag; /* zero when not measured */
  bool has_mqtt;     /* an MQTT source is configured */
  mqtt_stats mq;
} status_snapshot;

typedef struct status_sources {
  journal *j;
  ingest *in;   /* may be NULL */
  uploader *up; /* may be NULL (not started / stopped) */
  const char *agent_id;
  const looplag *lag; /* may be NULL */
  mqtt_source *mq;    /* may be NULL (no MQTT source) */
} status_sources;

void status_take(const status_sources *src, status_snapshot *ret);
/* Seconds since the oldest pending event was ingested; 0 with no backlog. */
double status_oldest_pending_s(const status_snapshot *s);
/* The /v1/status document (caller owns). NULL on out of memory. */
cJSON *status_json(const status_snapshot *s);
/* Render /metrics into buf. Returns the length, or -ENOSPC when cap is too small. */
int status_metrics_text(const status_snapshot *s, char *buf, size_t cap);

/* Handlers; each answers req exactly once. */
void status_healthz(httpd_req *req);
void status_readyz(const status_sources *src, httpd_req *req);
void status_v1(const status_sources *src, httpd_req *req);
void status_metrics(const status_sources *src, httpd_req *req);

#endif
