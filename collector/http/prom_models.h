/* prom_models: the model gauges of GET /metrics (SPEC §6.3) —
 * ferry_model_low_confidence_ratio and ferry_model_drift per camera and
 * model version over the last 24 h, from the same computation as
 * GET /v1/metrics/models (collector/metrics/models.c) on a snapshot read with
 * the rest of the database figures. A missing camera_id or model_version is
 * the empty label value. */
#ifndef FERRY_COLLECTOR_PROM_MODELS_H
#define FERRY_COLLECTOR_PROM_MODELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models.h"
#include "store.h"
#include "strbuf.h"

typedef struct prom_model_row {
  char camera[MODELS_KEY_MAX], model[MODELS_KEY_MAX];
  bool has_conf;
  double low_rate;
  bool flagged;
} prom_model_row;

typedef struct prom_models {
  prom_model_row *rows;
  size_t n;
} prom_models;

/* Read [now - 24 h, now) and its baseline on a reader handle (worker thread). */
int prom_models_read(store *rd, int low, int64_t now_ms, prom_models *ret);
/* Append the two gauges to a /metrics page. */
void prom_models_write(strbuf *b, const prom_models *m);
void prom_models_clear(prom_models *m);

#endif
