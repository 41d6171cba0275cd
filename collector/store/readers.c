/* readers: see readers.h. */
#include "readers.h"

#include <errno.h>
#include <stdlib.h>
#include <uv.h>

#define RD_MAX 8

struct rd_pool {
  store *writer;
  uv_mutex_t mu;
  uv_cond_t cv;
  store *idle[RD_MAX];
  size_t n_idle, n_open, max;
};

int rd_pool_new(store *writer, size_t max, rd_pool **ret) {
  rd_pool *p = calloc(1, sizeof(*p));
  if (!p) return -ENOMEM;
  p->writer = writer;
  p->max = max < 1 ? 1 : max > RD_MAX ? RD_MAX : max;
  int r = uv_mutex_init(&p->mu);
  if (r < 0) {
    free(p);
    return r;
  }
  if ((r = uv_cond_init(&p->cv)) < 0) {
    uv_mutex_destroy(&p->mu);
    free(p);
    return r;
  }
  *ret = p;
  return 0;
}

int rd_pool_get(rd_pool *p, store **ret, char *err, size_t errlen) {
  uv_mutex_lock(&p->mu);
  while (p->n_idle == 0 && p->n_open >= p->max) uv_cond_wait(&p->cv, &p->mu);
  if (p->n_idle) {
    *ret = p->idle[--p->n_idle];
    uv_mutex_unlock(&p->mu);
    return 0;
  }
  p->n_open++;
  uv_mutex_unlock(&p->mu);
  int r = p->writer->ops->open_reader(p->writer, ret, err, errlen);
  if (r < 0) {
    uv_mutex_lock(&p->mu);
    p->n_open--;
    uv_cond_signal(&p->cv);
    uv_mutex_unlock(&p->mu);
  }
  return r;
}

void rd_pool_put(rd_pool *p, store *r, int bad) {
  uv_mutex_lock(&p->mu);
  if (bad || p->n_idle == RD_MAX) {
    p->n_open--;
    uv_mutex_unlock(&p->mu);
    r->ops->close(r);
    uv_mutex_lock(&p->mu);
  } else {
    p->idle[p->n_idle++] = r;
  }
  uv_cond_signal(&p->cv);
  uv_mutex_unlock(&p->mu);
}

void rd_pool_free(rd_pool *p) {
  if (!p) return;
  for (size_t i = 0; i < p->n_idle; i++) p->idle[i]->ops->close(p->idle[i]);
  uv_cond_destroy(&p->cv);
  uv_mutex_destroy(&p->mu);
  free(p);
}
