/* prom_models: see prom_models.h. */
#include "prom_models.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models_api.h"
#include "prom_text.h"

int prom_models_read(store *rd, int low, int64_t now_ms, prom_models *ret) {
  memset(ret, 0, sizeof(*ret));
  models_set win, base;
  int r = models_api_read(rd, now_ms - 86400000, now_ms, &win, &base);
  models_fig *f = NULL;
  if (r == 0 && win.n) {
    f = calloc(win.n, sizeof(*f));
    ret->rows = calloc(win.n, sizeof(*ret->rows));
    if (!f || !ret->rows) r = -ENOMEM;
  }
  if (r == 0 && win.n) {
    models_compute(&win, &base, low, f);
    for (size_t i = 0; i < win.n; i++) {
      prom_model_row *row = &ret->rows[i];
      snprintf(row->camera, sizeof(row->camera), "%s", win.e[i]->camera);
      snprintf(row->model, sizeof(row->model), "%s", win.e[i]->model);
      row->has_conf = f[i].has_conf;
      row->low_rate = models_round4(f[i].low_rate);
      row->flagged = f[i].flagged;
    }
    ret->n = win.n;
  }
  free(f);
  models_set_clear(&win);
  models_set_clear(&base);
  if (r < 0) prom_models_clear(ret);
  return r == -ENOTSUP ? 0 : r; /* a store without model figures: no gauges */
}

void prom_models_write(strbuf *b, const prom_models *m) {
  pt_head(b, "ferry_model_low_confidence_ratio", "gauge",
          "Share of the last 24 h's events with a confidence that are below --low-confidence, per camera and "
          "model version.");
  for (size_t i = 0; i < m->n; i++) {
    if (!m->rows[i].has_conf) continue;
    pt_label l[2] = {{"camera_id", models_key_id(m->rows[i].camera)},
                     {"model_version", models_key_id(m->rows[i].model)}};
    pt_sample_f64(b, "ferry_model_low_confidence_ratio", l, 2, m->rows[i].low_rate, 4);
  }
  pt_head(b, "ferry_model_drift", "gauge",
          "1 when the camera and model version's last 24 h drifted from its baseline (the 7 days before), "
          "else 0.");
  for (size_t i = 0; i < m->n; i++) {
    pt_label l[2] = {{"camera_id", models_key_id(m->rows[i].camera)},
                     {"model_version", models_key_id(m->rows[i].model)}};
    pt_sample_i64(b, "ferry_model_drift", l, 2, m->rows[i].flagged ? 1 : 0);
  }
}

void prom_models_clear(prom_models *m) {
  free(m->rows);
  memset(m, 0, sizeof(*m));
}
