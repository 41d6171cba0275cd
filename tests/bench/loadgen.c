/* loadgen: a load generator for the collector's POST /v1/ingest, so the
 * collector can be measured alone. Every batch is built and compressed before
 * the clock starts; then N libcurl connections post them as fast as the
 * collector answers. Reports events/s and, with --pid, the collector's CPU
 * time per event (utime+stime from /proc/PID/stat, both threads included) and
 * its RSS — CPU per event is the figure to compare on a shared machine.
 *
 * Bench-only (tests/bench, not installed).
 *
 * usage: ferry-loadgen --url http://127.0.0.1:PORT --token T [--pid PID]
 *          [--events N] [--batch 1000] [--conns 4] [--agents A]
 *          [--ids seq|random] [--ts inorder|random] [--days 30]
 *          [--workers 500] [--stations 100] [--codec zstd|gzip|none] [--seed S]
 *          [--progress N]   (a line per N events: the interval's rate, CPU, RSS)
 *          [--agent-prefix P] (agents are P-0, P-1, ...; default lg-agent: two
 *          loadgens posting to two replicas of one database give distinct prefixes)
 *          [--model-mix] (confidence uniform in [0, 1) with 3 decimals instead of
 *          0.93, and even cameras roll out model yolo-7.3 halfway through the span:
 *          a models endpoint with something to count)
 *          [--no-models] (no camera_id, model_version or confidence: what the
 *          model fields cost at ingest)
 *        ferry-loadgen --sqlite-ref DB [--ref-upkeep] [--ref-cache MIB] [same options but --url/--token/--pid]
 * --sqlite-ref is the reference: the same rows (same seed) inserted into raw
 * SQLite (WAL, synchronous=FULL) under the collector's unique key
 * (agent_id, event_id), first copy kept, one transaction per batch; reports
 * rows/s and CPU per row of the inserting thread (building and parsing the
 * batches is not timed), the normal-form JSON bytes per event and the
 * database bytes per event. --ref-upkeep adds, per new row, the least an
 * exact rollup upkeep at ingest would read and write (lg_ref_upkeep): what
 * keeping the metrics' hour rows current at ingest would cost in SQLite
 * alone, beside the plain reference on the same rows. --ref-cache MIB gives
 * the reference the collector's page cache (`sqlite_cache`, 32 MiB by
 * default) instead of SQLite's default 2 MiB.
 * Each agent (default: one per connection) posts its batches in seq order on
 * one connection at a time, like ferry-agent's uploader. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "codec.h"
#include "timefmt.h"

typedef struct lg_batch {
  void *body;
  size_t len;
  size_t n;
  char key[160];
} lg_batch;

typedef struct lg_agent {
  char id[40];
  lg_batch *b;
  size_t n, next;
  bool busy;
} lg_agent;

typedef struct lg_conn {
  CURL *h;
  struct curl_slist *hdrs;
  lg_agent *agent;
  lg_batch *batch;
  char *resp;
  size_t rlen, rcap;
  double t0;
} lg_conn;

static uint64_t lg_rng = 88172645463325252ULL;
static uint64_t lg_rand(void) {
  lg_rng ^= lg_rng << 13;
  lg_rng ^= lg_rng >> 7;
  lg_rng ^= lg_rng << 17;
  return lg_rng;
}

static double lg_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* utime+stime of pid in seconds, or -1. */
static double lg_cpu(long pid) {
  char path[64], buf[2048];
  snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')');
  if (!p) return -1;
  unsigned long ut = 0, st = 0;
  /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) return -1;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long lg_status_kib(long pid, const char *field) {
  char path[64], line[256];
  snprintf(path, sizeof(path), "/proc/%ld/status", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  long v = -1;
  size_t fl = strlen(field);
  while (fgets(line, sizeof(line), f))
    if (strncmp(line, field, fl) == 0 && line[fl] == ':') v = strtol(line + fl + 1, NULL, 10);
  fclose(f);
  return v;
}

static size_t lg_write(char *p, size_t sz, size_t nm, void *ud) {
  lg_conn *c = ud;
  size_t n = sz * nm;
  if (c->rlen + n + 1 > c->rcap) {
    size_t cap = c->rcap ? c->rcap * 2 : 4096;
    while (cap < c->rlen + n + 1) cap *= 2;
    char *r = realloc(c->resp, cap);
    if (!r) return 0;
    c->resp = r;
    c->rcap = cap;
  }
  memcpy(c->resp + c->rlen, p, n);
  c->rlen += n;
  c->resp[c->rlen] = '\0';
  return n;
}

typedef struct lg_opts {
  const char *url, *token, *ids, *ts, *codec_name, *ref, *prefix;
  long pid;
  size_t events, batch, conns, agents, progress;
  int days, workers, stations;
  bool model_mix, no_models, ref_upkeep;
  long ref_cache_mib;
} lg_opts;

/* The raw-SQLite reference (--sqlite-ref). */
typedef struct lg_ref {
  sqlite3 *db;
  sqlite3_stmt *ins, *begin, *commit;
  /* --ref-upkeep: the least an exact rollup upkeep at ingest would do per
   * new event (see lg_ref_upkeep) */
  bool upkeep;
  long cache_mib; /* --ref-cache: the page cache, MiB (0: SQLite's default) */
  sqlite3_stmt *prev, *next, *near, *wh, *sh;
  size_t near_rows;
  size_t progress, p_rows; /* --progress: a line per that many rows */
  double p_secs, p_cpu;
  double secs, cpu; /* inserting only */
  size_t rows, json_bytes;
} lg_ref;

static double lg_thread_cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int lg_ref_open(lg_ref *r, const char *path) {
  if (sqlite3_open(path, &r->db) != SQLITE_OK) return -EIO;
  const char *schema = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                       "CREATE TABLE IF NOT EXISTS events(agent_id TEXT NOT NULL, event_id TEXT NOT NULL,"
                       " ts_ms INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY(agent_id, event_id));";
  /* the upkeep's reads need each event's worker and workstation by time;
   * its writes go to one row per (hour, worker) and (hour, workstation);
   * with the collector's default page cache (32 MiB), so that the bound
   * errs low */
  const char *upkeep =
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-32768;"
      "CREATE TABLE IF NOT EXISTS events(agent_id TEXT NOT NULL, event_id TEXT NOT NULL,"
      " ts_ms INTEGER NOT NULL, body TEXT NOT NULL, worker TEXT, station TEXT NOT NULL,"
      " PRIMARY KEY(agent_id, event_id));"
      "CREATE INDEX IF NOT EXISTS ev_worker ON events(worker, ts_ms);"
      "CREATE INDEX IF NOT EXISTS ev_station ON events(station, ts_ms);"
      "CREATE TABLE IF NOT EXISTS worker_hour(hour INTEGER, worker TEXT, ms INTEGER NOT NULL,"
      " PRIMARY KEY(hour, worker)) WITHOUT ROWID;"
      "CREATE TABLE IF NOT EXISTS station_hour(hour INTEGER, station TEXT, ms INTEGER NOT NULL,"
      " PRIMARY KEY(hour, station)) WITHOUT ROWID;";
  char cache[64];
  snprintf(cache, sizeof(cache), "PRAGMA cache_size=%ld", -r->cache_mib * 1024);
  if (sqlite3_exec(r->db, r->upkeep ? upkeep : schema, NULL, NULL, NULL) != SQLITE_OK ||
      (r->cache_mib > 0 && sqlite3_exec(r->db, cache, NULL, NULL, NULL) != SQLITE_OK) ||
      sqlite3_prepare_v2(r->db,
                         r->upkeep ? "INSERT INTO events VALUES(?1, ?2, ?3, ?4, ?5, ?6)"
                                     " ON CONFLICT(agent_id, event_id) DO NOTHING"
                                   : "INSERT INTO events VALUES(?1, ?2, ?3, ?4)"
                                     " ON CONFLICT(agent_id, event_id) DO NOTHING",
                         -1, &r->ins, NULL) != SQLITE_OK ||
      (r->upkeep &&
       (sqlite3_prepare_v2(r->db,
                           "SELECT ts_ms FROM events WHERE worker = ?1 AND ts_ms < ?2"
                           " ORDER BY ts_ms DESC LIMIT 1",
                           -1, &r->prev, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(r->db,
                           "SELECT ts_ms FROM events WHERE worker = ?1 AND ts_ms > ?2 ORDER BY ts_ms LIMIT 1",
                           -1, &r->next, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(r->db,
                           "SELECT ts_ms, worker FROM events WHERE station = ?1 AND ts_ms BETWEEN ?2 AND ?3",
                           -1, &r->near, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(r->db,
                           "INSERT INTO worker_hour VALUES(?1, ?2, ?3)"
                           " ON CONFLICT(hour, worker) DO UPDATE SET ms = ms + excluded.ms",
                           -1, &r->wh, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(r->db,
                           "INSERT INTO station_hour VALUES(?1, ?2, ?3)"
                           " ON CONFLICT(hour, station) DO UPDATE SET ms = ms + excluded.ms",
                           -1, &r->sh, NULL) != SQLITE_OK)) ||
      sqlite3_prepare_v2(r->db, "BEGIN IMMEDIATE", -1, &r->begin, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(r->db, "COMMIT", -1, &r->commit, NULL) != SQLITE_OK) {
    fprintf(stderr, "loadgen: %s: %s\n", path, sqlite3_errmsg(r->db));
    return -EIO;
  }
  return 0;
}

/* --ref-upkeep, after a new event's insert: what keeping exact rollups at
 * ingest would have to read and write at least, without computing anything.
 * A state event changes its worker's time between its previous and next
 * state events (two index seeks), and a workstation's occupancy is a union
 * of every worker's intervals there, so the change needs the station's
 * events within max_state (600 s) on both sides (a range read); then one
 * row of each rollup family changes (two upserts). */
static int lg_ref_upkeep(lg_ref *r, const char *worker, const char *station, int64_t ts) {
  int rc = SQLITE_DONE;
  if (worker) {
    sqlite3_stmt *seek[2] = {r->prev, r->next};
    for (int k = 0; k < 2 && (rc == SQLITE_DONE || rc == SQLITE_ROW); k++) {
      sqlite3_bind_text(seek[k], 1, worker, -1, SQLITE_STATIC);
      sqlite3_bind_int64(seek[k], 2, ts);
      rc = sqlite3_step(seek[k]);
      sqlite3_reset(seek[k]);
    }
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
      sqlite3_bind_int64(r->wh, 1, ts / 3600000);
      sqlite3_bind_text(r->wh, 2, worker, -1, SQLITE_STATIC);
      sqlite3_bind_int64(r->wh, 3, 1);
      rc = sqlite3_step(r->wh);
      sqlite3_reset(r->wh);
    }
  }
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return -EIO;
  sqlite3_bind_text(r->near, 1, station, -1, SQLITE_STATIC);
  sqlite3_bind_int64(r->near, 2, ts - 600000);
  sqlite3_bind_int64(r->near, 3, ts + 600000);
  while ((rc = sqlite3_step(r->near)) == SQLITE_ROW) r->near_rows++;
  sqlite3_reset(r->near);
  if (rc != SQLITE_DONE) return -EIO;
  sqlite3_bind_int64(r->sh, 1, ts / 3600000);
  sqlite3_bind_text(r->sh, 2, station, -1, SQLITE_STATIC);
  sqlite3_bind_int64(r->sh, 3, 1);
  rc = sqlite3_step(r->sh);
  sqlite3_reset(r->sh);
  return rc == SQLITE_DONE ? 0 : -EIO;
}

/* One batch: parse and print each event's stored form (untimed), then insert
 * them all in one transaction (timed). */
static int lg_ref_batch(lg_ref *r, const char *agent, const char *json) {
  cJSON *b = cJSON_Parse(json);
  const cJSON *evs = cJSON_GetObjectItemCaseSensitive(b, "events");
  size_t n = (size_t)cJSON_GetArraySize(evs), i = 0;
  char **body = calloc(n ? n : 1, sizeof(*body));
  const char **eid = calloc(n ? n : 1, sizeof(*eid));
  const char **wid = calloc(n ? n : 1, sizeof(*wid)), **sid = calloc(n ? n : 1, sizeof(*sid));
  int64_t *ts = calloc(n ? n : 1, sizeof(*ts));
  if (!b || !body || !eid || !wid || !sid || !ts) return -ENOMEM;
  const cJSON *e;
  cJSON_ArrayForEach(e, evs) {
    cJSON_DeleteItemFromObjectCaseSensitive((cJSON *)e, "seq");
    cJSON_DeleteItemFromObjectCaseSensitive((cJSON *)e, "ingested_at");
    eid[i] = cJSON_GetObjectItemCaseSensitive(e, "event_id")->valuestring;
    wid[i] = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "worker_id"));
    sid[i] = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "workstation_id"));
    const char *t = cJSON_GetObjectItemCaseSensitive(e, "timestamp")->valuestring;
    if (tf_parse_rfc3339(t, strlen(t), &ts[i]) < 0) ts[i] = 0;
    body[i] = cJSON_PrintUnformatted(e);
    r->json_bytes += strlen(body[i]);
    i++;
  }
  double t0 = lg_now(), c0 = lg_thread_cpu();
  int rc = sqlite3_step(r->begin);
  sqlite3_reset(r->begin);
  for (size_t k = 0; rc == SQLITE_DONE && k < n; k++) {
    sqlite3_bind_text(r->ins, 1, agent, -1, SQLITE_STATIC);
    sqlite3_bind_text(r->ins, 2, eid[k], -1, SQLITE_STATIC);
    sqlite3_bind_int64(r->ins, 3, ts[k]);
    sqlite3_bind_text(r->ins, 4, body[k], -1, SQLITE_STATIC);
    if (r->upkeep) {
      sqlite3_bind_text(r->ins, 5, wid[k], -1, SQLITE_STATIC);
      sqlite3_bind_text(r->ins, 6, sid[k] ? sid[k] : "", -1, SQLITE_STATIC);
    }
    rc = sqlite3_step(r->ins);
    sqlite3_reset(r->ins);
    if (rc == SQLITE_DONE && r->upkeep && sqlite3_changes(r->db) == 1 &&
        lg_ref_upkeep(r, wid[k], sid[k] ? sid[k] : "", ts[k]) < 0)
      rc = SQLITE_ERROR;
  }
  if (rc == SQLITE_DONE) rc = sqlite3_step(r->commit);
  sqlite3_reset(r->commit);
  r->secs += lg_now() - t0;
  r->cpu += lg_thread_cpu() - c0;
  r->rows += n;
  if (r->progress && r->rows / r->progress != (r->rows - n) / r->progress) {
    double rows = (double)(r->rows - r->p_rows), secs = r->secs - r->p_secs;
    printf("loadgen: reference at %zu rows: %.0f rows/s, %.1f us CPU/row since %zu\n", r->rows,
           secs > 0 ? rows / secs : 0, rows > 0 ? (r->cpu - r->p_cpu) / rows * 1e6 : 0, r->p_rows);
    fflush(stdout);
    r->p_rows = r->rows;
    r->p_secs = r->secs;
    r->p_cpu = r->cpu;
  }
  for (size_t k = 0; k < n; k++) cJSON_free(body[k]);
  free(body);
  free(eid);
  free(wid);
  free(sid);
  free(ts);
  cJSON_Delete(b);
  if (rc != SQLITE_DONE) {
    fprintf(stderr, "loadgen: reference insert: %s\n", sqlite3_errmsg(r->db));
    return -EIO;
  }
  return 0;
}

static const char *const lg_kinds[6] = {"working", "working",       "idle",
                                        "absent",  "product_count", "product_count"};

/* Build every agent's batches: agent a gets events a, a+A, a+2A, ... */
static int lg_build(const lg_opts *o, codec_t codec, int64_t t0_ms, lg_agent *agents, lg_ref *ref) {
  size_t per = o->events / o->agents, extra = o->events % o->agents;
  size_t cap = o->batch * 400 + 1024;
  char *buf = malloc(cap);
  if (!buf) return -ENOMEM;
  int64_t span = (int64_t)o->days * 86400000LL;
  int64_t ingested = t0_ms + span;
  char ing[TF_RFC3339_LEN];
  tf_format_ms(ingested, ing);
  for (size_t a = 0; a < o->agents; a++) {
    lg_agent *ag = &agents[a];
    snprintf(ag->id, sizeof(ag->id), "%s-%zu", o->prefix, a);
    size_t n = per + (a < extra);
    ag->n = (n + o->batch - 1) / o->batch;
    ag->b = calloc(ag->n ? ag->n : 1, sizeof(*ag->b));
    if (!ag->b) return -ENOMEM;
    char epoch[17];
    snprintf(epoch, sizeof(epoch), "%016" PRIx64, (uint64_t)0x1f00 + a);
    size_t seq = 0;
    for (size_t k = 0; k < ag->n; k++) {
      size_t cnt = n - seq < o->batch ? n - seq : o->batch;
      size_t len =
          (size_t)snprintf(buf, cap,
                           "{\"agent_id\":\"%s\",\"epoch\":\"%s\",\"sent_at\":\"%s\","
                           "\"stats\":{\"backlog\":%zu,\"oldest_pending_s\":1.5},\"dropped\":[],\"events\":[",
                           ag->id, epoch, ing, n - seq - cnt);
      size_t first = seq + 1;
      for (size_t i = 0; i < cnt; i++) {
        seq++;
        size_t global = seq * o->agents + a; /* unique over agents, increasing */
        char eid[64];
        if (strcmp(o->ids, "random") == 0) {
          uint64_t x = lg_rand(), y = lg_rand();
          snprintf(eid, sizeof(eid), "%08x-%04x-4%03x-%04x-%012" PRIx64, (unsigned)(x >> 32),
                   (unsigned)(x >> 16) & 0xffff, (unsigned)x & 0xfff, (unsigned)(0x8000 | (y >> 48 & 0x3fff)),
                   (uint64_t)(y & 0xffffffffffffULL));
        } else {
          snprintf(eid, sizeof(eid), "ev-%012zu", global);
        }
        int64_t ts = strcmp(o->ts, "random") == 0
                         ? t0_ms + (int64_t)(lg_rand() % (uint64_t)span)
                         : t0_ms + (int64_t)((double)global / (double)o->events * (double)span);
        char tss[TF_RFC3339_LEN];
        tf_format_ms(ts, tss);
        const char *kind = lg_kinds[lg_rand() % 6];
        int w = (int)(lg_rand() % (uint64_t)o->workers), s = (int)(lg_rand() % (uint64_t)o->stations);
        char cnts[24] = "", conf[8] = "0.93";
        if (kind[0] == 'p') snprintf(cnts, sizeof(cnts), ",\"count\":%d", 1 + (int)(lg_rand() % 3));
        const char *mv = "yolo-7.2";
        if (o->model_mix) {
          snprintf(conf, sizeof(conf), "%.3f", (double)(lg_rand() % 1000) / 1000.0);
          if (s % 2 == 0 && ts >= t0_ms + span / 2) mv = "yolo-7.3";
        }
        char model[96] = "";
        if (!o->no_models)
          snprintf(model, sizeof(model),
                   ",\"camera_id\":\"cam-%02d\",\"model_version\":\"%s\",\"confidence\":%s", s % 40, mv,
                   conf);
        int m = snprintf(
            buf + len, cap - len,
            "%s{\"event_id\":\"%s\",\"timestamp\":\"%s\",\"event_type\":\"%s\",\"worker_id\":\"W-%03d\","
            "\"workstation_id\":\"WS-%03d\"%s%s,\"seq\":%zu,\"ingested_at\":\"%s\"}",
            i ? "," : "", eid, tss, kind, w, s, cnts, model, seq, ing);
        if (m < 0 || (size_t)m >= cap - len) return -E2BIG;
        len += (size_t)m;
      }
      len += (size_t)snprintf(buf + len, cap - len, "]}");
      lg_batch *b = &ag->b[k];
      b->n = cnt;
      snprintf(b->key, sizeof(b->key), "Idempotency-Key: %s:%s:%zu-%zu", ag->id, epoch, first, seq);
      int r = ref ? lg_ref_batch(ref, ag->id, buf) : codec_compress(codec, buf, len, &b->body, &b->len);
      if (r < 0) return r;
    }
  }
  free(buf);
  return 0;
}

static lg_agent *lg_pick(lg_agent *agents, size_t n, size_t *rr) {
  for (size_t i = 0; i < n; i++) {
    lg_agent *a = &agents[(*rr + i) % n];
    if (!a->busy && a->next < a->n) {
      *rr = (*rr + i + 1) % n;
      return a;
    }
  }
  return NULL;
}

static void lg_start(CURLM *m, lg_conn *c, lg_agent *a, const char *ench) {
  c->agent = a;
  c->batch = &a->b[a->next];
  a->busy = true;
  c->rlen = 0;
  curl_slist_free_all(c->hdrs);
  c->hdrs = NULL;
  c->hdrs = curl_slist_append(c->hdrs, "Content-Type: application/json");
  c->hdrs = curl_slist_append(c->hdrs, c->batch->key);
  c->hdrs = curl_slist_append(c->hdrs, "User-Agent: ferry-agent/0.1.0");
  c->hdrs = curl_slist_append(c->hdrs, "Expect:");
  if (ench[0]) c->hdrs = curl_slist_append(c->hdrs, ench);
  curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->hdrs);
  curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, c->batch->body);
  curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->batch->len);
  curl_multi_add_handle(m, c->h);
}

static void lg_usage(void) {
  fprintf(stderr,
          "usage: ferry-loadgen --url URL --token T [--pid PID] [--events N] [--batch 1000] [--progress N]\n"
          "  [--conns 4] [--agents A] [--ids seq|random] [--ts inorder|random] [--days 30]\n"
          "  [--workers 500] [--stations 100] [--codec zstd|gzip|none] [--seed S] [--agent-prefix P]\n"
          "  [--model-mix] [--no-models]\n"
          "       ferry-loadgen --sqlite-ref DB [--ref-upkeep] [--ref-cache MIB] [the same options but\n"
          "         --url/--token/--pid]\n");
}

int main(int argc, char **argv) {
  lg_opts o = {.ids = "seq",
               .prefix = "lg-agent",
               .ts = "inorder",
               .codec_name = "zstd",
               .events = 1000000,
               .batch = 1000,
               .conns = 4,
               .days = 30,
               .workers = 500,
               .stations = 100};
  static const struct option longopts[] = {{"url", 1, 0, 'u'},          {"token", 1, 0, 't'},
                                           {"pid", 1, 0, 'p'},          {"events", 1, 0, 'n'},
                                           {"batch", 1, 0, 'b'},        {"conns", 1, 0, 'c'},
                                           {"agents", 1, 0, 'a'},       {"ids", 1, 0, 'i'},
                                           {"ts", 1, 0, 'T'},           {"days", 1, 0, 'd'},
                                           {"workers", 1, 0, 'w'},      {"stations", 1, 0, 's'},
                                           {"codec", 1, 0, 'z'},        {"seed", 1, 0, 'S'},
                                           {"sqlite-ref", 1, 0, 'R'},   {"progress", 1, 0, 'P'},
                                           {"agent-prefix", 1, 0, 'A'}, {"model-mix", 0, 0, 'M'},
                                           {"no-models", 0, 0, 'N'},    {"ref-upkeep", 0, 0, 'U'},
                                           {"ref-cache", 1, 0, 'C'},    {0, 0, 0, 0}};
  int ch;
  while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (ch) {
      case 'u': o.url = optarg; break;
      case 't': o.token = optarg; break;
      case 'p': o.pid = strtol(optarg, NULL, 10); break;
      case 'n': o.events = strtoull(optarg, NULL, 10); break;
      case 'b': o.batch = strtoull(optarg, NULL, 10); break;
      case 'c': o.conns = strtoull(optarg, NULL, 10); break;
      case 'a': o.agents = strtoull(optarg, NULL, 10); break;
      case 'i': o.ids = optarg; break;
      case 'T': o.ts = optarg; break;
      case 'd': o.days = atoi(optarg); break;
      case 'w': o.workers = atoi(optarg); break;
      case 's': o.stations = atoi(optarg); break;
      case 'z': o.codec_name = optarg; break;
      case 'R': o.ref = optarg; break;
      case 'A': o.prefix = optarg; break;
      case 'M': o.model_mix = true; break;
      case 'N': o.no_models = true; break;
      case 'U': o.ref_upkeep = true; break;
      case 'C': o.ref_cache_mib = strtol(optarg, NULL, 10); break;
      case 'P': o.progress = strtoull(optarg, NULL, 10); break;
      case 'S': lg_rng = strtoull(optarg, NULL, 10) * 2654435761ULL + 1; break;
      default: lg_usage(); return 2;
    }
  }
  if (!o.agents) o.agents = o.conns;
  codec_t codec;
  if ((!o.ref && (!o.url || !o.token)) || !o.events || !o.batch || !o.conns || o.days < 1 || o.workers < 1 ||
      o.stations < 1 || codec_from_option(o.codec_name, &codec) < 0 ||
      (strcmp(o.ids, "seq") && strcmp(o.ids, "random")) ||
      (strcmp(o.ts, "inorder") && strcmp(o.ts, "random"))) {
    lg_usage();
    return 2;
  }
  lg_agent *agents = calloc(o.agents, sizeof(*agents));
  lg_conn *conns = calloc(o.conns, sizeof(*conns));
  if (!agents || !conns) return 1;
  int64_t t0_ms = tf_now_ms() - (int64_t)o.days * 86400000LL - 3600000;
  if (o.ref) {
    lg_ref ref = {.upkeep = o.ref_upkeep, .cache_mib = o.ref_cache_mib, .progress = o.progress};
    int r = lg_ref_open(&ref, o.ref);
    if (r == 0) r = lg_build(&o, codec, t0_ms, agents, &ref);
    sqlite3_stmt *pc = NULL;
    long long pages = 0, psize = 0;
    if (sqlite3_prepare_v2(ref.db, "PRAGMA page_count", -1, &pc, NULL) == SQLITE_OK &&
        sqlite3_step(pc) == SQLITE_ROW)
      pages = sqlite3_column_int64(pc, 0);
    sqlite3_finalize(pc);
    if (sqlite3_prepare_v2(ref.db, "PRAGMA page_size", -1, &pc, NULL) == SQLITE_OK &&
        sqlite3_step(pc) == SQLITE_ROW)
      psize = sqlite3_column_int64(pc, 0);
    sqlite3_finalize(pc);
    sqlite3_finalize(ref.ins);
    sqlite3_stmt *up[5] = {ref.prev, ref.next, ref.near, ref.wh, ref.sh};
    for (int k = 0; k < 5; k++) sqlite3_finalize(up[k]);
    sqlite3_finalize(ref.begin);
    sqlite3_finalize(ref.commit);
    sqlite3_close(ref.db);
    if (r < 0) return 1;
    double rows = (double)(ref.rows ? ref.rows : 1);
    printf("loadgen: raw SQLite reference%s, ids=%s ts=%s: %zu rows in %.2f s: %.0f rows/s, %.1f us CPU/row;"
           " JSON %.0f bytes/event, database %.0f bytes/event\n",
           o.ref_upkeep ? " with the least rollup upkeep" : "", o.ids, o.ts, ref.rows, ref.secs,
           rows / ref.secs, ref.cpu / rows * 1e6, (double)ref.json_bytes / rows,
           (double)(pages * psize) / rows);
    if (o.ref_upkeep)
      printf("loadgen: upkeep read %.1f events within 600 s at the same workstation per new event\n",
             (double)ref.near_rows / rows);
    return 0;
  }
  double tb = lg_now();
  int r = lg_build(&o, codec, t0_ms, agents, NULL);
  if (r < 0) {
    fprintf(stderr, "loadgen: building batches: %s\n", strerror(-r));
    return 1;
  }
  size_t bytes = 0;
  for (size_t a = 0; a < o.agents; a++)
    for (size_t k = 0; k < agents[a].n; k++) bytes += agents[a].b[k].len;
  fprintf(stderr, "loadgen: %zu events in batches of %zu built in %.1f s (%.1f MiB %s)\n", o.events, o.batch,
          lg_now() - tb, (double)bytes / 1048576.0, o.codec_name);

  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURLM *m = curl_multi_init();
  char url[512], auth[300];
  snprintf(url, sizeof(url), "%s/v1/ingest", o.url);
  snprintf(auth, sizeof(auth), "Bearer %s", o.token);
  const char *enc = codec == CODEC_IDENTITY ? NULL : codec_name(codec);
  for (size_t i = 0; i < o.conns; i++) {
    lg_conn *c = &conns[i];
    c->h = curl_easy_init();
    curl_easy_setopt(c->h, CURLOPT_URL, url);
    curl_easy_setopt(c->h, CURLOPT_XOAUTH2_BEARER, o.token);
    curl_easy_setopt(c->h, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, lg_write);
    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->h, CURLOPT_PRIVATE, c);
    curl_easy_setopt(c->h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c->h, CURLOPT_TIMEOUT, 120L);
  }
  /* Content-Encoding goes in each request's headers */
  char ench[64] = "";
  if (enc) snprintf(ench, sizeof(ench), "Content-Encoding: %s", enc);

  double cpu0 = o.pid ? lg_cpu(o.pid) : -1;
  double t0 = lg_now();
  size_t rr = 0, running = 0, accepted = 0, dups = 0, retries = 0, requests = 0;
  double lat_max = 0, lat_sum = 0;
  size_t p_done = 0; /* --progress: the figures of each interval */
  double p_t = t0, p_cpu = cpu0;
  for (size_t i = 0; i < o.conns; i++) {
    lg_agent *a = lg_pick(agents, o.agents, &rr);
    if (!a) break;
    lg_start(m, &conns[i], a, ench);
    conns[i].t0 = lg_now();
    running++;
  }
  int fail = 0;
  while (running && !fail) {
    int still;
    curl_multi_perform(m, &still);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left))) {
      if (msg->msg != CURLMSG_DONE) continue;
      lg_conn *c;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
      long code = 0;
      curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &code);
      CURLcode cr = msg->data.result;
      curl_multi_remove_handle(m, c->h);
      double lat = lg_now() - c->t0;
      requests++;
      if (cr != CURLE_OK || (code != 200 && code != 503)) {
        fprintf(stderr, "loadgen: %s: HTTP %ld %s %.200s\n", c->batch->key, code,
                cr != CURLE_OK ? curl_easy_strerror(cr) : "", c->resp ? c->resp : "");
        fail = 1;
        break;
      }
      if (code == 503) {
        retries++;
        usleep(50000);
      } else {
        cJSON *j = cJSON_Parse(c->resp);
        const cJSON *ac = cJSON_GetObjectItemCaseSensitive(j, "accepted");
        const cJSON *du = cJSON_GetObjectItemCaseSensitive(j, "duplicates");
        accepted += cJSON_IsNumber(ac) ? (size_t)ac->valuedouble : 0;
        dups += cJSON_IsNumber(du) ? (size_t)du->valuedouble : 0;
        cJSON_Delete(j);
        c->agent->next++;
        if (o.progress && (accepted + dups) / o.progress != p_done / o.progress) {
          double now = lg_now(), cpu = o.pid ? lg_cpu(o.pid) : -1;
          size_t d = accepted + dups - p_done;
          printf(
              "loadgen: at %zu events: last %zu at %.0f events/s, %.1f us/event collector CPU, RSS %ld KiB\n",
              accepted + dups, d, (double)d / (now - p_t), (cpu - p_cpu) / (double)d * 1e6,
              o.pid ? lg_status_kib(o.pid, "VmRSS") : -1L);
          fflush(stdout);
          p_done = accepted + dups;
          p_t = now;
          p_cpu = cpu;
        }
        lat_sum += lat;
        if (lat > lat_max) lat_max = lat;
      }
      c->agent->busy = false;
      running--;
      lg_agent *a = code == 503 ? c->agent : lg_pick(agents, o.agents, &rr);
      if (a && (code == 503 || a->next < a->n)) {
        lg_start(m, c, a, ench);
        c->t0 = lg_now();
        running++;
      }
    }
    if (running) curl_multi_poll(m, NULL, 0, 100, NULL);
  }
  double el = lg_now() - t0;
  double cpu1 = o.pid ? lg_cpu(o.pid) : -1;
  size_t ok = requests - retries;
  printf("loadgen: events=%zu batch=%zu conns=%zu agents=%zu ids=%s ts=%s codec=%s\n", o.events, o.batch,
         o.conns, o.agents, o.ids, o.ts, o.codec_name);
  printf("loadgen: accepted %zu duplicates %zu in %.2f s: %.0f events/s; %zu batches, %zu retried (503),"
         " batch latency mean %.1f ms max %.1f ms\n",
         accepted, dups, el, (double)(accepted + dups) / el, ok, retries,
         ok ? lat_sum / (double)ok * 1000 : 0, lat_max * 1000);
  if (o.pid && cpu0 >= 0 && cpu1 >= 0)
    printf("loadgen: collector CPU %.2f s (%.1f us/event, %.2f cores busy); RSS %ld KiB, peak %ld KiB\n",
           cpu1 - cpu0, (cpu1 - cpu0) / (double)(accepted + dups ? accepted + dups : 1) * 1e6,
           (cpu1 - cpu0) / el, lg_status_kib(o.pid, "VmRSS"), lg_status_kib(o.pid, "VmHWM"));
  for (size_t i = 0; i < o.conns; i++) {
    curl_easy_cleanup(conns[i].h);
    curl_slist_free_all(conns[i].hdrs);
    free(conns[i].resp);
  }
  curl_multi_cleanup(m);
  curl_global_cleanup();
  for (size_t a = 0; a < o.agents; a++) {
    for (size_t k = 0; k < agents[a].n; k++) free(agents[a].b[k].body);
    free(agents[a].b);
  }
  free(agents);
  free(conns);
  return fail || accepted + dups != o.events ? 1 : 0;
}
