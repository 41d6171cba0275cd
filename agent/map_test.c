/* map_test: the `--map-test FILE` action of ferry-agent, kept out of main.c:
 * it runs a mapping on one payload and prints what it becomes, with no
 * journal, no network and no loop. */
#include "main_int.h"

#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "mapping.h"

/* --map-test: what the payload in a file becomes, printed as NDJSON (one
 * event a line), then a summary line on stderr. Exit 0 mapped (or skipped),
 * 1 the payload is refused (the reason names the rule), 2 bad usage. */
int agent__run_map_test(const agent_config *c) {
  char err[512];
  mapping *m = NULL;
  if (mapping_load_file(c->mapping, &m, err, sizeof(err)) < 0) {
    fprintf(stderr, "ferry-agent: %s\n", err);
    return 2;
  }
  FILE *f = fopen(c->map_test, "rb");
  if (!f) {
    fprintf(stderr, "ferry-agent: map_test: cannot open %s\n", c->map_test);
    mapping_free(m);
    return 2;
  }
  size_t cap = 4 * 1024 * 1024, n;
  char *buf = malloc(cap + 1);
  n = buf ? fread(buf, 1, cap + 1, f) : 0;
  fclose(f);
  if (!buf || n > cap) {
    fprintf(stderr, "ferry-agent: map_test: %s is over 4 MiB\n", c->map_test);
    free(buf);
    mapping_free(m);
    return 2;
  }
  char topic[1100];
  if (c->map_topic) {
    snprintf(topic, sizeof(topic), "%s", c->map_topic);
  } else {
    /* the first filter with its wildcards filled in */
    const char *flt = m->entries[0].filter;
    size_t o = 0;
    for (const char *p = flt; *p && o + 2 < sizeof(topic); p++)
      topic[o++] = (*p == '+' || *p == '#') ? 'x' : *p;
    topic[o] = '\0';
  }
  mapping_result res;
  int r = mapping_apply(m, topic, buf, n, (size_t)c->max_body_bytes, &res);
  int rc = 0;
  if (r < 0) {
    fprintf(stderr, "ferry-agent: out of memory\n");
    rc = 1;
  } else if (res.error[0]) {
    fprintf(stderr, "mapping_error: %s\n(topic %s; this message would go to dead-letter)\n", res.error,
            topic);
    rc = 1;
  } else {
    for (size_t i = 0; i < res.n; i++) {
      cJSON *o = mapping_event_json(&res.events[i]);
      char *t = o ? cJSON_PrintUnformatted(o) : NULL;
      printf("%s\n", t ? t : "(out of memory)");
      free(t);
      cJSON_Delete(o);
    }
    fprintf(stderr, "topic %s: %zu event(s), %zu skipped%s\n", topic, res.n, res.skipped,
            res.ferry ? " (read as ferry events: no mapping entry matches this topic)" : "");
  }
  mapping_result_clear(&res);
  free(buf);
  mapping_free(m);
  return rc;
}
