/* prom_text: see prom_text.h. The agent's and the collector's /metrics pages
 * are written with these few calls, so the format's rules (escaping, the
 * HELP/TYPE pair, histogram suffixes) live in one place. */
#include "prom_text.h"

#include <stdio.h>
#include <string.h>

void pt_head(strbuf *b, const char *name, const char *type, const char *help) {
  sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void pt_label_value(strbuf *b, const char *v) {
  if (!v) return;
  size_t run = 0, i = 0;
  for (; v[i]; i++) {
    const char *esc = v[i] == '\\' ? "\\\\" : v[i] == '"' ? "\\\"" : v[i] == '\n' ? "\\n" : NULL;
    if (!esc) continue;
    sb_add(b, v + run, i - run);
    sb_add(b, esc, 2);
    run = i + 1;
  }
  sb_add(b, v + run, i - run);
}

/* name{a="x",b="y"} and the space before the value. */
static void pt__series(strbuf *b, const char *name, const pt_label *l, size_t nl, const char *extra_name,
                       const char *extra_value) {
  sb_adds(b, name);
  if (nl || extra_name) {
    sb_addc(b, '{');
    for (size_t i = 0; i < nl; i++) {
      if (i) sb_addc(b, ',');
      sb_adds(b, l[i].name);
      sb_add(b, "=\"", 2);
      pt_label_value(b, l[i].value);
      sb_addc(b, '"');
    }
    if (extra_name) {
      if (nl) sb_addc(b, ',');
      sb_printf(b, "%s=\"%s\"", extra_name, extra_value);
    }
    sb_addc(b, '}');
  }
  sb_addc(b, ' ');
}

void pt_sample_u64(strbuf *b, const char *name, const pt_label *l, size_t nl, uint64_t v) {
  pt__series(b, name, l, nl, NULL, NULL);
  sb_printf(b, "%llu\n", (unsigned long long)v);
}

void pt_sample_i64(strbuf *b, const char *name, const pt_label *l, size_t nl, int64_t v) {
  pt__series(b, name, l, nl, NULL, NULL);
  sb_printf(b, "%lld\n", (long long)v);
}

void pt_sample_f64(strbuf *b, const char *name, const pt_label *l, size_t nl, double v, int decimals) {
  pt__series(b, name, l, nl, NULL, NULL);
  sb_printf(b, "%.*f\n", decimals, v);
}

void pt_metric_u64(strbuf *b, const char *name, const char *type, const char *help, uint64_t v) {
  pt_head(b, name, type, help);
  pt_sample_u64(b, name, NULL, 0, v);
}

void pt_metric_i64(strbuf *b, const char *name, const char *type, const char *help, int64_t v) {
  pt_head(b, name, type, help);
  pt_sample_i64(b, name, NULL, 0, v);
}

void pt_metric_f64(strbuf *b, const char *name, const char *type, const char *help, double v, int decimals) {
  pt_head(b, name, type, help);
  pt_sample_f64(b, name, NULL, 0, v, decimals);
}

void pt_histogram(strbuf *b, const char *name, const pt_label *l, size_t nl, const double *le,
                  const uint64_t *cumulative, size_t n_le, uint64_t count, double sum) {
  char series[128], bound[32];
  snprintf(series, sizeof(series), "%s_bucket", name);
  for (size_t i = 0; i <= n_le; i++) {
    if (i < n_le) snprintf(bound, sizeof(bound), "%g", le[i]);
    pt__series(b, series, l, nl, "le", i < n_le ? bound : "+Inf");
    sb_printf(b, "%llu\n", (unsigned long long)(i < n_le ? cumulative[i] : count));
  }
  snprintf(series, sizeof(series), "%s_sum", name);
  pt_sample_f64(b, series, l, nl, sum, 6);
  snprintf(series, sizeof(series), "%s_count", name);
  pt_sample_u64(b, series, l, nl, count);
}
