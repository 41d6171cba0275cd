/* reg_cache: the registry as the ingest path and the HTTP handlers see it —
 * one shared, reference-counted index of the latest version, so a batch is
 * checked (unknown ids, the agent's site, per-site retention) without a
 * database read. It is replaced after each write through this collector and
 * re-read every few seconds (a write by `registry import` or by another
 * replica shows up within that time) — its version first, the document only
 * when the version changed. Any thread may acquire it. */
#ifndef FERRY_COLLECTOR_REG_CACHE_H
#define FERRY_COLLECTOR_REG_CACHE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "readers.h"
#include "registry.h"
#include "store.h"

#define REG_CACHE_REFRESH_MS 5000

typedef struct reg_cache reg_cache;
typedef struct reg_ref reg_ref; /* a held version */

int reg_cache_new(reg_cache **ret);
/* Stop the refresh timer (loop thread; before the loop's last run). */
void reg_cache_stop(reg_cache *c);
void reg_cache_free(reg_cache *c); /* after the loop has finished */
/* The current index (an empty one until a registry was read); never NULL.
 * Hold it as long as needed, then release. */
reg_ref *reg_cache_acquire(reg_cache *c);
const reg_index *reg_ref_index(const reg_ref *r);
void reg_cache_release(reg_cache *c, reg_ref *r);
/* Read st's registry (any thread) and make it current when newer. */
int reg_cache_load(reg_cache *c, store *st);
/* Read st's registry version (any thread); only when it is newer than the
 * current one, read the document and make it current. *ret_loaded: whether
 * the document was read. */
int reg_cache_refresh(reg_cache *c, store *st, bool *ret_loaded);
/* Re-read through the readers every REG_CACHE_REFRESH_MS (loop thread). */
int reg_cache_start(reg_cache *c, uv_loop_t *loop, rd_pool *readers);

#endif
