/* ingest_plant: the plant registry's rules for one parsed batch (SPEC §6.6),
 * applied on the ingest worker thread before the batch goes to the writer:
 * the site its events belong to (the batch's "site", else the registry's
 * agent→site map), that site's retention_days in place of --retention-days,
 * and with --unknown-ids reject, events naming a worker or workstation the
 * registry does not list are rejected (unknown_worker / unknown_workstation),
 * so they dead-letter at the agent with the reason. */
#ifndef FERRY_COLLECTOR_INGEST_PLANT_H
#define FERRY_COLLECTOR_INGEST_PLANT_H

#include <stdint.h>

#include "batch.h"
#include "registry.h"

typedef enum { IP_UNKNOWN_ACCEPT = 0, IP_UNKNOWN_FLAG = 1, IP_UNKNOWN_REJECT = 2 } ip_unknown_mode;

/* The site of agent_id's events: declared when not "" (the agent's --site),
 * else the registry's map; NULL when neither names one. */
const char *ip_agent_site(const reg_index *x, const char *agent_id, const char *declared);

/* The retention that applies to a site (NULL: none): its retention_days when
 * the registry gives one (0 = keep everything), else default_days. */
int64_t ip_retention_days(const reg_index *x, const char *site, int64_t default_days);

/* Reject, among b's valid events, those older than the retention of the
 * batch's site (timestamp_out_of_range) and, in reject mode, those naming
 * unregistered ids. bt_parse must have run without a retention bound. */
void ip_check_batch(const reg_index *x, ip_unknown_mode mode, int64_t default_retention_days, int64_t now_ms,
                    bt_batch *b);

#endif
