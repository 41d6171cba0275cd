/* build_gate: at most one query at a time builds stale hours from their
 * events, collector-wide. Right after a backfill (timestamps over a month:
 * every hour stale until the writer has rebuilt it) each query over the
 * month builds hundreds of hours, slice by slice (rollup_slices.h: a few
 * MiB of events and working arrays each); several dashboard users at once
 * would each hold a slice beside the writer's rebuild and beside the page
 * caches. Queries pass the gate a piece of a few hours at a time, so they
 * take turns instead of waiting for one another's whole window; the writer's
 * upkeep does not take it (a query would otherwise wait for its rebuild
 * pieces). Shared by a store's writer handle and its readers (refcounted). */
#ifndef FERRY_COLLECTOR_BUILD_GATE_H
#define FERRY_COLLECTOR_BUILD_GATE_H

#include <stdint.h>

typedef struct bgate bgate;

int bgate_new(bgate **ret); /* 0 or -ENOMEM */
bgate *bgate_ref(bgate *g);
void bgate_unref(bgate *g); /* NULL: nothing */

void bgate_enter(bgate *g);
void bgate_leave(bgate *g);

/* Pieces built through the gate so far, and the most ever inside at once
 * (1 unless the gate is broken). */
void bgate_stats(bgate *g, uint64_t *ret_entered, unsigned *ret_max_inside);

#endif
