/* build_gate: see build_gate.h. */
#include "build_gate.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <uv.h>

struct bgate {
  uv_mutex_t mu;
  uv_cond_t cv;
  unsigned width, inside, max_inside; /* under mu */
  uint64_t entered;                   /* under mu */
  atomic_uint refs;
};

int bgate_new(unsigned width, bgate **ret) {
  bgate *g = calloc(1, sizeof(*g));
  if (!g) return -ENOMEM;
  int r = uv_mutex_init(&g->mu);
  if (r < 0) {
    free(g);
    return r;
  }
  if ((r = uv_cond_init(&g->cv)) < 0) {
    uv_mutex_destroy(&g->mu);
    free(g);
    return r;
  }
  g->width = width ? width : 1;
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
  uv_cond_destroy(&g->cv);
  uv_mutex_destroy(&g->mu);
  free(g);
}

void bgate_set_width(bgate *g, unsigned width) {
  uv_mutex_lock(&g->mu);
  g->width = width ? width : 1;
  uv_cond_broadcast(&g->cv);
  uv_mutex_unlock(&g->mu);
}

void bgate_enter(bgate *g) {
  uv_mutex_lock(&g->mu);
  while (g->inside >= g->width) uv_cond_wait(&g->cv, &g->mu);
  if (++g->inside > g->max_inside) g->max_inside = g->inside;
  g->entered++;
  uv_mutex_unlock(&g->mu);
}

void bgate_leave(bgate *g) {
  uv_mutex_lock(&g->mu);
  g->inside--;
  uv_cond_signal(&g->cv);
  uv_mutex_unlock(&g->mu);
}

void bgate_stats(bgate *g, uint64_t *ret_entered, unsigned *ret_max_inside) {
  uv_mutex_lock(&g->mu);
  *ret_entered = g->entered;
  *ret_max_inside = g->max_inside;
  uv_mutex_unlock(&g->mu);
}
