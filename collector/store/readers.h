/* readers: a small bounded pool of read-only store handles (store_ops
 * open_reader) for the libuv worker threads that answer /v1/metrics/… and
 * /metrics, so those reads never queue behind the writer's group commits. */
#ifndef FERRY_COLLECTOR_READERS_H
#define FERRY_COLLECTOR_READERS_H

#include <stddef.h>

#include "store.h"

typedef struct rd_pool rd_pool;

/* At most max handles on writer's database, opened on first use. */
int rd_pool_new(store *writer, size_t max, rd_pool **ret);
/* Any thread: an idle handle, a new one, or wait for one to be put back.
 * 0 or negative errno with err. */
int rd_pool_get(rd_pool *p, store **ret, char *err, size_t errlen);
/* Give the handle back (bad = close it: it failed in a way that may stick). */
void rd_pool_put(rd_pool *p, store *r, int bad);
/* Close every handle; none may be out. */
void rd_pool_free(rd_pool *p);

#endif
