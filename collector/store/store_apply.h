/* store_apply: the backend-neutral steps of applying one ingest batch (SPEC
 * §3 Ingest) — the Idempotency-Key, the dropped-range bound (400), a key
 * reused with other events (422), a replay, the received and dropped seq
 * sets, the epoch's new high seq and the answer — written once for every
 * store backend. A backend supplies the storage steps as callbacks and runs
 * sa_apply inside its per-batch savepoint: on any status but 200 or any
 * failure it rolls the savepoint back, so the order of the steps here is
 * free to take the agent's row lock first (store_pg.c). */
#ifndef FERRY_COLLECTOR_STORE_APPLY_H
#define FERRY_COLLECTOR_STORE_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "delivery.h"
#include "store.h"

typedef struct sa_backend {
  void *ctx; /* the backend's handle, passed to every callback */
  char *err; /* the backend's error text (set on failures here) */
  size_t errlen;
  /* Upsert the agent's and the epoch's rows from in; *ret_high = the epoch's
   * high seq as stored before this batch (0 for a new epoch). */
  int (*touch)(void *ctx, const st_ingest *in, int64_t *ret_high);
  /* The stored body hash and answer of (agent, key), malloc'd (caller
   * frees), or both NULL when the key is new. */
  int (*idem_get)(void *ctx, const char *agent, const char *key, char **ret_hash, char **ret_answer);
  /* Store the batch's valid events, counting ret->accepted, duplicates and
   * conflicts. */
  int (*events)(void *ctx, const st_ingest *in, st_result *ret);
  /* Merge add into the stored received (or dropped) ranges of (agent, epoch). */
  int (*merge)(void *ctx, bool dropped, const char *agent, const char *epoch, const dlv_set *add);
  int (*add_conflicts)(void *ctx, const char *agent, int64_t n);
  int (*idem_put)(void *ctx, const st_ingest *in, const char *key, const char *answer);
  int (*set_high)(void *ctx, const char *agent, const char *epoch, int64_t high);
} sa_backend;

/* Apply in->batch: 0 with ret filled (status 200, 400 or 422), or a
 * negative errno for a storage failure. ret starts zeroed. */
int sa_apply(const sa_backend *be, const st_ingest *in, st_result *ret);

#endif
