/* rollup_site: see rollup_site.h. Events are grouped by (site, workstation)
 * and handed to the metrics grid, which keeps worker rows per (worker,
 * group) and station rows per group. */
#include "rollup_site.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *rs__nz(const char *s) { return s ? s : ""; }

static bool rs__in(const char *const *v, size_t n, const char *s) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(v[mid], s);
    if (c == 0) return true;
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return false;
}

bool rsite_pass(const rsite_filter *f, const char *site, const char *station) {
  if (!f) return true;
  if (f->sites && !rs__in(f->sites, f->n_sites, rs__nz(site))) return false;
  if (f->stations && !rs__in(f->stations, f->n_stations, rs__nz(station))) return false;
  return true;
}

typedef struct rs_key {
  const char *site, *station;
  size_t i;
} rs_key;

static int rs__key_cmp(const void *a, const void *b) {
  const rs_key *x = a, *y = b;
  int c = strcmp(x->site, y->site);
  return c ? c : strcmp(x->station, y->station);
}

int rsite_build(const metrics_event *evs, const char *const *sites, size_t n, int64_t max_state_ms,
                int64_t lo, int64_t width, size_t count, rsite_rows *ret) {
  return rsite_build_clip(evs, sites, n, max_state_ms, lo, width, count, NULL, ret);
}

int rsite_build_clip(const metrics_event *evs, const char *const *sites, size_t n, int64_t max_state_ms,
                     int64_t lo, int64_t width, size_t count, const metrics_clip *clip, rsite_rows *ret) {
  memset(ret, 0, sizeof(*ret));
  rs_key *k = malloc((n ? n : 1) * sizeof(*k));
  size_t *group = malloc((n ? n : 1) * sizeof(*group));
  rs_key *g_of = NULL;
  size_t ng = 0;
  metrics__grid g = {0};
  int r = -ENOMEM;
  if (!k || !group) goto out;
  for (size_t i = 0; i < n; i++) {
    if (!evs[i].workstation_id) {
      r = -EINVAL;
      goto out;
    }
    k[i] = (rs_key){rs__nz(sites ? sites[i] : NULL), evs[i].workstation_id, i};
  }
  qsort(k, n, sizeof(*k), rs__key_cmp);
  g_of = malloc((n ? n : 1) * sizeof(*g_of));
  if (!g_of) goto out;
  for (size_t i = 0; i < n; i++) {
    if (i == 0 || rs__key_cmp(&k[i], &k[i - 1]) != 0) g_of[ng++] = k[i];
    group[k[i].i] = ng - 1;
  }
  r = metrics__grid_compute_grouped(evs, n, max_state_ms, lo, width, count, group, ng ? ng : 1, clip, &g);
  if (r < 0) goto out;
  r = -ENOMEM;
  ret->cells = calloc(g.nw ? g.nw : 1, sizeof(*ret->cells));
  ret->stations = calloc(g.ns ? g.ns : 1, sizeof(*ret->stations));
  if (!ret->cells || !ret->stations) goto out;
  for (size_t i = 0; i < g.nw; i++) {
    const metrics__wrow *w = &g.w[i];
    const rs_key *grp = &g_of[w->id % ng];
    ret->cells[ret->n_cells++] = (rsite_cell){.bucket = (int64_t)w->bucket,
                                              .site = grp->site,
                                              .worker_id = g.worker_ids[w->id / ng],
                                              .workstation_id = grp->station,
                                              .working_ms = w->working_ms,
                                              .idle_ms = w->idle_ms,
                                              .absent_ms = w->absent_ms,
                                              .units = w->units,
                                              .events = w->events};
  }
  for (size_t i = 0; i < g.ns; i++) {
    const metrics__srow *s = &g.s[i];
    const rs_key *grp = &g_of[s->id];
    ret->stations[ret->n_stations++] = (rsite_station){.bucket = (int64_t)s->bucket,
                                                       .site = grp->site,
                                                       .workstation_id = grp->station,
                                                       .occupancy_ms = s->occupancy_ms,
                                                       .working_ms = s->working_ms,
                                                       .units = s->units,
                                                       .events = s->events,
                                                       .state_ms = s->state_ms};
  }
  /* the worker id strings are the grid's (borrowed from evs); keep the table */
  ret->priv_ = g.worker_ids;
  g.worker_ids = NULL;
  r = 0;
out:
  if (r < 0) rsite_rows_clear(ret);
  metrics__grid_clear(&g);
  free(k);
  free(group);
  free(g_of);
  return r;
}

void rsite_rows_clear(rsite_rows *r) {
  if (!r) return;
  free(r->cells);
  free(r->stations);
  free(r->priv_);
  memset(r, 0, sizeof(*r));
}

int rsite_worker_sites(const rsite_rows *r, rsite_cell **ret, size_t *ret_n) {
  /* cells come sorted by (bucket, worker, group) and groups by (site,
   * workstation): one site's cells of a worker in a bucket are adjacent */
  rsite_cell *out = malloc((r->n_cells ? r->n_cells : 1) * sizeof(*out));
  if (!out) return -ENOMEM;
  size_t n = 0;
  for (size_t i = 0; i < r->n_cells; i++) {
    const rsite_cell *c = &r->cells[i];
    rsite_cell *last = n ? &out[n - 1] : NULL;
    if (last && last->bucket == c->bucket && last->worker_id == c->worker_id &&
        strcmp(last->site, c->site) == 0) {
      last->working_ms += c->working_ms;
      last->idle_ms += c->idle_ms;
      last->absent_ms += c->absent_ms;
      last->units += c->units;
      last->events += c->events;
    } else {
      out[n] = *c;
      out[n++].workstation_id = NULL;
    }
  }
  *ret = out;
  *ret_n = n;
  return 0;
}

int rsite_acc_add(rollup_acc *acc, const rsite_rows *r, const rsite_filter *f, bool want_workers,
                  bool want_stations, const char *worker, const char *station) {
  for (size_t i = 0; want_workers && i < r->n_cells; i++) {
    const rsite_cell *c = &r->cells[i];
    if (!rsite_pass(f, c->site, c->workstation_id) || (worker && strcmp(worker, c->worker_id) != 0)) continue;
    rollup_worker_hour w = {.worker_id = c->worker_id,
                            .working_ms = c->working_ms,
                            .idle_ms = c->idle_ms,
                            .absent_ms = c->absent_ms,
                            .units = c->units,
                            .events = c->events};
    int e = rollup_acc_add_worker(acc, &w);
    if (e < 0) return e;
  }
  for (size_t i = 0; i < r->n_stations; i++) {
    const rsite_station *s = &r->stations[i];
    if (!rsite_pass(f, s->site, s->workstation_id)) continue;
    rollup_hour h = {.events = s->events, .units = s->units};
    rollup_acc_add_hour(acc, &h);
    if (!want_stations || (station && strcmp(station, s->workstation_id) != 0)) continue;
    rollup_station_hour w = {.workstation_id = s->workstation_id,
                             .occupancy_ms = s->occupancy_ms,
                             .working_ms = s->working_ms,
                             .units = s->units,
                             .events = s->events,
                             .state_ms = s->state_ms};
    int e = rollup_acc_add_station(acc, &w);
    if (e < 0) return e;
  }
  return 0;
}
