/* store_models: what both stores share for the model rollups (SPEC §6.3,
 * collector/metrics/models.h): the cells the events add to, keyed by (hour,
 * camera, model version), collected in memory and then written with one
 * upsert per cell (hour row and day row) — only by the schema migrations that
 * fill the model rollups from the events already stored; at ingest both
 * stores mark hours for their upkeep, which rebuilds the rows. */
#ifndef FERRY_COLLECTOR_STORE_MODELS_H
#define FERRY_COLLECTOR_STORE_MODELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "models.h"
#include "store.h"

#define SM_MAX_CELLS 64 /* cells held before they must be written */

typedef struct sm_cell {
  int64_t hour;
  char camera[MODELS_KEY_MAX], model[MODELS_KEY_MAX];
  models_cell c;
} sm_cell;

typedef struct sm_pending {
  sm_cell *cells; /* SM_MAX_CELLS, allocated on first use */
  size_t n;
} sm_pending;

/* Note one event. 0; -ENOSPC when the cell is new and all are taken (write
 * them, sm_reset, then note again); -ENOMEM. */
int sm_note(sm_pending *p, int64_t ts_ms, metrics_type type, const char *camera_id, const char *model_version,
            bool has_conf, double conf);
void sm_reset(sm_pending *p);
void sm_clear(sm_pending *p);

/* A window of a models read. */
typedef struct sm_window {
  int64_t from_ms, to_ms;
} sm_window;

#endif
