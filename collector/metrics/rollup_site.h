/* rollup_site: the rows behind the site= and line= filters (SPEC §6.6).
 * A filter keeps the events of some sites and/or some workstations (a line is
 * its workstations); a worker's timeline is still the whole of its events,
 * and a state counts where the event that started it belongs. Worker figures
 * are additive over (site, workstation) cells, and station figures over
 * (site, workstation) rows, so any filter is a sum of stored rows — kept per
 * hour and per day beside the plain rollups, built by the same rebuild — plus
 * the edges and dirty hours computed here from their events. Pure functions,
 * like rollup.h. */
#ifndef FERRY_ROLLUP_SITE_H
#define FERRY_ROLLUP_SITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"
#include "rollup.h"

/* Which events count. NULL lists: no restriction; a list with no entries:
 * nothing passes. Lists sorted by strcmp, no repeats. */
typedef struct rsite_filter {
  const char *const *sites; /* "" is the site of agents of no site */
  size_t n_sites;
  const char *const *stations;
  size_t n_stations;
} rsite_filter;

bool rsite_pass(const rsite_filter *f, const char *site, const char *station);

/* A worker's figures from the events of one (site, workstation). */
typedef struct rsite_cell {
  int64_t bucket; /* index of the bucket (the hour h0 + bucket for hour builds) */
  const char *site, *worker_id, *workstation_id;
  int64_t working_ms, idle_ms, absent_ms, units, events;
} rsite_cell;

/* A workstation's figures from the events of one site. */
typedef struct rsite_station {
  int64_t bucket;
  const char *site, *workstation_id;
  int64_t occupancy_ms, working_ms, units, events, state_ms;
} rsite_station;

typedef struct rsite_rows {
  rsite_cell *cells; /* sorted by (bucket, worker, group) */
  size_t n_cells;
  rsite_station *stations;
  size_t n_stations;
  void *priv_;
} rsite_rows;

/* The rows of buckets [lo + k·width, lo + (k+1)·width), k < count, from evs
 * (sites[i]: event i's site, NULL read as ""). The strings of the rows are
 * borrowed from evs and sites: keep them while the rows are used. */
int rsite_build(const metrics_event *evs, const char *const *sites, size_t n, int64_t max_state_ms,
                int64_t lo, int64_t width, size_t count, rsite_rows *ret);
/* The same counting only what falls in *clip (metrics.h). */
int rsite_build_clip(const metrics_event *evs, const char *const *sites, size_t n, int64_t max_state_ms,
                     int64_t lo, int64_t width, size_t count, const metrics_clip *clip, rsite_rows *ret);
void rsite_rows_clear(rsite_rows *r);

/* The cells summed over workstations: a worker's figures per (bucket, site),
 * what a site= filter without line= reads (workstation_id NULL). malloc'd
 * array in *ret (strings still borrowed). 0 or -ENOMEM. */
int rsite_worker_sites(const rsite_rows *r, rsite_cell **ret, size_t *ret_n);

/* Add the rows passing f to acc: cells as worker rows (when want_workers;
 * only worker's when not NULL), stations as station rows (when
 * want_stations; only station's when not NULL) and, always, their events and
 * units as the window's totals. */
int rsite_acc_add(rollup_acc *acc, const rsite_rows *r, const rsite_filter *f, bool want_workers,
                  bool want_stations, const char *worker, const char *station);

#endif
