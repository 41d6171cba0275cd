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

/* What a store gives the one walk of a models read (sm_read_window): the
 * marked hours of a range (ascending, malloc'd), the sums of clean hour or
 * day rows over [lo, hi), and the events of [lo_ms, hi_ms) counted from
 * themselves. Each returns 0 or a negative errno with the store's message
 * set; err is where sm_read_window writes its own. */
typedef struct sm_backend {
  void *ctx;
  int (*dirty)(void *ctx, int64_t h_lo, int64_t h_hi, int64_t **ret, size_t *ret_n);
  int (*rows)(void *ctx, bool days, int64_t lo, int64_t hi, models_set *set);
  int (*events)(void *ctx, int64_t lo_ms, int64_t hi_ms, models_set *set);
  char *err;
  size_t errlen;
} sm_backend;

/* Adds window w's figures to set: day rows for days with no marked hour,
 * hour rows for clean hours, events for marked hours and the partial hours
 * at the window's ends. The caller holds one read snapshot around it. */
int sm_read_window(const sm_backend *be, const sm_window *w, models_set *set);

#endif
