/* metrics_filter: see metrics_filter.h. */
#include "metrics_filter.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct mf_list {
  char **v;
  size_t n, cap;
  bool given;
} mf_list;

static int mf__push(mf_list *l, const char *s) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    char **v = realloc(l->v, cap * sizeof(*v));
    if (!v) return -ENOMEM;
    l->v = v;
    l->cap = cap;
  }
  if (!(l->v[l->n] = strdup(s))) return -ENOMEM;
  l->n++;
  return 0;
}

static int mf__cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void mf__sort(mf_list *l) {
  if (l->n < 2) return;
  qsort(l->v, l->n, sizeof(*l->v), mf__cmp);
  size_t m = 1;
  for (size_t i = 1; i < l->n; i++) {
    if (strcmp(l->v[i], l->v[m - 1]) == 0) free(l->v[i]);
    else l->v[m++] = l->v[i];
  }
  l->n = m;
}

static void mf__free_list(mf_list *l) {
  for (size_t i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof(*l));
}

typedef struct mf_ctx {
  mf_list sites, lines, stations;
  int err;
} mf_ctx;

static int mf__each(void *arg, const char *k, const char *v) {
  mf_ctx *c = arg;
  mf_list *l = strcmp(k, "site") == 0          ? &c->sites
               : strcmp(k, "line") == 0        ? &c->lines
               : strcmp(k, "workstation") == 0 ? &c->stations
                                               : NULL;
  if (!l) return 0;
  l->given = true;
  if (l->n >= MF_MAX_VALUES) {
    c->err = -E2BIG;
    return 1;
  }
  int r = mf__push(l, v ? v : "");
  if (r < 0) c->err = r;
  return r < 0;
}

int mf_parse(httpd_req *req, const reg_index *x, mf_filter *ret, const char **ret_param, char *msg,
             size_t msglen) {
  memset(ret, 0, sizeof(*ret));
  mf_ctx c = {0};
  httpd_req_query_each(req, mf__each, &c);
  int r = c.err;
  if (r == -E2BIG) {
    *ret_param = c.lines.n >= MF_MAX_VALUES ? "line" : c.stations.n >= MF_MAX_VALUES ? "workstation" : "site";
    snprintf(msg, msglen, "%s: at most %d values", *ret_param, MF_MAX_VALUES);
    r = -EINVAL;
  }
  mf_list st = {0};
  for (size_t i = 0; r == 0 && i < c.lines.n; i++) {
    if (!reg_index_find(x, REG_LINES, c.lines.v[i])) {
      *ret_param = "line";
      snprintf(msg, msglen, "line: the registry has no line \"%.64s\"", c.lines.v[i]);
      r = -EINVAL;
      break;
    }
    size_t n = 0;
    const reg_entry *ws = reg_index_all(x, REG_STATIONS, &n);
    for (size_t k = 0; r == 0 && k < n; k++)
      if (ws[k].line && strcmp(ws[k].line, c.lines.v[i]) == 0) r = mf__push(&st, ws[k].id);
  }
  if (r == 0 && c.stations.given) { /* workstation=: those, on the lines when line= is given too */
    mf__sort(&st);
    mf__sort(&c.stations);
    mf_list both = {0};
    for (size_t i = 0; r == 0 && i < c.stations.n; i++)
      if (!c.lines.given || bsearch(&c.stations.v[i], st.v, st.n, sizeof(char *), mf__cmp))
        r = mf__push(&both, c.stations.v[i]);
    mf__free_list(&st);
    st = both;
    st.given = true;
  }
  if (r == 0) {
    mf__sort(&c.sites);
    mf__sort(&st);
    bool on_stations = c.lines.given || c.stations.given;
    ret->on = c.sites.given || on_stations;
    ret->sites = c.sites.v;
    ret->n_sites = c.sites.n;
    ret->stations = st.v;
    ret->n_stations = st.n;
    static const char *const none[1] = {""};
    ret->f.sites = c.sites.given ? (c.sites.n ? (const char *const *)ret->sites : none) : NULL;
    ret->f.n_sites = c.sites.n;
    ret->f.stations = on_stations ? (st.n ? (const char *const *)ret->stations : none) : NULL;
    ret->f.n_stations = st.n;
    mf__free_list(&c.lines);
    mf__free_list(&c.stations);
    return 0;
  }
  mf__free_list(&c.sites);
  mf__free_list(&c.lines);
  mf__free_list(&c.stations);
  mf__free_list(&st);
  return r;
}

void mf_clear(mf_filter *f) {
  for (size_t i = 0; i < f->n_sites; i++) free(f->sites[i]);
  for (size_t i = 0; i < f->n_stations; i++) free(f->stations[i]);
  free(f->sites);
  free(f->stations);
  memset(f, 0, sizeof(*f));
}
