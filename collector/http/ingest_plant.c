/* ingest_plant: see ingest_plant.h. */
#include "ingest_plant.h"

#include <stddef.h>
#include <stdio.h>

const char *ip_agent_site(const reg_index *x, const char *agent_id, const char *declared) {
  if (declared && *declared) return declared;
  const reg_entry *a = reg_index_find(x, REG_AGENTS, agent_id);
  return a ? a->site : NULL;
}

int64_t ip_retention_days(const reg_index *x, const char *site, int64_t default_days) {
  const reg_entry *s = site ? reg_index_find(x, REG_SITES, site) : NULL;
  return s && s->retention_days >= 0 ? s->retention_days : default_days;
}

void ip_check_batch(const reg_index *x, ip_unknown_mode mode, int64_t default_retention_days, int64_t now_ms,
                    bt_batch *b) {
  const char *site = ip_agent_site(x, b->agent_id, b->site);
  if (site && site != b->site) snprintf(b->site, sizeof(b->site), "%s", site); /* stored with each event */
  int64_t days = ip_retention_days(x, site, default_retention_days);
  int64_t oldest = days > 0 ? now_ms - days * 86400000LL : INT64_MIN;
  for (size_t i = 0; i < b->n; i++) {
    bt_event *e = &b->events[i];
    if (!e->valid) continue;
    if (e->ev.ts_ms < oldest) {
      bt_reject(e, "timestamp_out_of_range");
      continue;
    }
    if (mode != IP_UNKNOWN_REJECT) continue;
    if (e->ev.worker_id && !reg_index_find(x, REG_WORKERS, e->ev.worker_id)) bt_reject(e, "unknown_worker");
    else if (e->ev.workstation_id && !reg_index_find(x, REG_STATIONS, e->ev.workstation_id))
      bt_reject(e, "unknown_workstation");
  }
}
