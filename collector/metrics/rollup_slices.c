/* rollup_slices: see rollup_slices.h. */
#include "rollup_slices.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int64_t rsl_bin_width(int64_t lo, int64_t hi) {
  int64_t span;
  if (hi <= lo || __builtin_sub_overflow(hi, lo, &span)) return 0;
  int64_t w = span / RSL_BINS + (span % RSL_BINS != 0);
  return w > 0 ? w : 1;
}

/* The carry: each worker's last state event so far whose interval may reach
 * past the current slice's start. Strings owned (buf). */
typedef struct rsl_carry {
  metrics_event *ev;
  const char **sites;
  size_t n;
  char *buf;
} rsl_carry;

static void rsl__carry_free(rsl_carry *c) {
  free(c->ev);
  free(c->sites);
  free(c->buf);
  memset(c, 0, sizeof(*c));
}

typedef struct rsl_run_ctx {
  int64_t max_state_ms;
  rsl_slice_fn fn;
  void *arg;
  metrics_clip clip;
  rsl_carry carry;
} rsl_run_ctx;

typedef struct rsl_ref {
  const metrics_event *e;
  const char *site;
} rsl_ref;

static int rsl__ref_cmp(const void *pa, const void *pb) {
  const rsl_ref *a = pa, *b = pb;
  int c = strcmp(a->e->worker_id, b->e->worker_id);
  return c ? c : metrics_event_cmp(a->e, b->e);
}

static bool rsl__is_state(metrics_type t) {
  return t == METRICS_WORKING || t == METRICS_IDLE || t == METRICS_ABSENT;
}

static size_t rsl__len(const char *s) { return s ? strlen(s) + 1 : 0; }

static const char *rsl__put(char **p, const char *s) {
  if (!s) return NULL;
  size_t l = strlen(s) + 1;
  memcpy(*p, s, l);
  const char *r = *p;
  *p += l;
  return r;
}

/* The new carry from the events a slice was computed with (old carry
 * included): per worker, the last state event in timeline order, kept when
 * its capped interval ends after the slice (ts + max_state > hi). */
static int rsl__carry_next(rsl_run_ctx *x, const metrics_event *ev, const char *const *sites, size_t n) {
  size_t ns = 0;
  for (size_t i = 0; i < n; i++)
    if (rsl__is_state(ev[i].type)) {
      if (!ev[i].worker_id) return -EINVAL;
      ns++;
    }
  rsl_ref *refs = malloc((ns ? ns : 1) * sizeof(*refs));
  if (!refs) return -ENOMEM;
  ns = 0;
  for (size_t i = 0; i < n; i++)
    if (rsl__is_state(ev[i].type)) refs[ns++] = (rsl_ref){&ev[i], sites ? sites[i] : NULL};
  if (ns > 1) qsort(refs, ns, sizeof(*refs), rsl__ref_cmp);
  size_t keep = 0, bytes = 0;
  for (size_t i = 0; i < ns; i++) {
    bool last = i + 1 == ns || strcmp(refs[i].e->worker_id, refs[i + 1].e->worker_id) != 0;
    int64_t end;
    if (__builtin_add_overflow(refs[i].e->ts_ms, x->max_state_ms, &end)) end = INT64_MAX;
    if (!last || end <= x->clip.hi_ms) continue;
    refs[keep++] = refs[i];
    const metrics_event *e = refs[i].e;
    bytes += rsl__len(e->event_id) + rsl__len(e->agent_id) + rsl__len(e->worker_id) +
             rsl__len(e->workstation_id) + rsl__len(refs[i].site);
  }
  rsl_carry c = {
      .ev = malloc((keep ? keep : 1) * sizeof(*c.ev)),
      .sites = malloc((keep ? keep : 1) * sizeof(*c.sites)),
      .buf = malloc(bytes ? bytes : 1),
  };
  if (!c.ev || !c.sites || !c.buf) {
    free(refs);
    rsl__carry_free(&c);
    return -ENOMEM;
  }
  char *p = c.buf;
  for (size_t i = 0; i < keep; i++) {
    metrics_event e = *refs[i].e;
    e.event_id = rsl__put(&p, e.event_id);
    e.agent_id = rsl__put(&p, e.agent_id);
    e.worker_id = rsl__put(&p, e.worker_id);
    e.workstation_id = rsl__put(&p, e.workstation_id);
    c.sites[i] = rsl__put(&p, refs[i].site);
    c.ev[i] = e;
  }
  c.n = keep;
  free(refs);
  rsl__carry_free(&x->carry);
  x->carry = c;
  return 0;
}

/* A slice read: its events, then the carry, to fn; then the next carry. */
static int rsl__slice(void *arg, const metrics_event *ev, const char *const *sites, size_t n) {
  rsl_run_ctx *x = arg;
  size_t nc = x->carry.n, all = n + nc;
  metrics_event *v = calloc(all ? all : 1, sizeof(*v));
  const char **s = calloc(all ? all : 1, sizeof(*s));
  int r = -ENOMEM;
  if (v && s) {
    if (n) memcpy(v, ev, n * sizeof(*v));
    if (nc) memcpy(v + n, x->carry.ev, nc * sizeof(*v));
    for (size_t i = 0; i < n; i++) s[i] = sites ? sites[i] : NULL;
    for (size_t i = 0; i < nc; i++) s[n + i] = x->carry.sites[i];
    r = x->fn(x->arg, v, s, all, &x->clip);
    if (r == 0) r = rsl__carry_next(x, v, s, all);
  }
  free(v);
  free(s);
  return r;
}

typedef struct rsl_range {
  int64_t a, b;
  int64_t n;     /* its events as counted (-1: not counted) */
  rsl_keys keys; /* when counted */
} rsl_range;

typedef struct rsl_stack {
  rsl_range *v;
  size_t n, cap;
} rsl_stack;

static int rsl__push(rsl_stack *st, rsl_range g) {
  if (st->n == st->cap) {
    size_t cap = st->cap ? st->cap * 2 : 64;
    rsl_range *v = realloc(st->v, cap * sizeof(*v));
    if (!v) return -ENOMEM;
    st->v = v;
    st->cap = cap;
  }
  st->v[st->n++] = g;
  return 0;
}

/* The part of [a, b) made of bins [k0, k1), with its count and keys. */
static rsl_range rsl__part(int64_t a, int64_t b, int64_t width, const rsl_hist *h, size_t k0, size_t k1) {
  rsl_range g = {.a = a + (int64_t)k0 * width, .b = b, .n = 0, .keys = {1, 0}};
  if (k1 < RSL_BINS && a + (int64_t)k1 * width < b) g.b = a + (int64_t)k1 * width;
  for (size_t k = k0; k < k1; k++) {
    if (!h->n[k]) continue;
    if (g.n == 0 || h->kmin[k] < g.keys.lo) g.keys.lo = h->kmin[k];
    if (g.n == 0 || h->kmax[k] > g.keys.hi) g.keys.hi = h->kmax[k];
    g.n += h->n[k];
  }
  return g;
}

/* [a, b) cut at bin edges into runs of at most max events, pushed last
 * first so they pop in time order. */
static int rsl__split(rsl_stack *st, int64_t a, int64_t b, int64_t width, const rsl_hist *h, size_t max) {
  rsl_range parts[2 * RSL_BINS + 1];
  size_t np = 0, start = 0, nb = 0;
  int64_t sum = 0;
  while (nb < RSL_BINS && a + (int64_t)nb * width < b) nb++;
  for (size_t k = 0; k < nb; k++) {
    if (h->n[k] > (int64_t)max) { /* a range of its own, narrower than [a, b) */
      if (start < k) parts[np++] = rsl__part(a, b, width, h, start, k);
      parts[np++] = rsl__part(a, b, width, h, k, k + 1);
      start = k + 1;
      sum = 0;
      continue;
    }
    if (sum + h->n[k] > (int64_t)max) {
      parts[np++] = rsl__part(a, b, width, h, start, k);
      start = k;
      sum = 0;
    }
    sum += h->n[k];
  }
  if (start < nb) parts[np++] = rsl__part(a, b, width, h, start, RSL_BINS);
  for (size_t i = np; i-- > 0;)
    if (rsl__push(st, parts[i]) < 0) return -ENOMEM;
  return 0;
}

int rsl_run(rsl_read_fn read, void *ctx, int64_t max_state_ms, int64_t lo, int64_t hi, const char *worker,
            size_t max, rsl_slice_fn fn, void *arg) {
  if (max == 0) max = RSL_SLICE_EVENTS;
  if (max_state_ms < 0) max_state_ms = 0;
  rsl_run_ctx x = {.max_state_ms = max_state_ms, .fn = fn, .arg = arg};
  rsl_stack st = {0};
  rsl_hist *hist = malloc(sizeof(*hist));
  int r = hist ? 0 : -ENOMEM;
  if (r == 0 && lo < hi) r = rsl__push(&st, (rsl_range){.a = lo, .b = hi, .n = -1});
  while (r == 0 && st.n > 0) {
    rsl_range g = st.v[--st.n];
    int64_t width = rsl_bin_width(g.a, g.b);
    x.clip = (metrics_clip){g.a, g.b};
    if (g.n == 0) { /* counted empty: only the carry's intervals */
      r = rsl__slice(&x, NULL, NULL, 0);
      continue;
    }
    memset(hist, 0, sizeof(*hist));
    /* a range that cannot be split further is read whole */
    bool whole = width == 0 || g.b - g.a <= 1;
    r = read(ctx, g.a, g.b, worker, g.n > 0 ? &g.keys : NULL, whole ? SIZE_MAX : max, hist, rsl__slice, &x);
    if (r == RSL_TOO_MANY) r = whole ? -EIO : rsl__split(&st, g.a, g.b, width, hist, max);
  }
  free(hist);
  free(st.v);
  rsl__carry_free(&x.carry);
  return r;
}
