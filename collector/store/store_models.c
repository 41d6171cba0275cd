/* store_models: see store_models.h. */
#include "store_models.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rollup.h"

int sm_note(sm_pending *p, int64_t ts_ms, metrics_type type, const char *camera_id, const char *model_version,
            bool has_conf, double conf) {
  char ck[MODELS_KEY_MAX], mk[MODELS_KEY_MAX];
  models_key(camera_id, ck);
  models_key(model_version, mk);
  int64_t hour = rollup_hour_of(ts_ms);
  sm_cell *c = NULL;
  for (size_t i = p->n; i-- > 0;) { /* the latest cells first: a batch's events share a few */
    sm_cell *x = &p->cells[i];
    if (x->hour == hour && strcmp(x->camera, ck) == 0 && strcmp(x->model, mk) == 0) {
      c = x;
      break;
    }
  }
  if (!c) {
    if (!p->cells && !(p->cells = malloc(SM_MAX_CELLS * sizeof(*p->cells)))) return -ENOMEM;
    if (p->n == SM_MAX_CELLS) return -ENOSPC;
    c = &p->cells[p->n++];
    c->hour = hour;
    strcpy(c->camera, ck);
    strcpy(c->model, mk);
    models_cell_init(&c->c);
  }
  models_cell_add_event(&c->c, type, ts_ms, has_conf, conf);
  return 0;
}

void sm_reset(sm_pending *p) { p->n = 0; }

void sm_clear(sm_pending *p) {
  free(p->cells);
  memset(p, 0, sizeof(*p));
}

/* Hours [a, b): clean ones from their rows, marked ones (sorted d[0..nd))
 * from their events. */
static int sm__hours(const sm_backend *be, int64_t a, int64_t b, const int64_t *d, size_t nd,
                     models_set *set) {
  size_t i = 0;
  int r = 0;
  while (r == 0 && a < b) {
    while (i < nd && d[i] < a) i++;
    int64_t next = i < nd && d[i] < b ? d[i] : b;
    if (next > a) r = be->rows(be->ctx, false, a, next, set);
    if (r == 0 && next < b) r = be->events(be->ctx, next * ROLLUP_HOUR_MS, (next + 1) * ROLLUP_HOUR_MS, set);
    a = next + 1;
  }
  return r;
}

int sm_read_window(const sm_backend *be, const sm_window *w, models_set *set) {
  rollup_plan p;
  if (rollup_plan_window(w->from_ms, w->to_ms, 0, &p) < 0) {
    snprintf(be->err, be->errlen, "bad window");
    return -EINVAL;
  }
  int64_t *d = NULL;
  size_t nd = 0;
  int r = p.h_lo < p.h_hi ? be->dirty(be->ctx, p.h_lo, p.h_hi, &d, &nd) : 0;
  if (r == 0 && p.d_lo < p.d_hi) {
    /* days without a marked hour from their rows, the others hour by hour */
    size_t i = 0;
    int64_t run = p.d_lo;
    for (int64_t day = p.d_lo; r == 0 && day <= p.d_hi; day++) {
      while (i < nd && d[i] < day * 24) i++;
      bool dirty = day < p.d_hi && i < nd && d[i] < day * 24 + 24;
      if (!dirty && day < p.d_hi) continue;
      if (run < day) r = be->rows(be->ctx, true, run, day, set);
      if (r == 0 && dirty) r = sm__hours(be, day * 24, day * 24 + 24, d, nd, set);
      run = day + 1;
    }
    if (r == 0) r = sm__hours(be, p.h_lo, p.d_lo * 24, d, nd, set);
    if (r == 0) r = sm__hours(be, p.d_hi * 24, p.h_hi, d, nd, set);
  } else if (r == 0) {
    r = sm__hours(be, p.h_lo, p.h_hi, d, nd, set);
  }
  free(d);
  for (size_t i = 0; r == 0 && i < p.n_edges; i++)
    r = be->events(be->ctx, p.edges[i].from_ms, p.edges[i].to_ms, set);
  return r;
}
