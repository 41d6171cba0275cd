/* prom_text: the one writer of the Prometheus text exposition format (0.0.4)
 * both programs' GET /metrics use: HELP/TYPE lines, samples with escaped
 * label values, counters, gauges and histograms, appended to a strbuf (whose
 * bound and sticky error make a page that did not fit fail as a whole). */
#ifndef FERRY_PROM_TEXT_H
#define FERRY_PROM_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

#define PT_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct pt_label {
  const char *name;
  const char *value; /* escaped when written; NULL = "" */
} pt_label;

/* "# HELP name help" and "# TYPE name type" (type: "counter", "gauge",
 * "histogram"). */
void pt_head(strbuf *b, const char *name, const char *type, const char *help);
/* A label value with backslash, double quote and newline escaped. */
void pt_label_value(strbuf *b, const char *v);

/* One sample line: name{labels} value (no braces without labels). */
void pt_sample_u64(strbuf *b, const char *name, const pt_label *l, size_t nl, uint64_t v);
void pt_sample_i64(strbuf *b, const char *name, const pt_label *l, size_t nl, int64_t v);
/* A value with a fixed number of decimals ("%.3f" for 3). */
void pt_sample_f64(strbuf *b, const char *name, const pt_label *l, size_t nl, double v, int decimals);

/* A metric with one unlabelled sample: HELP, TYPE and the value. */
void pt_metric_u64(strbuf *b, const char *name, const char *type, const char *help, uint64_t v);
void pt_metric_i64(strbuf *b, const char *name, const char *type, const char *help, int64_t v);
void pt_metric_f64(strbuf *b, const char *name, const char *type, const char *help, double v, int decimals);

/* One labelled histogram series (HELP/TYPE written separately with
 * pt_head): name_bucket{l...,le="%g"} for each bound with its cumulative
 * count, le="+Inf" with count, name_sum (six decimals) and name_count. */
void pt_histogram(strbuf *b, const char *name, const pt_label *l, size_t nl, const double *le,
                  const uint64_t *cumulative, size_t n_le, uint64_t count, double sum);

#endif
