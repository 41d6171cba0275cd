/* models: the figures of GET /v1/metrics/models (SPEC §6.3) — per camera and
 * model version: events, confidence mean, p10 and low-confidence rate, event
 * mix — and the drift rule, as pure computation (no I/O). The API, the
 * Prometheus gauges and the dashboard all get their numbers from here.
 *
 * Everything is kept as additive integer counts, so a cell is the same
 * whatever order its events arrived in, and hour rows add up to day rows and
 * windows exactly:
 *  - confidences are counted in MODELS_BINS bins of 0.001: bin k holds
 *    k/1000 <= c < (k+1)/1000 (bin 1000 holds 1.0), comparing with the
 *    doubles k/1000.0, which are the doubles a threshold written with at most
 *    3 decimals parses to. So the low-confidence count below any such
 *    threshold is exact, and p10 is exact to 0.001 (rounded down);
 *  - the sum of confidences is kept in millionths (each confidence rounded to
 *    6 decimals first), so the mean does not depend on summation order.
 *
 * A store keeps one row per (hour, camera, model version) and per (day, ...)
 * with these counts (the histogram packed by models_hist_pack), adds to them
 * as events are first stored (duplicates change nothing), and answers a
 * window from day rows, hour rows and the events of the partial hours at
 * both ends (rollup_plan_window with max_state 0). */
#ifndef FERRY_MODELS_H
#define FERRY_MODELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

#define MODELS_BINS           1001
#define MODELS_HIST_BYTES     (MODELS_BINS * 4) /* dense packing: little-endian uint32 per bin */
#define MODELS_MIN_EVENTS     200               /* in the window and in the baseline */
#define MODELS_BASELINE_MS    (7LL * 24 * 3600 * 1000)
#define MODELS_DEFAULT_LOW    500 /* --low-confidence 0.5, in thousandths */
#define MODELS_ID_MAX         256 /* bytes: 64 characters of UTF-8 */
#define MODELS_KEY_MAX        (MODELS_ID_MAX + 2)
#define MODELS_REASON_RATE    "low_confidence_rate_rose"
#define MODELS_REASON_MIX     "event_mix_changed"
#define MODELS_REASON_VERSION "new_model_version"

/* The additive counts of one camera and model version over some time. */
typedef struct models_cell {
  int64_t events;
  int64_t with_conf;
  int64_t conf_micro; /* sum of round(confidence * 1e6) */
  int64_t mix[4];     /* by metrics_type: working, idle, absent, product_count */
  int64_t last_ms;    /* the latest event's timestamp (INT64_MIN: none) */
  int64_t hist[MODELS_BINS];
} models_cell;

/* The bin of a confidence in [0, 1]; values outside are clamped. */
int models_bin(double c);
/* round(c * 1e6). */
int64_t models_micro(double c);

void models_cell_init(models_cell *c);
void models_cell_add_event(models_cell *c, metrics_type type, int64_t ts_ms, bool has_conf, double conf);
/* The same with the confidence already binned (bin < 0: none; micro =
 * models_micro of it). */
void models_cell_add_binned(models_cell *c, metrics_type type, int64_t ts_ms, int bin, int64_t micro);
void models_cell_merge(models_cell *dst, const models_cell *src);

/* Histogram rows, packed for a table: dense (MODELS_HIST_BYTES: a
 * little-endian uint32 per bin) or, when shorter, sparse (6 bytes per
 * non-empty bin: uint16 bin, uint32 count; a length that is a multiple of 6,
 * which MODELS_HIST_BYTES is not). Pack into out (MODELS_HIST_BYTES of room)
 * and return the length; add a packed one into hist (-EINVAL when it is not
 * one; NULL/0 adds nothing). */
size_t models_hist_pack(const int64_t *hist, uint8_t *out);
int models_hist_add(int64_t *hist, const void *blob, size_t len);

/* Key text of an optional id: "" for none, "=" + id otherwise. Byte order
 * of keys is the SPEC's order (none first, then ids in byte order), and they
 * can be primary-key columns. models_key_id reverses it (NULL for none). */
void models_key(const char *id, char out[MODELS_KEY_MAX]);
const char *models_key_id(const char *key);

/* A set of cells keyed by (camera key, model key), kept sorted. */
typedef struct models_entry {
  char camera[MODELS_KEY_MAX];
  char model[MODELS_KEY_MAX];
  models_cell c;
} models_entry;

typedef struct models_set {
  models_entry **e; /* sorted by (camera, model) key */
  size_t n, cap;
} models_set;

void models_set_init(models_set *s);
void models_set_clear(models_set *s);
/* The entry for (camera key, model key), created empty when new; NULL on ENOMEM. */
models_cell *models_set_get(models_set *s, const char *camera_key, const char *model_key);
const models_cell *models_set_find(const models_set *s, const char *camera_key, const char *model_key);

/* The figures of one row of the answer. */
typedef struct models_fig {
  int64_t events, with_conf;
  bool has_conf;    /* with_conf > 0; otherwise the next three are 0 */
  double conf_mean; /* conf_micro / with_conf / 1e6 */
  double conf_p10;  /* nearest-rank 10th percentile, rounded down to 0.001 */
  double low_rate;  /* below the threshold, among those with a confidence */
  double mix[4];    /* fractions of events by type */
  bool flagged;
  bool reason_rate, reason_mix, reason_version;
  int64_t baseline_events;
  const char *baseline_model_key; /* the model key of the baseline used (NULL: none found) */
} models_fig;

/* Figures of cell c (window) against baseline b (NULL: none), low = the
 * threshold in thousandths. new_version: b is the previous version's. */
void models_figures(const models_cell *c, const models_cell *b, int low, bool new_version, models_fig *ret);

/* The whole answer: one models_fig per entry of win (same order), with the
 * baseline picked per SPEC §6.3: the entry's own cell in base when it has at
 * least MODELS_MIN_EVENTS events there; otherwise, for a row with a camera,
 * the camera's previous version: of the camera's other versions in base, the
 * one whose last event is latest (ties: the larger key), when there is one.
 * ret holds win->n entries (caller allocates). */
void models_compute(const models_set *win, const models_set *base, int low, models_fig *ret);

/* Round to 4 decimals (rates and fractions in answers). */
double models_round4(double v);
/* Parse a --low-confidence value ("0.5"): a number in [0, 1] with at most 3
 * decimals, into thousandths. 0 or -EINVAL. */
int models_parse_low(const char *text, int *ret);

#endif
