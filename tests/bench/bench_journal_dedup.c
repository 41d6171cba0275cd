/* bench_journal_dedup: the agent journal's commit path alone (no HTTP, no
 * parse) into a growing backlog — what the pending-id table and the SQLite
 * page cache cost in CPU and memory. Commits N events (~200-byte bodies,
 * time-ordered "bench-N" or random UUIDv4-shaped ids) in requests of 100,
 * eight requests queued at a time (group commits), durability off (the
 * kernel's fsync time is not the journal's CPU). Prints, for each tenth of
 * the run, the process CPU per event (the loop thread only waits here, so
 * it is the journal worker's), and at the end the table's bytes, the dedup
 * mode and the process's VmHWM / RssAnon. malloc is set up as in the agent
 * (footprint_apply).
 *
 * usage: bench_journal_dedup [N [seq|uuid [DEDUP_MAX_BYTES]]]
 *        (default 1000000 seq 16MiB) */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "footprint.h"
#include "journal.h"
#include "journal_harness.h"

#define PER_REQ  100
#define INFLIGHT 8

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         (double)ru.ru_stime.tv_usec / 1e6;
}


static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* Replace the ids of evs (made by jh_make_events) with UUIDv4-shaped ones. */
static void uuid_ids(ev_event *evs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint64_t a = next_rand(), b = next_rand();
    char id[40];
    snprintf(id, sizeof(id), "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff, (unsigned)(0x8000 | ((b >> 48) & 0x3fff)),
             (unsigned long long)(b & 0xffffffffffffULL));
    char *json = NULL;
    if (asprintf(&json,
                 "{\"event_id\":\"%s\",\"timestamp\":\"2026-03-01T08:00:00.000Z\",\"event_type\":\"working\","
                 "\"worker_id\":\"w1\",\"workstation_id\":\"s1\",\"note\":\"%s\"}",
                 id, "pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp") < 0)
      abort();
    free(evs[i].event_id);
    free(evs[i].json);
    evs[i].event_id = strdup(id);
    evs[i].json = json;
    evs[i].json_len = strlen(json);
  }
}

int main(int argc, char **argv) {
  footprint_apply();
  long total = argc > 1 ? atol(argv[1]) : 1000000;
  int uuid = argc > 2 && strcmp(argv[2], "uuid") == 0;
  long long dmax = argc > 3 ? atoll(argv[3]) : 16LL << 20;
  if (total < PER_REQ * INFLIGHT * 10) total = PER_REQ * INFLIGHT * 10;
  char dir[256], path[400];
  if (jh_mkdtemp(dir, sizeof(dir), "bench-dedup") < 0) return 1;
  snprintf(path, sizeof(path), "%s/journal.db", dir);
  uv_loop_t loop;
  uv_loop_init(&loop);
  journal_opts o = jh_opts(path, "bench", "machine-1");
  o.max_journal_bytes = 8LL << 30;
  o.max_wal_bytes = 64 << 20;
  o.dedup_max_bytes = dmax;
  journal *j = jh_open(&loop, &o);
  if (!j) return 1;
  printf("bench_journal_dedup: %ld events, ids %s, dedup_max_bytes %lld\n", total, uuid ? "uuid" : "seq",
         dmax);
  journal_commit c[INFLIGHT];
  ev_event *evs[INFLIGHT];
  long done = 0, tenth = total / 10, dup = 0, last_done = 0;
  double all = 0, last = 0; /* CPU from the submits to the last completion: the journal's */
  while (done < total) {
    memset(c, 0, sizeof(c));
    jh_done = 0;
    for (int k = 0; k < INFLIGHT; k++) {
      evs[k] = jh_make_events(PER_REQ, "bench-", (int)(done + (long)k * PER_REQ), 80);
      if (uuid) uuid_ids(evs[k], PER_REQ);
    }
    double t0 = cpu_s();
    journal_test_hold(j, true);
    for (int k = 0; k < INFLIGHT; k++) {
      c[k].events = evs[k];
      c[k].n = PER_REQ;
      c[k].done = jh_on_commit;
      if (journal_submit(j, &c[k]) != 0) return 1;
    }
    journal_test_hold(j, false);
    jh_wait_done(&loop, INFLIGHT);
    all += cpu_s() - t0;
    for (int k = 0; k < INFLIGHT; k++) {
      if (c[k].status != 0) {
        fprintf(stderr, "commit failed: %d %s\n", c[k].status, c[k].error);
        return 1;
      }
      dup += (long)c[k].duplicates;
      jh_free_events(evs[k], PER_REQ);
    }
    long before = done;
    done += PER_REQ * INFLIGHT;
    if (done / tenth != before / tenth) {
      printf("  backlog %7ld: %.2f us/event\n", done, (all - last) / (double)(done - last_done) * 1e6);
      last = all;
      last_done = done;
    }
  }
  journal_stats s = jh_stats(j);
  printf("overall: %.2f us/event (journal CPU), duplicates %ld, backlog %lld\n", all / (double)total * 1e6,
         dup, (long long)s.backlog);
  printf("dedup: %s, table %lld bytes (%.1f per pending event), page cache bound %lld KiB\n",
         s.dedup_sql ? "sql_index" : "memory", (long long)s.dedup_bytes,
         (double)s.dedup_bytes / (double)(s.backlog ? s.backlog : 1), (long long)s.cache_bytes / 1024);
  printf("memory: VmHWM %.1f MiB, RssAnon %.1f MiB\n", (double)jh_status_kib("VmHWM") / 1024,
         (double)jh_status_kib("RssAnon") / 1024);
  jh_close(&loop, j);
  uv_loop_close(&loop);
  jh_rmtree(dir);
  return 0;
}
