/* metrics_filter: the site= and line= parameters of the /v1/metrics/ endpoints (SPEC
 * §6.6), each repeatable, turned into a rollup_site filter: site= keeps the
 * events of agents of those sites ("site=" with no value: agents of no
 * site), line= the events at workstations the registry puts on those lines;
 * both given, an event must pass both. workstation= (not in the SPEC: the
 * dashboard's drill-down) keeps the events at those workstations (on the
 * lines, when line= is given too). */
#ifndef FERRY_COLLECTOR_METRICS_FILTER_H
#define FERRY_COLLECTOR_METRICS_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "httpd.h"
#include "registry.h"
#include "rollup_site.h"

#define MF_MAX_VALUES 100 /* site= / line= values in one query */

typedef struct mf_filter {
  bool on;         /* a site= or line= was given */
  rsite_filter f;  /* points into the lists below */
  char **sites;    /* sorted, unique, owned */
  char **stations; /* sorted, unique, owned */
  size_t n_sites, n_stations;
} mf_filter;

/* 0, or -EINVAL with *ret_param ("site"/"line") and msg for a 400 (an
 * unknown line, too many values), or -ENOMEM. */
int mf_parse(httpd_req *req, const reg_index *x, mf_filter *ret, const char **ret_param, char *msg,
             size_t msglen);
void mf_clear(mf_filter *f);

#endif
