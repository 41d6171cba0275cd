/* bench_batch_parse: the collector's per-batch parse and validation
 * (bt_parse) alone, in one thread, timed in that thread's CPU time so the
 * figure holds on a busy shared machine where the end-to-end benchmark
 * (bench_collector.py) moves by ±15 %. The batch is what an agent uploads:
 * 1,000 events in normal form with seq and ingested_at last.
 *
 * The batch's cJSON tree comes from malloc, then (after ja_install) from the
 * thread's JSON arena, as in the collector; MODE "malloc" or "arena" runs one.
 *
 * usage: bench_batch_parse [ROUNDS [MODE]] (default 200, both modes) */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "json_arena.h"
#include "timefmt.h"

#define EVENTS 1000

static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 200;
  if (rounds < 1) rounds = 1;
  static const char *kinds[] = {"working", "idle", "absent", "product_count"};
  size_t cap = EVENTS * 512 + 512, len = 0;
  char *buf = malloc(cap);
  if (!buf) return 1;
  int64_t now = tf_now_ms();
  char ing[TF_RFC3339_LEN];
  tf_format_ms(now - 60000, ing);
  len += (size_t)snprintf(buf, cap,
                          "{\"agent_id\":\"bench-1\",\"epoch\":\"0000000000001f00\",\"sent_at\":\"%s\","
                          "\"stats\":{\"backlog\":0,\"oldest_pending_s\":1.5},\"dropped\":[],\"events\":[",
                          ing);
  for (int i = 0; i < EVENTS; i++) {
    char ts[TF_RFC3339_LEN], cnt[24] = "";
    tf_format_ms(now - 3600000 + i * 1000LL, ts);
    const char *k = kinds[i % 4];
    if (k[0] == 'p') snprintf(cnt, sizeof(cnt), ",\"count\":%d", 1 + i % 3);
    len += (size_t)snprintf(buf + len, cap - len,
                            "%s{\"event_id\":\"ev-%012d\",\"timestamp\":\"%s\",\"event_type\":\"%s\","
                            "\"worker_id\":\"W-%03d\",\"workstation_id\":\"WS-%03d\"%s,"
                            "\"camera_id\":\"cam-%02d\",\"model_version\":\"yolo-7.2\","
                            "\"confidence\":0.93,\"seq\":%d,\"ingested_at\":\"%s\"}",
                            i ? "," : "", i, ts, k, i % 500, i % 100, cnt, i % 40, i + 1, ing);
  }
  len += (size_t)snprintf(buf + len, cap - len, "]}");
  bt_limits lim = {.now_ms = now, .max_future_s = 300, .retention_days = 0};
  char err[256];
  const char *mode = argc > 2 ? argv[2] : "both";
  for (int arena = 0; arena < 2; arena++) {
    if (strcmp(mode, "both") != 0 && strcmp(mode, arena ? "arena" : "malloc") != 0) continue;
    if (arena) ja_install();
    double t0 = cpu_s();
    for (int r = 0; r < rounds; r++) {
      bt_batch b;
      if (bt_parse(buf, len, &lim, &b, err, sizeof(err)) < 0 || bt_valid_count(&b) != EVENTS) {
        fprintf(stderr, "bench_batch_parse: batch refused: %s\n", err);
        return 1;
      }
      bt_batch_clear(&b);
    }
    double s = cpu_s() - t0;
    printf(
        "bench_batch_parse: %s: %d batches of %d events (%zu bytes): %.2f us CPU per event; arena %zu KiB\n",
        arena ? "arena" : "malloc", rounds, EVENTS, len, s / rounds / EVENTS * 1e6, ja_reserved() / 1024);
  }
  free(buf);
  return 0;
}
