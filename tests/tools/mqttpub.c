/* ferry-mqttpub: a test publisher on libmosquitto (tests and benchmarks only,
 * never installed). It publishes --count messages with QoS 1 to a broker on
 * loopback, numbered from --start, in one of the payload shapes the MQTT
 * source's tests use, and reports which ones the broker acknowledged:
 *
 *   ferry     {"event_id":"P-i","timestamp":..,"event_type":"working",..}
 *   ds-full   a DeepStream nvmsgconv full-schema message, messageid "P-i"
 *   ds-min    a DeepStream minimal-schema message, frame i, 3 objects (2 people)
 *   frigate   a Frigate frigate/events message ("new"), object id "P-i"
 *
 * Timestamps are --base-ms + i·100 ms. With --acked FILE every acknowledged
 * index is appended to FILE (one a line, as the PUBACK arrives), so a test
 * that kills the broker knows exactly what the broker accepted. Exits 0 when
 * every message was acknowledged, 1 when the connection broke first (the
 * summary line says how many were), 2 on bad usage. Prints one line:
 * "published=N acked=A seconds=S". */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <mosquitto.h>

#include "timefmt.h"

typedef struct pub {
  long count, start, acked, inflight_max, sent;
  int *mid_to_index; /* mid (1..65535) → message index, -1 = none */
  FILE *acked_f;
  volatile bool lost, connected;
} pub;

static void on_connect(struct mosquitto *m, void *ud, int rc) {
  pub *p = ud;
  if (rc == 0) p->connected = true;
  else p->lost = true;
}

static void on_disconnect(struct mosquitto *m, void *ud, int rc) {
  pub *p = ud;
  p->lost = true;
}

static void on_publish(struct mosquitto *m, void *ud, int mid) {
  pub *p = ud;
  if (mid > 0 && mid < 65536 && p->mid_to_index[mid] >= 0) {
    if (p->acked_f) {
      fprintf(p->acked_f, "%d\n", p->mid_to_index[mid]);
      fflush(p->acked_f);
    }
    p->mid_to_index[mid] = -1;
    p->acked++;
  }
}

static int payload(char *buf, size_t len, const char *kind, const char *prefix, long i, int64_t base_ms) {
  char ts[TF_RFC3339_LEN];
  int64_t ms = base_ms + i * 100;
  tf_format_ms(ms, ts);
  if (strcmp(kind, "ferry") == 0)
    return snprintf(
        buf, len,
        "{\"event_id\":\"%s-%ld\",\"timestamp\":\"%s\",\"event_type\":\"%s\",\"worker_id\":\"w%ld\","
        "\"workstation_id\":\"s%ld\"}",
        prefix, i, ts, i % 3 ? "working" : "idle", i % 7, i % 5);
  if (strcmp(kind, "ds-full") == 0)
    return snprintf(
        buf, len,
        "{\"messageid\":\"%s-%ld\",\"mdsversion\":\"1.0\",\"@timestamp\":\"%s\","
        "\"place\":{\"id\":\"1\",\"name\":\"station-%ld\",\"type\":\"assembly\"},"
        "\"sensor\":{\"id\":\"cam-%ld\",\"type\":\"Camera\",\"description\":\"\"},"
        "\"analyticsModule\":{\"id\":\"peoplenet\",\"description\":\"\",\"source\":\"OpenALR\","
        "\"version\":\"2.6\"},"
        "\"object\":{\"id\":\"%ld\",\"speed\":0.0,\"direction\":0.0,\"orientation\":0.0,\"confidence\":0.9,"
        "\"person\":{\"age\":0,\"gender\":\"\",\"hair\":\"\",\"cap\":\"\",\"apparel\":\"\","
        "\"confidence\":0.9},\"bbox\":{\"topleftx\":1,\"toplefty\":2,\"bottomrightx\":3,"
        "\"bottomrighty\":4}},\"event\":{\"id\":\"e%ld\",\"type\":\"%s\"},\"videoPath\":\"\"}",
        prefix, i, ts, i % 4, i % 4, i % 9, i, i % 2 ? "entry" : "stopped");
  if (strcmp(kind, "ds-min") == 0)
    return snprintf(buf, len,
                    "{\"version\":\"4.0\",\"id\":%ld,\"@timestamp\":\"%s\",\"sensorId\":\"%s\","
                    "\"objects\":[\"1|10|20|30|40|Person\",\"2|50|60|70|80|Person\","
                    "\"3|1|1|2|2|Vehicle|#|forklift\"]}",
                    i, ts, prefix);
  if (strcmp(kind, "frigate") == 0)
    return snprintf(buf, len,
                    "{\"type\":\"new\",\"before\":{},\"after\":{\"id\":\"%s-%ld\",\"camera\":\"cam%ld\","
                    "\"label\":\"person\",\"sub_label\":null,\"top_score\":0.8,\"false_positive\":false,"
                    "\"start_time\":%.3f,\"end_time\":null,\"current_zones\":[\"station_%ld\"],"
                    "\"entered_zones\":[]}}",
                    prefix, i, i % 3, (double)ms / 1000.0, i % 4);
  return -1;
}

int main(int argc, char **argv) {
  int port = 1883;
  const char *topic = "cams/1/events", *kind = "ferry", *prefix = "mq", *acked_path = NULL;
  pub p = {.count = 100, .start = 0, .inflight_max = 100};
  int64_t base_ms = tf_now_ms() - 3600 * 1000;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) goto usage;
    if (strcmp(a, "--port") == 0) port = atoi(v);
    else if (strcmp(a, "--topic") == 0) topic = v;
    else if (strcmp(a, "--count") == 0) p.count = atol(v);
    else if (strcmp(a, "--start") == 0) p.start = atol(v);
    else if (strcmp(a, "--kind") == 0) kind = v;
    else if (strcmp(a, "--prefix") == 0) prefix = v;
    else if (strcmp(a, "--base-ms") == 0) base_ms = strtoll(v, NULL, 10);
    else if (strcmp(a, "--inflight") == 0) p.inflight_max = atol(v);
    else if (strcmp(a, "--acked") == 0) acked_path = v;
    else goto usage;
    i++;
  }
  char probe[8];
  if (payload(probe, sizeof probe, kind, prefix, 0, base_ms) < 0 || p.inflight_max < 1 ||
      p.inflight_max > 1000)
    goto usage;
  p.mid_to_index = malloc(65536 * sizeof(int));
  memset(p.mid_to_index, 0xff, 65536 * sizeof(int));
  if (acked_path && !(p.acked_f = fopen(acked_path, "a"))) {
    fprintf(stderr, "ferry-mqttpub: %s: %s\n", acked_path, strerror(errno));
    return 2;
  }
  mosquitto_lib_init();
  struct mosquitto *m = mosquitto_new(NULL, true, &p);
  mosquitto_connect_callback_set(m, on_connect);
  mosquitto_disconnect_callback_set(m, on_disconnect);
  mosquitto_publish_callback_set(m, on_publish);
  mosquitto_max_inflight_messages_set(m, (unsigned)p.inflight_max);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (mosquitto_connect(m, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS) {
    printf("published=0 acked=0 seconds=0 (cannot connect)\n");
    return 1;
  }
  while (!p.connected && !p.lost) mosquitto_loop(m, 100, 1);
  char buf[4096];
  for (long k = 0; k < p.count && !p.lost; k++) {
    long i = p.start + k;
    /* keep at most inflight_max unacknowledged (the library would queue more) */
    while (!p.lost && p.sent - p.acked >= p.inflight_max) mosquitto_loop(m, 100, 1);
    if (p.lost) break;
    int n = payload(buf, sizeof buf, kind, prefix, i, base_ms);
    int mid = 0;
    if (mosquitto_publish(m, &mid, topic, n, buf, 1, false) != MOSQ_ERR_SUCCESS) break;
    p.mid_to_index[mid] = (int)i;
    p.sent++;
    mosquitto_loop(m, 0, 1);
  }
  while (!p.lost && p.acked < p.sent) mosquitto_loop(m, 100, 1);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  if (!p.lost) {
    mosquitto_disconnect(m);
    mosquitto_loop(m, 100, 1);
  }
  printf("published=%ld acked=%ld seconds=%.3f\n", p.sent, p.acked, secs);
  mosquitto_destroy(m);
  mosquitto_lib_cleanup();
  if (p.acked_f) fclose(p.acked_f);
  free(p.mid_to_index);
  return p.acked == p.count ? 0 : 1;
usage:
  fprintf(stderr,
          "usage: ferry-mqttpub [--port P] [--topic T] [--count N] [--start I] [--kind ferry|ds-full|ds-min|"
          "frigate] [--prefix P] [--base-ms MS] [--inflight N] [--acked FILE]\n");
  return 2;
}
