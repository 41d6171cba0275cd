/* build_gate: at most a few queries at a time build stale hours from their
 * events, collector-wide — as many as there are CPU cores. Right after a
 * backfill (timestamps over a month: every hour stale until the writer has
 * rebuilt it) each query over the month builds hundreds of hours, slice by
 * slice (rollup_slices.h: a few MiB of events and working arrays each);
 * several dashboards at once each held a slice beside the writer's rebuild
 * and beside the page caches, while more builders than cores only share
 * the same CPU. Queries pass the gate a piece of a few hours at a time, so
 * those past the width take turns instead of waiting for one another's
 * whole window; the writer's upkeep does not take it (a query would
 * otherwise wait for its rebuild pieces). Shared by a store's writer handle
 * and its readers (refcounted). */
#ifndef FERRY_COLLECTOR_BUILD_GATE_H
#define FERRY_COLLECTOR_BUILD_GATE_H

#include <stdint.h>

typedef struct bgate bgate;

/* A gate letting width builders in at once (0: 1); 0 or a negative errno. */
int bgate_new(unsigned width, bgate **ret);
void bgate_set_width(bgate *g, unsigned width);
bgate *bgate_ref(bgate *g);
void bgate_unref(bgate *g); /* NULL: nothing */

void bgate_enter(bgate *g);
void bgate_leave(bgate *g);

/* Pieces built through the gate so far, and the most ever inside at once
 * (at most the width unless the gate is broken). */
void bgate_stats(bgate *g, uint64_t *ret_entered, unsigned *ret_max_inside);

#endif
