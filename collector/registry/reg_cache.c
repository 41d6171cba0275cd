/* reg_cache: see reg_cache.h. */
#include "reg_cache.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "log.h"
#include "registry_edit.h"

struct reg_ref {
  reg_index *x;
  int refs; /* holders, the cache itself included while current */
};

struct reg_cache {
  uv_mutex_t mu;
  reg_ref *cur;
  uv_timer_t timer;
  uv_work_t work;
  bool timer_on, busy;
  rd_pool *readers;
};

static reg_ref *rc__ref(reg_index *x) {
  reg_ref *r = calloc(1, sizeof(*r));
  if (!r) return NULL;
  r->x = x;
  r->refs = 1;
  return r;
}

int reg_cache_new(reg_cache **ret) {
  reg_cache *c = calloc(1, sizeof(*c));
  if (!c) return -ENOMEM;
  reg_index *x = NULL;
  if (reg_index_build(NULL, 0, &x) < 0 || !(c->cur = rc__ref(x))) {
    reg_index_free(x);
    free(c);
    return -ENOMEM;
  }
  if (uv_mutex_init(&c->mu) < 0) {
    reg_index_free(x);
    free(c->cur);
    free(c);
    return -ENOMEM;
  }
  *ret = c;
  return 0;
}

reg_ref *reg_cache_acquire(reg_cache *c) {
  uv_mutex_lock(&c->mu);
  reg_ref *r = c->cur;
  r->refs++;
  uv_mutex_unlock(&c->mu);
  return r;
}

const reg_index *reg_ref_index(const reg_ref *r) { return r->x; }

static void rc__drop(reg_ref *r) {
  reg_index_free(r->x);
  free(r);
}

void reg_cache_release(reg_cache *c, reg_ref *r) {
  if (!r) return;
  uv_mutex_lock(&c->mu);
  bool last = --r->refs == 0;
  uv_mutex_unlock(&c->mu);
  if (last) rc__drop(r);
}

int reg_cache_load(reg_cache *c, store *st) {
  reg_index *x = NULL;
  int r = reg_index_load(st, &x);
  if (r < 0) return r;
  reg_ref *n = NULL;
  uv_mutex_lock(&c->mu);
  bool newer = reg_index_version(x) > reg_index_version(c->cur->x);
  reg_ref *old = NULL;
  if (newer && (n = rc__ref(x))) {
    old = c->cur;
    c->cur = n;
    old->refs--;
  }
  bool drop_old = old && old->refs == 0;
  uv_mutex_unlock(&c->mu);
  if (drop_old) rc__drop(old);
  if (!n) reg_index_free(x);
  return newer && !n ? -ENOMEM : 0;
}

int reg_cache_refresh(reg_cache *c, store *st, bool *ret_loaded) {
  int64_t version = 0;
  *ret_loaded = false;
  int r = st->ops->registry_get(st, &version, NULL, NULL);
  if (r < 0) return r;
  uv_mutex_lock(&c->mu);
  bool newer = version > reg_index_version(c->cur->x);
  uv_mutex_unlock(&c->mu);
  if (!newer) return 0;
  *ret_loaded = true;
  return reg_cache_load(c, st);
}

static void rc__work(uv_work_t *w) {
  reg_cache *c = w->data;
  store *rd = NULL;
  char err[256];
  bool loaded;
  if (rd_pool_get(c->readers, &rd, err, sizeof(err)) < 0) return;
  int r = reg_cache_refresh(c, rd, &loaded);
  rd_pool_put(c->readers, rd, r < 0 && r != -ENOMEM);
}

static void rc__done(uv_work_t *w, int status) {
  reg_cache *c = w->data;
  (void)status;
  c->busy = false;
}

static void rc__tick(uv_timer_t *t) {
  reg_cache *c = t->data;
  if (c->busy) return;
  c->work.data = c;
  if (uv_queue_work(t->loop, &c->work, rc__work, rc__done) == 0) c->busy = true;
}

int reg_cache_start(reg_cache *c, uv_loop_t *loop, rd_pool *readers) {
  c->readers = readers;
  int r = uv_timer_init(loop, &c->timer);
  if (r < 0) return r;
  c->timer.data = c;
  c->timer_on = true;
  return uv_timer_start(&c->timer, rc__tick, REG_CACHE_REFRESH_MS, REG_CACHE_REFRESH_MS);
}

void reg_cache_stop(reg_cache *c) {
  if (!c || !c->timer_on) return;
  c->timer_on = false;
  uv_timer_stop(&c->timer);
  uv_close((uv_handle_t *)&c->timer, NULL);
}

void reg_cache_free(reg_cache *c) {
  if (!c) return;
  if (c->cur && --c->cur->refs == 0) rc__drop(c->cur);
  uv_mutex_destroy(&c->mu);
  free(c);
}
