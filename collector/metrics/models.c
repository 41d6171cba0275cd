/* models: see models.h. */
#include "models.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Exact comparisons of fractions of counts need products of two 64-bit
 * counts: a small unsigned 128-bit type, portable to 32-bit targets (armhf has
 * no __int128). Counts are never negative. */
typedef struct {
  uint64_t hi, lo;
} models_u128;

static models_u128 u128_mul(uint64_t a, uint64_t b) {
  uint64_t a0 = a & 0xffffffffu, a1 = a >> 32, b0 = b & 0xffffffffu, b1 = b >> 32;
  uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  uint64_t mid = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu);
  models_u128 r = {p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32), (mid << 32) | (p00 & 0xffffffffu)};
  return r;
}

static models_u128 u128_add(models_u128 a, models_u128 b) {
  models_u128 r = {a.hi + b.hi, a.lo + b.lo};
  if (r.lo < a.lo) r.hi++;
  return r;
}

static int u128_cmp(models_u128 a, models_u128 b) {
  if (a.hi != b.hi) return a.hi < b.hi ? -1 : 1;
  return a.lo < b.lo ? -1 : a.lo > b.lo;
}

/* |a - b| */
static models_u128 u128_absdiff(models_u128 a, models_u128 b) {
  if (u128_cmp(a, b) < 0) {
    models_u128 t = a;
    a = b;
    b = t;
  }
  models_u128 r = {a.hi - b.hi - (a.lo < b.lo), a.lo - b.lo};
  return r;
}

/* a * k for a small k (the products here stay far below 2^128) */
static models_u128 u128_mul_small(models_u128 a, uint32_t k) {
  models_u128 lo = u128_mul(a.lo, k);
  lo.hi += a.hi * k;
  return lo;
}

int models_bin(double c) {
  if (!(c > 0)) return 0; /* also NaN */
  if (c >= 1) return MODELS_BINS - 1;
  int k = (int)(c * 1000.0);
  if (k > MODELS_BINS - 1) k = MODELS_BINS - 1;
  /* the product may be off by one near a bin edge: settle it by comparing
   * with the edges themselves, the doubles a threshold parses to */
  while (k > 0 && c < (double)k / 1000.0) k--;
  while (k < MODELS_BINS - 1 && c >= (double)(k + 1) / 1000.0) k++;
  return k;
}

int64_t models_micro(double c) {
  if (!(c > 0)) return 0;
  if (c > 1) c = 1;
  return (int64_t)llround(c * 1e6);
}

void models_cell_init(models_cell *c) {
  memset(c, 0, sizeof(*c));
  c->last_ms = INT64_MIN;
}

void models_cell_add_binned(models_cell *c, metrics_type type, int64_t ts_ms, int bin, int64_t micro) {
  c->events++;
  if ((int)type >= 0 && (int)type < 4) c->mix[type]++;
  if (ts_ms > c->last_ms) c->last_ms = ts_ms;
  if (bin < 0) return;
  c->with_conf++;
  c->conf_micro += micro;
  c->hist[bin < MODELS_BINS ? bin : MODELS_BINS - 1]++;
}

void models_cell_add_event(models_cell *c, metrics_type type, int64_t ts_ms, bool has_conf, double conf) {
  models_cell_add_binned(c, type, ts_ms, has_conf ? models_bin(conf) : -1, has_conf ? models_micro(conf) : 0);
}

void models_cell_merge(models_cell *dst, const models_cell *src) {
  dst->events += src->events;
  dst->with_conf += src->with_conf;
  dst->conf_micro += src->conf_micro;
  for (int i = 0; i < 4; i++) dst->mix[i] += src->mix[i];
  if (src->last_ms > dst->last_ms) dst->last_ms = src->last_ms;
  for (int i = 0; i < MODELS_BINS; i++) dst->hist[i] += src->hist[i];
}

static uint32_t models__get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void models__put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

size_t models_hist_pack(const int64_t *hist, uint8_t *out) {
  size_t nz = 0;
  for (int i = 0; i < MODELS_BINS; i++) nz += hist[i] != 0;
  bool sparse = nz * 6 < MODELS_HIST_BYTES;
  size_t n = 0;
  for (int i = 0; i < MODELS_BINS; i++) {
    uint32_t v = hist[i] > UINT32_MAX ? UINT32_MAX : hist[i] < 0 ? 0 : (uint32_t)hist[i];
    if (!sparse) {
      models__put32(out + 4 * i, v);
      continue;
    }
    if (!v) continue;
    out[n] = (uint8_t)i;
    out[n + 1] = (uint8_t)(i >> 8);
    models__put32(out + n + 2, v);
    n += 6;
  }
  return sparse ? n : MODELS_HIST_BYTES;
}

int models_hist_add(int64_t *hist, const void *blob, size_t len) {
  if (!blob || len == 0) return 0;
  const uint8_t *p = blob;
  if (len == MODELS_HIST_BYTES) {
    for (int i = 0; i < MODELS_BINS; i++) hist[i] += models__get32(p + 4 * i);
    return 0;
  }
  if (len % 6 || len > MODELS_HIST_BYTES) return -EINVAL;
  for (size_t k = 0; k < len; k += 6) {
    unsigned bin = (unsigned)p[k] | (unsigned)p[k + 1] << 8;
    if (bin >= MODELS_BINS) return -EINVAL;
    hist[bin] += models__get32(p + k + 2);
  }
  return 0;
}

void models_key(const char *id, char out[MODELS_KEY_MAX]) {
  if (!id) {
    out[0] = '\0';
    return;
  }
  out[0] = '=';
  size_t n = strlen(id);
  if (n > MODELS_ID_MAX) n = MODELS_ID_MAX;
  memcpy(out + 1, id, n);
  out[n + 1] = '\0';
}

const char *models_key_id(const char *key) { return key && key[0] == '=' ? key + 1 : NULL; }

/* ---- the set ------------------------------------------------------------ */

void models_set_init(models_set *s) { memset(s, 0, sizeof(*s)); }

void models_set_clear(models_set *s) {
  for (size_t i = 0; i < s->n; i++) free(s->e[i]);
  free(s->e);
  memset(s, 0, sizeof(*s));
}

static int models__cmp(const char *ca, const char *ma, const models_entry *e) {
  int c = strcmp(ca, e->camera);
  return c ? c : strcmp(ma, e->model);
}

/* Index of the first entry >= (camera, model). */
static size_t models__lower(const models_set *s, const char *camera, const char *model) {
  size_t lo = 0, hi = s->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (models__cmp(camera, model, s->e[mid]) > 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const models_cell *models_set_find(const models_set *s, const char *camera_key, const char *model_key) {
  size_t i = models__lower(s, camera_key, model_key);
  return i < s->n && models__cmp(camera_key, model_key, s->e[i]) == 0 ? &s->e[i]->c : NULL;
}

models_cell *models_set_get(models_set *s, const char *camera_key, const char *model_key) {
  size_t i = models__lower(s, camera_key, model_key);
  if (i < s->n && models__cmp(camera_key, model_key, s->e[i]) == 0) return &s->e[i]->c;
  if (strlen(camera_key) >= MODELS_KEY_MAX || strlen(model_key) >= MODELS_KEY_MAX) return NULL;
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 16;
    models_entry **ne = realloc(s->e, cap * sizeof(*ne));
    if (!ne) return NULL;
    s->e = ne;
    s->cap = cap;
  }
  models_entry *e = malloc(sizeof(*e));
  if (!e) return NULL;
  strcpy(e->camera, camera_key);
  strcpy(e->model, model_key);
  models_cell_init(&e->c);
  memmove(s->e + i + 1, s->e + i, (s->n - i) * sizeof(*s->e));
  s->e[i] = e;
  s->n++;
  return &e->c;
}

/* ---- figures and the drift rule ---------------------------------------- */

double models_round4(double v) { return round(v * 10000.0) / 10000.0; }

static int64_t models__low_count(const models_cell *c, int low) {
  int64_t n = 0;
  for (int i = 0; i < low && i < MODELS_BINS; i++) n += c->hist[i];
  return n;
}

static double models__p10(const models_cell *c) {
  int64_t k = (c->with_conf + 9) / 10, cum = 0; /* nearest rank: ceil(0.1 n) */
  for (int i = 0; i < MODELS_BINS; i++) {
    cum += c->hist[i];
    if (cum >= k) return (double)i / 1000.0;
  }
  return 1.0;
}

void models_figures(const models_cell *c, const models_cell *b, int low, bool new_version, models_fig *ret) {
  memset(ret, 0, sizeof(*ret));
  ret->events = c->events;
  ret->with_conf = c->with_conf;
  ret->has_conf = c->with_conf > 0;
  int64_t lw = models__low_count(c, low);
  if (ret->has_conf) {
    ret->conf_mean = (double)c->conf_micro / (double)c->with_conf / 1e6;
    ret->conf_p10 = models__p10(c);
    ret->low_rate = (double)lw / (double)c->with_conf;
  }
  for (int i = 0; i < 4; i++) ret->mix[i] = c->events ? (double)c->mix[i] / (double)c->events : 0;
  ret->baseline_events = b ? b->events : 0;
  if (!b || c->events < MODELS_MIN_EVENTS || b->events < MODELS_MIN_EVENTS) return;
  /* rate rose by more than 0.15: lw/cw - lb/cb > 3/20, on the exact fractions:
   * 20 lw cb > 20 lb cw + 3 cw cb */
  if (c->with_conf > 0 && b->with_conf > 0) {
    uint64_t lb = (uint64_t)models__low_count(b, low), cw = (uint64_t)c->with_conf,
             cb = (uint64_t)b->with_conf;
    models_u128 left = u128_mul_small(u128_mul((uint64_t)lw, cb), 20);
    models_u128 right = u128_add(u128_mul_small(u128_mul(lb, cw), 20), u128_mul_small(u128_mul(cw, cb), 3));
    if (u128_cmp(left, right) > 0) ret->reason_rate = true;
  }
  /* total variation 1/2 sum |pw - pb| > 1/4  <=>  2 sum |mw Nb - mb Nw| > Nw Nb */
  uint64_t nw = (uint64_t)c->events, nb = (uint64_t)b->events;
  models_u128 tv = {0, 0};
  for (int i = 0; i < 4; i++)
    tv = u128_add(tv, u128_absdiff(u128_mul((uint64_t)c->mix[i], nb), u128_mul((uint64_t)b->mix[i], nw)));
  if (u128_cmp(u128_mul_small(tv, 2), u128_mul(nw, nb)) > 0) ret->reason_mix = true;
  ret->flagged = ret->reason_rate || ret->reason_mix;
  ret->reason_version = ret->flagged && new_version;
}

void models_compute(const models_set *win, const models_set *base, int low, models_fig *ret) {
  for (size_t i = 0; i < win->n; i++) {
    const models_entry *w = win->e[i];
    const models_cell *own = base ? models_set_find(base, w->camera, w->model) : NULL;
    const models_cell *b = own;
    const char *bkey = own ? w->model : NULL;
    bool new_version = false;
    if (base && (!own || own->events < MODELS_MIN_EVENTS) && w->camera[0]) {
      const models_entry *prev = NULL;
      size_t j = models__lower(base, w->camera, "");
      for (; j < base->n && strcmp(base->e[j]->camera, w->camera) == 0; j++) {
        const models_entry *x = base->e[j];
        if (strcmp(x->model, w->model) == 0) continue;
        if (!prev || x->c.last_ms > prev->c.last_ms ||
            (x->c.last_ms == prev->c.last_ms && strcmp(x->model, prev->model) > 0))
          prev = x;
      }
      if (prev) {
        b = &prev->c;
        bkey = prev->model;
        new_version = true;
      }
    }
    models_figures(&w->c, b, low, new_version, &ret[i]);
    ret[i].baseline_model_key = bkey;
  }
}

int models_parse_low(const char *text, int *ret) {
  if (!text || !*text) return -EINVAL;
  char *end = NULL;
  errno = 0;
  double v = strtod(text, &end);
  if (errno || *end || !(v >= 0 && v <= 1)) return -EINVAL;
  long m = lround(v * 1000.0);
  if ((double)m / 1000.0 != v) return -EINVAL;
  *ret = (int)m;
  return 0;
}
