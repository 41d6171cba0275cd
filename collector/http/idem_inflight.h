/* idem_inflight: the Idempotency-Keys of ingest requests the collector is
 * still working on (parsing or committing), so that a second request with the
 * same key, arriving before the first one's answer, gets 409 Conflict
 * instead of racing it (draft-ietf-httpapi-idempotency-key-header §2.6).
 * Keys are scoped by the authenticated principal: the key text itself names
 * the agent ({agent_id}:{epoch}:{first}-{last}) and the token's agent id is
 * prepended when the grant is per-agent. Loop thread only; bounded. */
#ifndef FERRY_COLLECTOR_IDEM_INFLIGHT_H
#define FERRY_COLLECTOR_IDEM_INFLIGHT_H

#include <stdbool.h>
#include <stddef.h>

/* More in-flight requests than this is more than the HTTP server admits. */
#define IDEM_INFLIGHT_MAX 4096

typedef struct idem_inflight idem_inflight;

idem_inflight *idem_inflight_new(void);
void idem_inflight_free(idem_inflight *t);
/* 0 added; -EEXIST already in flight; -ENOSPC table full; -ENOMEM. */
int idem_inflight_add(idem_inflight *t, const char *key);
/* Forget key (no-op when absent). */
void idem_inflight_remove(idem_inflight *t, const char *key);
size_t idem_inflight_count(const idem_inflight *t);

#endif
