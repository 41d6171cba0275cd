/* test_collector_store_wal: the SQLite store's WAL stays bounded with its
 * checkpoints on their own thread (ss_checkpoint.h). About 90 MiB of events
 * go through the writer; after every commit the WAL file is at most the hard
 * limit plus one group, the checkpoints have copied pages into the database
 * file while the store was open, and every event is there after a reopen. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "check.h"
#include "ss_checkpoint.h"
#include "store.h"

#define NOW_MS  1772352000000LL /* 2026-03-01T08:00:00Z */
#define BATCHES 30
#define PER     1000

static const bt_limits lim = {NOW_MS, 300, 0};

static long long fsize(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

int main(void) {
  char dir[] = "/tmp/ferry-test-wal-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[300], wal[310];
  snprintf(path, sizeof(path), "%s/c.db", dir);
  snprintf(wal, sizeof(wal), "%s-wal", path);
  store *s = NULL;
  char err[300] = "";
  CHECK_EQ_INT(store_sqlite_open(path, 600000, &s, err, sizeof(err)), 0);
  if (!s) {
    fprintf(stderr, "open: %s\n", err);
    return check_finish("test_collector_store_wal");
  }
  char pad[3001];
  memset(pad, 'x', sizeof(pad) - 1);
  pad[sizeof(pad) - 1] = '\0';
  size_t cap = (size_t)PER * 3300 + 256;
  char *body = malloc(cap);
  CHECK(body != NULL);
  long long wal_max = 0, db_open_max = 0;
  for (int k = 0; body && k < BATCHES; k++) {
    size_t len =
        (size_t)snprintf(body, cap, "{\"agent_id\":\"a1\",\"epoch\":\"00000000000000e1\",\"events\":[");
    for (int i = 0; i < PER; i++) {
      int seq = k * PER + i + 1;
      len += (size_t)snprintf(body + len, cap - len,
                              "%s{\"event_id\":\"ev-%d\",\"timestamp\":\"2026-03-01T0%d:%02d:%02d.%03dZ\","
                              "\"event_type\":\"product_count\",\"workstation_id\":\"s1\",\"count\":1,"
                              "\"attributes\":{\"pad\":\"%s\"},\"seq\":%d,"
                              "\"ingested_at\":\"2026-03-01T07:59:00Z\"}",
                              i ? "," : "", seq, seq % 7, seq % 60, (seq / 60) % 60, seq % 1000, pad, seq);
    }
    snprintf(body + len, cap - len, "]}");
    bt_batch b;
    char perr[300];
    if (bt_parse(body, strlen(body), &lim, &b, perr, sizeof(perr)) < 0) {
      fprintf(stderr, "parse: %s\n", perr);
      CHECK(0);
      break;
    }
    st_ingest in = {&b, NOW_MS, "1.2.3"};
    st_result res;
    memset(&res, 0, sizeof(res));
    int r = s->ops->begin(s);
    if (r == 0) r = s->ops->apply(s, &in, &res);
    if (r == 0) r = s->ops->commit(s);
    else s->ops->rollback(s);
    CHECK_EQ_INT(r, 0);
    CHECK_EQ_INT(res.accepted, PER);
    st_result_clear(&res);
    bt_batch_clear(&b);
    long long w = fsize(wal), d = fsize(path);
    if (w > wal_max) wal_max = w;
    if (d > db_open_max) db_open_max = d;
  }
  free(body);
  /* one group here is ~4 MiB of pages: the WAL stays below the hard limit
   * plus a group (frames are page + 24 bytes) */
  CHECK(wal_max > 0);
  CHECK(wal_max <= (long long)(SS_CKPT_HARD + 2048) * (4096 + 24));
  /* the checkpoints copied pages into the database while it was open */
  CHECK(db_open_max > 16LL * 1024 * 1024);
  fprintf(stderr, "wal max %lld bytes, database %lld bytes while open\n", wal_max, db_open_max);
  s->ops->close(s);

  CHECK_EQ_INT(store_sqlite_open(path, 600000, &s, err, sizeof(err)), 0);
  if (s) {
    st_metrics_query q = {.from_ms = NOW_MS - 8 * 3600000LL, .to_ms = NOW_MS};
    metrics_result m;
    CHECK_EQ_INT(s->ops->metrics(s, &q, &m), 0);
    CHECK_EQ_INT(m.factory.events, BATCHES * PER);
    CHECK_EQ_INT(m.factory.units, BATCHES * PER);
    metrics_result_clear(&m);
    s->ops->close(s);
  }
  char cmd[400];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  CHECK_EQ_INT(system(cmd), 0);
  return check_finish("test_collector_store_wal");
}
