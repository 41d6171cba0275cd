/* rollup_slices: the events of a time range handed to a computation in
 * slices of bounded size, so building an hour's rollups (or a query's dirty
 * hours and edges) holds a slice of events at a time, not the hour: a drain
 * stamps a million events into one hour.
 *
 * How: slices are consecutive ts ranges [a, b), processed in time order.
 * Each slice is computed with metrics_clip {a, b} (metrics.h) from its own
 * events plus the carry: for each worker, its last state event before a
 * whose capped interval reaches past a (owned copies, at most one per
 * worker). Every interval reaching into [a, b) is thereby decided, and the
 * figures of the slices add up to those of the whole range, exactly.
 * A backend reads a range holding at most max events (then the slice is
 * computed) or, past max, only counts the range's events in bins of equal
 * time; the range is then split at bin edges into pieces of at most max
 * events (a bin over max becomes a range of its own, split again on its
 * turn), each read again, narrowed to the keys its bins saw (events stored
 * in about time order — a drain — are then each read about once more; a
 * piece without events is not read at all). A single millisecond holding more than max events
 * is read whole: the one case a slice exceeds max. Pure functions, no
 * database. */
#ifndef FERRY_COLLECTOR_ROLLUP_SLICES_H
#define FERRY_COLLECTOR_ROLLUP_SLICES_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

/* Default for the most events a build holds at once (about 5–10 MiB of
 * events and working arrays). */
#define RSL_SLICE_EVENTS 16384
/* Bins of a range's count when it holds more than max. */
#define RSL_BINS         1024
/* What a capped read returns when the range holds more than max events. */
#define RSL_TOO_MANY     1

typedef int (*rsl_events_fn)(void *arg, const metrics_event *ev, const char *const *sites, size_t n);

/* A range's events counted by time: bin k holds the events with ts in
 * [lo + k·width, lo + (k+1)·width) (the last bin also any later ones), and
 * the least and greatest key of its events — a backend's own ordering key
 * (the SQLite store: the row's arrival number), with which the read of a
 * part of the range skips rows outside it. */
typedef struct rsl_hist {
  int64_t n[RSL_BINS];
  int64_t kmin[RSL_BINS], kmax[RSL_BINS];
} rsl_hist;

/* Inclusive key range of a read (lo > hi: no event). */
typedef struct rsl_keys {
  int64_t lo, hi;
} rsl_keys;

/* A backend's capped read: every stored event with ts in [lo, hi) (only
 * worker's when not NULL; only those with a key in *keys when keys is not
 * NULL — every event of the range has one there, the keys only narrow what
 * is read) handed to fn(arg, ...) when they are at most max (returns fn's
 * result), else each counted with rsl_hist_add(hist, rsl_bin(lo, width,
 * ts), key) (hist zeroed by the caller, width = rsl_bin_width(lo, hi))
 * without calling fn, returning RSL_TOO_MANY. Negative errno on failure. */
typedef int (*rsl_read_fn)(void *ctx, int64_t lo, int64_t hi, const char *worker, const rsl_keys *keys,
                           size_t max, rsl_hist *hist, rsl_events_fn fn, void *arg);

/* The width of the bins of [lo, hi) (lo < hi): ceil((hi - lo) / RSL_BINS),
 * at least 1; 0 when the span does not fit in int64 (then a read cannot be
 * split: it is read whole). */
int64_t rsl_bin_width(int64_t lo, int64_t hi);
static inline size_t rsl_bin(int64_t lo, int64_t width, int64_t ts) {
  uint64_t k = ((uint64_t)ts - (uint64_t)lo) / (uint64_t)width;
  return k < RSL_BINS ? (size_t)k : RSL_BINS - 1;
}
static inline void rsl_hist_add(rsl_hist *h, size_t bin, int64_t key) {
  if (h->n[bin] == 0 || key < h->kmin[bin]) h->kmin[bin] = key;
  if (h->n[bin] == 0 || key > h->kmax[bin]) h->kmax[bin] = key;
  h->n[bin]++;
}

/* One slice: its events and the carried ones (ts before clip->lo_ms), their
 * sites (NULL entries read as ""), valid for the call. */
typedef int (*rsl_slice_fn)(void *arg, const metrics_event *ev, const char *const *sites, size_t n,
                            const metrics_clip *clip);

/* Hand the events of [lo, hi) to fn slice by slice, in time order, each
 * slice holding at most max events (0: RSL_SLICE_EVENTS) besides the carry.
 * Returns 0, fn's or read's negative result, or -ENOMEM / -EINVAL (a state
 * event without worker_id). */
int rsl_run(rsl_read_fn read, void *ctx, int64_t max_state_ms, int64_t lo, int64_t hi, const char *worker,
            size_t max, rsl_slice_fn fn, void *arg);

#endif
