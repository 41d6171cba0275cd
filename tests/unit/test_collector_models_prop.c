/* test_collector_models_prop: a seeded property test of the model figures
 * through the SQLite store. For each seed: events for a few cameras over ten
 * days, with drift injected at a known time for known cameras (confidence
 * drops on one, the event mix changes on another, a new model version that
 * labels worse on a third), posted in random order, in random batches, with
 * exact and conflicting duplicates (the first stored copy counts). Then, for
 * windows with partial hours at both ends, every field of every row (and the
 * drift flag) equals a brute-force reference computed straight from the
 * first-stored events — sorting, counting and exact fractions, none of the
 * rollup code — and the flag is raised for exactly the drifting cameras. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "check.h"
#include "models.h"
#include "store.h"
#include "store_models.h"

#define H     INT64_C(3600000)
#define DAY   (24 * H)
#define T0    INT64_C(1772323200000) /* 2026-03-01T00:00:00Z */
#define NOW   (T0 + 10 * DAY)
#define MAXEV 6000

/* The generated counts stay below 10^6, so their products fit in 64 bits (and the
 * reference stays independent of models.c's 128-bit arithmetic). */
typedef int64_t wide_t;

typedef struct ev {
  char id[32], agent[16], cam[16], model[16];
  bool has_cam, has_model, has_conf;
  double conf;
  int type;
  int64_t ts;
} ev;

static uint64_t rng_state;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}
static double rnd01(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }

static const char *const types[4] = {"working", "idle", "absent", "product_count"};

static size_t event_json(const ev *e, int64_t seq, char *out, size_t cap) {
  char ts[40];
  time_t t = (time_t)(e->ts / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
  int n =
      snprintf(out, cap,
               "{\"event_id\":\"%s\",\"timestamp\":\"%s.%03dZ\",\"event_type\":\"%s\",\"worker_id\":\"w\","
               "\"workstation_id\":\"s\",\"seq\":%" PRId64 ",\"ingested_at\":\"%s.000Z\"",
               e->id, ts, (int)(e->ts % 1000), types[e->type], seq, ts);
  if (e->has_cam) n += snprintf(out + n, cap - (size_t)n, ",\"camera_id\":\"%s\"", e->cam);
  if (e->has_model) n += snprintf(out + n, cap - (size_t)n, ",\"model_version\":\"%s\"", e->model);
  if (e->has_conf) n += snprintf(out + n, cap - (size_t)n, ",\"confidence\":%.17g", e->conf);
  n += snprintf(out + n, cap - (size_t)n, "}");
  return (size_t)n;
}

static int post(store *s, const char *agent, const ev *const *evs, size_t n, int64_t *seq, int64_t *epoch_n) {
  size_t cap = 256 + n * 512;
  char *body = malloc(cap);
  size_t len = (size_t)snprintf(body, cap, "{\"agent_id\":\"%s\",\"epoch\":\"%016" PRIx64 "\",\"events\":[",
                                agent, (uint64_t)++ * epoch_n);
  for (size_t i = 0; i < n; i++) {
    if (i) body[len++] = ',';
    len += event_json(evs[i], i + 1, body + len, cap - len);
  }
  len += (size_t)snprintf(body + len, cap - len, "]}");
  (void)seq;
  bt_limits lim = {NOW, 300, 0};
  bt_batch b;
  char err[300];
  int r = bt_parse(body, len, &lim, &b, err, sizeof(err));
  free(body);
  if (r < 0) {
    fprintf(stderr, "parse: %s\n", err);
    return r;
  }
  st_ingest in = {&b, NOW, "1.0.0"};
  st_result res;
  r = s->ops->begin(s);
  if (r == 0) r = s->ops->apply(s, &in, &res);
  if (r == 0) r = s->ops->commit(s);
  else s->ops->rollback(s);
  if (r == 0 && res.status != 200) r = -EINVAL;
  st_result_clear(&res);
  bt_batch_clear(&b);
  return r;
}

/* ---- the reference -------------------------------------------------------- */

typedef struct ref_row {
  const char *cam, *model; /* NULL = none */
  int64_t n, nconf, mix[4], micro_sum;
  double confs[MAXEV];
  int nc;
  int64_t last;
} ref_row;

static int key_cmp(const char *a, const char *b) { /* none first, then byte order */
  if (!a || !b) return a ? 1 : b ? -1 : 0;
  return strcmp(a, b);
}

static int dbl_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static size_t ref_rows(const ev *evs, size_t n, int64_t lo, int64_t hi, ref_row *rows) {
  size_t nr = 0;
  for (size_t i = 0; i < n; i++) {
    const ev *e = &evs[i];
    if (e->ts < lo || e->ts >= hi) continue;
    const char *c = e->has_cam ? e->cam : NULL, *m = e->has_model ? e->model : NULL;
    size_t k = 0;
    while (k < nr && (key_cmp(rows[k].cam, c) || key_cmp(rows[k].model, m))) k++;
    if (k == nr) {
      memset(&rows[nr], 0, sizeof(rows[nr]));
      rows[nr].cam = c;
      rows[nr].model = m;
      rows[nr].last = INT64_MIN;
      nr++;
    }
    ref_row *r = &rows[k];
    r->n++;
    r->mix[e->type]++;
    if (e->ts > r->last) r->last = e->ts;
    if (e->has_conf) {
      r->nconf++;
      r->micro_sum += (int64_t)llround(e->conf * 1e6);
      r->confs[r->nc++] = e->conf;
    }
  }
  return nr;
}

static int64_t ref_low(const ref_row *r, int low) {
  int64_t k = 0;
  for (int i = 0; i < r->nc; i++) k += r->confs[i] < (double)low / 1000.0;
  return k;
}

/* the row's drift against baseline b, straight from the rule */
static void ref_drift(const ref_row *w, const ref_row *b, int low, bool *rate, bool *mix) {
  *rate = *mix = false;
  if (!b || w->n < 200 || b->n < 200) return;
  if (w->nconf && b->nconf)
    *rate = (wide_t)20 * ((wide_t)ref_low(w, low) * b->nconf - (wide_t)ref_low(b, low) * w->nconf) >
            (wide_t)3 * w->nconf * b->nconf;
  wide_t tv = 0;
  for (int t = 0; t < 4; t++) {
    wide_t d = (wide_t)w->mix[t] * b->n - (wide_t)b->mix[t] * w->n;
    tv += d < 0 ? -d : d;
  }
  *mix = 2 * tv > (wide_t)w->n * b->n;
}

static ref_row win_rows[16], base_rows[16];

static void compare(store *rd, const ev *evs, size_t n, int64_t from, int64_t to, int low, int seed,
                    const char *const *drifting, size_t n_drifting, bool check_flags) {
  sm_window w[2] = {{from, to}, {from - MODELS_BASELINE_MS, from}};
  models_set sets[2];
  models_set_init(&sets[0]);
  models_set_init(&sets[1]);
  CHECK_EQ_INT(rd->ops->models(rd, w, 2, sets), 0);
  models_fig figs[16];
  CHECK(sets[0].n <= 16);
  models_compute(&sets[0], &sets[1], low, figs);
  size_t nw = ref_rows(evs, n, from, to, win_rows),
         nb = ref_rows(evs, n, from - MODELS_BASELINE_MS, from, base_rows);
  CHECK_EQ_INT(sets[0].n, nw);
  for (size_t i = 0; i < sets[0].n && i < 16; i++) {
    const models_entry *e = sets[0].e[i];
    const char *c = models_key_id(e->camera), *m = models_key_id(e->model);
    /* sorted: none first, then byte order */
    if (i) {
      const models_entry *p = sets[0].e[i - 1];
      int k = key_cmp(models_key_id(p->camera), c);
      CHECK(k < 0 || (k == 0 && key_cmp(models_key_id(p->model), m) < 0));
    }
    const ref_row *r = NULL;
    for (size_t k = 0; k < nw; k++)
      if (!key_cmp(win_rows[k].cam, c) && !key_cmp(win_rows[k].model, m)) r = &win_rows[k];
    CHECK(r != NULL);
    if (!r) continue;
    const models_fig *f = &figs[i];
    CHECK_EQ_INT(f->events, r->n);
    CHECK_EQ_INT(f->with_conf, r->nconf);
    CHECK_EQ_INT(f->has_conf, r->nconf > 0);
    for (int t = 0; t < 4; t++) CHECK(f->mix[t] == (double)r->mix[t] / (double)r->n);
    if (r->nconf) {
      double sorted[MAXEV];
      memcpy(sorted, r->confs, (size_t)r->nc * sizeof(double));
      qsort(sorted, (size_t)r->nc, sizeof(double), dbl_cmp);
      double v = sorted[(r->nc + 9) / 10 - 1];
      int m3 = 1000;
      while (m3 > 0 && (double)m3 / 1000.0 > v) m3--; /* rounded down to 0.001 */
      CHECK(f->conf_p10 == (double)m3 / 1000.0);
      CHECK(f->conf_mean == (double)r->micro_sum / (double)r->nconf / 1e6);
      CHECK(f->low_rate == (double)ref_low(r, low) / (double)r->nconf);
    }
    /* the baseline: its own, or for a new version the camera's previous one */
    const ref_row *b = NULL, *own = NULL;
    for (size_t k = 0; k < nb; k++)
      if (!key_cmp(base_rows[k].cam, c) && !key_cmp(base_rows[k].model, m)) own = &base_rows[k];
    b = own;
    bool newv = false;
    if ((!own || own->n < 200) && c) {
      const ref_row *prev = NULL;
      for (size_t k = 0; k < nb; k++) {
        const ref_row *x = &base_rows[k];
        if (key_cmp(x->cam, c) || !key_cmp(x->model, m)) continue;
        if (!prev || x->last > prev->last || (x->last == prev->last && key_cmp(x->model, prev->model) > 0))
          prev = x;
      }
      if (prev) b = prev, newv = true;
    }
    bool rate, mix;
    ref_drift(r, b, low, &rate, &mix);
    CHECK_EQ_INT(f->reason_rate, rate);
    CHECK_EQ_INT(f->reason_mix, mix);
    CHECK_EQ_INT(f->flagged, rate || mix);
    CHECK_EQ_INT(f->reason_version, (rate || mix) && newv);
    CHECK_EQ_INT(f->baseline_events, b ? b->n : 0);
    if (check_flags) {
      bool expect = false;
      char row[64];
      snprintf(row, sizeof(row), "%s/%s", c ? c : "", m ? m : "");
      for (size_t k = 0; k < n_drifting; k++) expect |= !strcmp(row, drifting[k]);
      if (f->flagged != expect)
        fprintf(stderr, "seed %d: %s/%s flagged %d, expected %d\n", seed, c ? c : "-", m ? m : "-",
                f->flagged, expect);
      CHECK_EQ_INT(f->flagged, expect);
    }
  }
  models_set_clear(&sets[0]);
  models_set_clear(&sets[1]);
}

static ev stored[MAXEV], sends[MAXEV + MAXEV / 2];

static void one_seed(int seed, const char *dir) {
  rng_state = 0x9e3779b97f4a7c15ULL ^ (uint64_t)seed * 0x100000001b3ULL;
  int64_t drift_at = NOW - 16 * H;
  size_t n = 0;
  static const char *const cams[] = {"cam-ok", "cam-fog", "cam-mix", "cam-roll", "cam-few", "", NULL, NULL};
  for (size_t ci = 0; ci < sizeof(cams) / sizeof(cams[0]); ci++) {
    int per = ci == 4 ? 120 : 400;
    for (int period = 0; period < 2; period++) {
      for (int i = 0; i < per; i++) {
        ev *e = &stored[n];
        memset(e, 0, sizeof(*e));
        snprintf(e->id, sizeof(e->id), "e%zu", n);
        snprintf(e->agent, sizeof(e->agent), "a%d", (int)(rnd() % 3));
        e->ts = period == 0 ? NOW - 8 * DAY + (int64_t)(rnd() % (uint64_t)(6 * DAY))
                            : NOW - 23 * H + (int64_t)(rnd() % (uint64_t)(22 * H));
        bool late = period == 1 && e->ts >= drift_at;
        if (cams[ci]) {
          e->has_cam = true;
          snprintf(e->cam, sizeof(e->cam), "%s", cams[ci]);
        }
        e->has_model = ci != 5 && ci != 7; /* 7: no model field at all */
        snprintf(e->model, sizeof(e->model), "%s", ci == 3 && late ? "v2" : "v1");
        double mixw[4] = {0.55, 0.2, 0.05, 0.2};
        if (ci == 2 && late) mixw[0] = 0.05, mixw[1] = 0.85, mixw[3] = 0.05;
        double u = rnd01(), acc = 0;
        e->type = 3;
        for (int t = 0; t < 4; t++) {
          acc += mixw[t];
          if (u < acc) {
            e->type = t;
            break;
          }
        }
        e->has_conf = ci != 7 && rnd() % 20 != 0;
        bool bad = (ci == 1 || ci == 3 || ci == 4) && late;
        e->conf = bad ? 0.05 + 0.55 * rnd01() : 0.35 + 0.65 * rnd01();
        if (rnd() % 10 == 0) {
          static const double edges[] = {0.5, 0.29, 0.35, 1.0, 0.0, 0.001, 0.4995, 0.1234565};
          e->conf = edges[rnd() % 8];
        } else if (rnd() % 2) {
          e->conf = round(e->conf * 1000) / 1000;
        }
        n++;
      }
    }
  }
  /* the copies sent: every event, 1 in 8 again, 1 in 20 with other content */
  size_t ns = 0;
  for (size_t i = 0; i < n; i++) sends[ns++] = stored[i];
  for (size_t i = 0; i < n; i += 8) sends[ns++] = stored[(i * 7 + (size_t)seed) % n];
  for (size_t i = 3; i < n; i += 20) {
    ev c = stored[(i * 13 + (size_t)seed) % n];
    c.conf = 0.01;
    c.type = 2;
    sends[ns++] = c;
  }
  for (size_t i = ns; i > 1; i--) {
    size_t j = rnd() % i;
    ev t = sends[i - 1];
    sends[i - 1] = sends[j];
    sends[j] = t;
  }
  /* post per agent in random batch sizes; the first copy sent is the one stored */
  char path[300];
  snprintf(path, sizeof(path), "%s/p%d.db", dir, seed);
  store *s = NULL;
  char err[300];
  CHECK_EQ_INT(store_sqlite_open(path, 600000, &s, err, sizeof(err)), 0);
  if (s) store_sqlite_set_hot(s, 0); /* upkeep rebuilds what was just written */
  if (!s) return;
  size_t nfirst = 0;
  static ev first[MAXEV];
  static const ev *batch[MAXEV + MAXEV / 2];
  int64_t epoch_n = 0, seq = 0;
  /* each agent's copies in the shuffled order, in batches of random sizes,
   * the agents taking turns */
  size_t pos[3] = {0, 0, 0};
  for (bool more = true; more;) {
    more = false;
    for (int a = 0; a < 3; a++) {
      char agent[16];
      snprintf(agent, sizeof(agent), "a%d", a);
      size_t k = 1 + rnd() % 400, nb = 0;
      while (pos[a] < ns && nb < k) {
        const ev *e = &sends[pos[a]++];
        if (strcmp(e->agent, agent) != 0) continue;
        bool seen = false;
        for (size_t f = 0; f < nfirst && !seen; f++)
          seen = !strcmp(first[f].id, e->id) && !strcmp(first[f].agent, e->agent);
        if (!seen) first[nfirst++] = *e;
        batch[nb++] = e;
      }
      if (nb) CHECK_EQ_INT(post(s, agent, batch, nb, &seq, &epoch_n), 0);
      more |= pos[a] < ns;
      /* now and then a piece of the writer's upkeep: some hours get their
       * rows rebuilt, later events make some of them dirty again */
      if (rnd() % 4 == 0) {
        bool more_upkeep;
        CHECK_EQ_INT(s->ops->maintain(s, 1 + (int)(rnd() % 8), &more_upkeep), 0);
      }
    }
  }
  CHECK_EQ_INT(nfirst, n);
  /* read through a reader handle, as the API does */
  store *rd = NULL;
  CHECK_EQ_INT(s->ops->open_reader(s, &rd, err, sizeof(err)), 0);
  /* the same answers with the upkeep's backlog as ingest left it (some hours
   * rebuilt, some dirty) and once it has caught up (every hour from rows) */
  for (int pass = 0; rd && pass < 2; pass++) {
    if (pass == 1)
      for (bool more_upkeep = true; more_upkeep;) CHECK_EQ_INT(s->ops->maintain(s, 64, &more_upkeep), 0);
    /* the rows that drift: camera/model (cam-roll's v1 ran normally until v2 came) */
    static const char *const drifting[] = {"cam-fog/v1", "cam-mix/v1", "cam-roll/v2"};
    compare(rd, first, nfirst, NOW - DAY + 7 * 60000 + 123, NOW - 3 * 60000 - 457, 500, seed, drifting, 3,
            true);
    compare(rd, first, nfirst, NOW - 20 * H + 1, NOW - 2 * H - 1, 500, seed, NULL, 0, false);
    compare(rd, first, nfirst, NOW - 7 * DAY - 1234, NOW - 4 * DAY + 5678, 350, seed, NULL, 0, false);
    compare(rd, first, nfirst, NOW - 30 * H, NOW - 6 * H, 290, seed, NULL, 0, false);
  }
  if (rd) rd->ops->close(rd);
  s->ops->close(s);
  unlink(path);
}

int main(int argc, char **argv) {
  int seeds = argc > 1 ? atoi(argv[1]) : 6;
  char dir[] = "/tmp/ferry-test-models-prop-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  for (int seed = 1; seed <= seeds; seed++) one_seed(seed, dir);
  rmdir(dir);
  return check_finish("test_collector_models_prop");
}
