/* store_models: see store_models.h. */
#include "store_models.h"

#include <errno.h>
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
