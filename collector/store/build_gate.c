/* build_gate: see build_gate.h. */
#include "build_gate.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <uv.h>

struct bgate {
  uv_mutex_t mu; /* held by the query building */
  atomic_uint refs;
  atomic_uint inside, max_inside;
  atomic_uint_fast64_t entered;
};

int bgate_new(bgate **ret) {
  bgate *g = calloc(1, sizeof(*g));
  if (!g) return -ENOMEM;
  int r = uv_mutex_init(&g->mu);
  if (r < 0) {
    free(g);
    return r;
  }
  atomic_init(&g->refs, 1);
  *ret = g;
  return 0;
}

bgate *bgate_ref(bgate *g) {
  if (g) atomic_fetch_add(&g->refs, 1);
  return g;
}

void bgate_unref(bgate *g) {
  if (!g || atomic_fetch_sub(&g->refs, 1) != 1) return;
  uv_mutex_destroy(&g->mu);
  free(g);
}

void bgate_enter(bgate *g) {
  uv_mutex_lock(&g->mu);
  unsigned n = atomic_fetch_add(&g->inside, 1) + 1;
  if (n > atomic_load(&g->max_inside)) atomic_store(&g->max_inside, n);
  atomic_fetch_add(&g->entered, 1);
}

void bgate_leave(bgate *g) {
  atomic_fetch_sub(&g->inside, 1);
  uv_mutex_unlock(&g->mu);
}

void bgate_stats(bgate *g, uint64_t *ret_entered, unsigned *ret_max_inside) {
  *ret_entered = atomic_load(&g->entered);
  *ret_max_inside = atomic_load(&g->max_inside);
}
