/* bench_event_parse: the agent's ingest parse alone — ev_parse_body (print
 * every normal form) against ev_parse_body_raw (keep the received text where
 * it already is the normal form) — on the body bench_ingest.py posts (100
 * events of ~215 bytes, a JSON array), in one thread, timed in that thread's
 * CPU time (so the figure holds on a busy machine), batch freed each round.
 *
 * The cJSON trees come from malloc, then (after ja_install) from the
 * thread's JSON arena, as in the agent; MODE "malloc" or "arena" runs one.
 *
 * usage: bench_event_parse [ROUNDS [MODE]] (default 2000, both modes) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "json_arena.h"

#define EVENTS 100

static ev_errors errs;

static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double run(const char *body, size_t len, int raw, int rounds) {
  double t0 = cpu_s();
  for (int k = 0; k < rounds; k++) {
    ev_batch b = {0};
    int r = raw ? ev_parse_body_raw(body, len, EV_BODY_JSON, 0, &b, &errs)
                : ev_parse_body(body, len, EV_BODY_JSON, 0, &b, &errs);
    if (r != 0 || b.n != EVENTS) {
      fprintf(stderr, "parse failed: %d %s\n", r, errs.n ? errs.items[0].message : "");
      exit(1);
    }
    ev_batch_clear(&b);
  }
  return (cpu_s() - t0) / rounds / EVENTS * 1e6;
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 2000;
  if (rounds < 1) rounds = 1;
  size_t cap = EVENTS * 512, n = 0;
  char *body = malloc(cap);
  if (!body) return 1;
  body[n++] = '[';
  for (int i = 0; i < EVENTS; i++) {
    if (i) body[n++] = ',';
    n += (size_t)snprintf(
        body + n, cap - n,
        "{\"event_id\":\"bench-%d\",\"timestamp\":\"2026-12-04T21:00:%02d.%03dZ\","
        "\"event_type\":\"product_count\",\"worker_id\":\"W-%03d\",\"workstation_id\":\"WS-%02d\","
        "\"count\":%d,\"camera_id\":\"cam-%02d\",\"model_version\":\"bench-1\",\"confidence\":0.93}",
        100000 + i, i % 60, i, i % 50, i % 12, 1 + i % 3, i % 12);
  }
  body[n++] = ']';
  body[n] = '\0';
  const char *mode = argc > 2 ? argv[2] : "both";
  for (int arena = 0; arena < 2; arena++) {
    if (strcmp(mode, "both") != 0 && strcmp(mode, arena ? "arena" : "malloc") != 0) continue;
    if (arena) ja_install();
    for (int pass = 0; pass < 2; pass++) {
      double a = run(body, n, 0, rounds), b = run(body, n, 1, rounds);
      printf("%s: ev_parse_body: %.3f us/event; ev_parse_body_raw: %.3f us/event (%d rounds of %d events)\n",
             arena ? "arena" : "malloc", a, b, rounds, EVENTS);
    }
  }
  free(body);
  return 0;
}
