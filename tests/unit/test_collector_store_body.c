/* test_collector_store_body: the SQLite store keeps bodies packed (ss_body.h)
 * and must give back exactly the normal form it was given. Packing and
 * unpacking round-trip on varied events and on bodies built to confuse a
 * textual substitution; the store's export returns, for events stored
 * through the ingest path, the normal form byte for byte, and its
 * camera_id / model_version / max_confidence filters pick exactly the
 * events a reading of the normal form picks; replays are duplicates without
 * conflict, and a changed body is a conflict. A typical event's stored body
 * is a small fraction of its normal form. */
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "store_harness.h"
#include "batch.h"
#include "check.h"
#include "json_arena.h"
#include "models.h"
#include "ss_body.h"
#include "store.h"
#include "varied_events.h"

static const bt_limits lim = {VARIED_NOW_MS, 300, 0};

static ss_body_cols cols_of(const bt_event *e) {
  return (ss_body_cols){.event_id = e->ev.event_id,
                        .ts_ms = e->ev.ts_ms,
                        .event_type = ev_type_name(e->ev.type),
                        .worker_id = e->ev.worker_id,
                        .workstation_id = e->ev.workstation_id,
                        .count = e->ev.count,
                        .camera_id = e->camera_id,
                        .model_version = e->model_version,
                        .has_micro = e->has_conf,
                        .micro = e->has_conf ? models_micro(e->confidence) : 0};
}

static void round_trip(const char *body, size_t len, const ss_body_cols *c, size_t *ret_packed) {
  strbuf p, u;
  sb_init(&p, 1 << 20);
  sb_init(&u, 1 << 20);
  CHECK_EQ_INT(ss_body_pack(&p, body, len, c), 0);
  CHECK_EQ_INT(ss_body_unpack(&u, p.p ? p.p : "", p.len, c), 0);
  CHECK_EQ_INT(u.len, len);
  CHECK(u.len == len && memcmp(u.p, body, len) == 0);
  if (ret_packed) *ret_packed = p.len;
  sb_clear(&p);
  sb_clear(&u);
}

static void unit_cases(void) {
  bt_batch b;
  char err[300];
  CHECK_EQ_INT(bt_parse(varied_batch, strlen(varied_batch), &lim, &b, err, sizeof(err)), 0);
  CHECK_EQ_INT(b.n, VARIED_N);
  for (size_t i = 0; i < b.n; i++) {
    CHECK(b.events[i].valid);
    if (!b.events[i].valid) {
      fprintf(stderr, "event %zu: %s\n", i, b.events[i].error);
      continue;
    }
    ss_body_cols c = cols_of(&b.events[i]);
    size_t packed = 0;
    round_trip(b.events[i].ev.json, b.events[i].ev.json_len, &c, &packed);
    if (i == 0) CHECK(packed * 8 < b.events[i].ev.json_len); /* every member but the braces */
    /* columns that do not match the body (another event's) leave it intact */
    ss_body_cols other = cols_of(&b.events[(i + 1) % b.n]);
    round_trip(b.events[i].ev.json, b.events[i].ev.json_len, &other, NULL);
  }
  bt_batch_clear(&b);

  /* bodies built to trip a substitution: a value that is a prefix of
   * another, look-alike members in nested objects, a member split by an
   * escape, markers' bytes as escapes, a body not in normal form */
  ss_body_cols c = {.event_id = "e1",
                    .ts_ms = 1772348400000LL,
                    .event_type = "working",
                    .worker_id = "w\"1",
                    .workstation_id = "s1",
                    .count = 1,
                    .camera_id = "c",
                    .model_version = "m",
                    .has_micro = true,
                    .micro = 100000};
  static const char *const bodies[] = {
      "{\"count\":12,\"confidence\":0.10000001,\"event_id\":\"e10\"}",
      "{\"a\":{\"event_id\":\"e1\",\"count\":1},\"event_id\":\"e1\",\"count\":1,\"confidence\":0.1}",
      "{\"worker_id\":\"w\\\"1\",\"camera_id\":\"c\",\"model_version\":\"m\"}",
      "{\"x\":\"\\u0001\\u0002\\u000f\",\"event_id\":\"e1\",\"timestamp\":\"2026-03-01T07:00:00.000Z\"}",
      "{\"event_type\":\"working\",\"event_type2\":\"working\",\"workstation_id\":\"s1\"}",
      "{\"event_id\":\"e1\",\x01\"raw\":\"\x0f\"}",
      "\x0f{\"event_id\":\"e1\"}",
      "{}",
      "",
  };
  for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
    round_trip(bodies[i], strlen(bodies[i]), &c, NULL);

  /* a confidence as cJSON prints it is packed (the rebuilt text is that
   * text) for every millionth: all below 0.002, then a stride */
  size_t missed = 0;
  for (int64_t micro = 0; micro <= 1000000; micro += micro < 2000 ? 1 : 7) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "confidence", (double)micro / 1e6);
    char *text = cJSON_PrintUnformatted(o);
    ss_body_cols cc = {.has_micro = true, .micro = micro};
    size_t packed = 0;
    round_trip(text, strlen(text), &cc, &packed);
    missed += packed != 4; /* tag, '{', marker, '}' */
    free(text);
    cJSON_Delete(o);
  }
  CHECK_EQ_INT(missed, 0);
}

/* ---- through the store --------------------------------------------------- */

typedef struct exported {
  char ids[64][130];
  char *bodies[64];
  size_t lens[64];
  size_t n;
} exported;

static int on_row(void *ctx, const st_export_key *k, const char *body, size_t len) {
  exported *x = ctx;
  if (x->n >= 64) return -E2BIG;
  snprintf(x->ids[x->n], sizeof(x->ids[0]), "%s", k->event_id);
  x->bodies[x->n] = malloc(len + 1);
  memcpy(x->bodies[x->n], body, len);
  x->lens[x->n] = len;
  x->n++;
  return 0;
}

static int between(void *ctx, const st_export_query *q) {
  (void)ctx;
  (void)q;
  return 0;
}

static void exported_clear(exported *x) {
  for (size_t i = 0; i < x->n; i++) free(x->bodies[i]);
  x->n = 0;
}

static int ingest(store *s, const char *body, st_result *res) {
  return sh_ingest(s, body, &lim, VARIED_NOW_MS, res);
}

/* Which events of the batch a filter should pick, read from their normal
 * forms; then the export with that filter must return exactly those, with
 * their normal forms. */
static void check_filter(store *s, const bt_batch *b, const char *camera, const char *model, bool has_max,
                         double max) {
  st_export_query q = {.from_ms = VARIED_NOW_MS - 3 * 3600000LL,
                       .to_ms = VARIED_NOW_MS,
                       .camera_id = camera,
                       .model_version = model,
                       .has_max_conf = has_max,
                       .max_conf = max,
                       .limit = 1000};
  exported x = {0};
  CHECK_EQ_INT(s->ops->export_events(s, &q, between, on_row, &x), 0);
  size_t want = 0;
  for (size_t i = 0; i < b->n; i++) {
    const bt_event *e = &b->events[i];
    cJSON *o = cJSON_Parse(e->ev.json);
    const cJSON *cam = cJSON_GetObjectItemCaseSensitive(o, "camera_id");
    const cJSON *mv = cJSON_GetObjectItemCaseSensitive(o, "model_version");
    const cJSON *cf = cJSON_GetObjectItemCaseSensitive(o, "confidence");
    bool pick = (!camera || (cJSON_IsString(cam) && strcmp(cam->valuestring, camera) == 0)) &&
                (!model || (cJSON_IsString(mv) && strcmp(mv->valuestring, model) == 0)) &&
                (!has_max || (cJSON_IsNumber(cf) && cf->valuedouble <= max));
    cJSON_Delete(o);
    if (!pick) continue;
    want++;
    bool found = false;
    for (size_t j = 0; j < x.n; j++)
      if (strcmp(x.ids[j], e->ev.event_id) == 0) {
        found = true;
        CHECK(x.lens[j] == e->ev.json_len && memcmp(x.bodies[j], e->ev.json, x.lens[j]) == 0);
        if (x.lens[j] != e->ev.json_len || memcmp(x.bodies[j], e->ev.json, x.lens[j]) != 0)
          fprintf(stderr, "exported %.*s\nstored   %s\n", (int)x.lens[j], x.bodies[j], e->ev.json);
      }
    CHECK(found);
  }
  CHECK_EQ_INT(x.n, want);
  exported_clear(&x);
}

static void through_store(const char *dir) {
  char path[300];
  snprintf(path, sizeof(path), "%s/body.db", dir);
  store *s = NULL;
  char err[300] = "";
  CHECK_EQ_INT(store_sqlite_open(path, 600000, &s, err, sizeof(err)), 0);
  if (!s) {
    fprintf(stderr, "open: %s\n", err);
    return;
  }
  st_result res;
  CHECK_EQ_INT(ingest(s, varied_batch, &res), 0);
  CHECK_EQ_INT(res.accepted, VARIED_N);
  st_result_clear(&res);

  bt_batch b;
  CHECK_EQ_INT(bt_parse(varied_batch, strlen(varied_batch), &lim, &b, err, sizeof(err)), 0);
  check_filter(s, &b, NULL, NULL, false, 0);
  check_filter(s, &b, "cam-1", NULL, false, 0);
  check_filter(s, &b, "cam-2", "m-2", false, 0);
  check_filter(s, &b, "cam/\"x\"", "v\\1", false, 0);
  check_filter(s, &b, NULL, "yolo-7.2", false, 0);
  check_filter(s, &b, NULL, NULL, true, 0.5);
  check_filter(s, &b, NULL, NULL, true, 0.123456789);
  check_filter(s, &b, NULL, NULL, true, 0.1);
  check_filter(s, &b, NULL, NULL, true, 0);
  check_filter(s, &b, "cam-1", NULL, true, 0.9);
  size_t total = 0;
  for (size_t i = 0; i < b.n; i++) total += b.events[i].ev.json_len;
  bt_batch_clear(&b);

  /* the same batch again: all duplicates, no conflict (the stored content
   * hash is the one of the normal form) */
  CHECK_EQ_INT(ingest(s, varied_batch, &res), 0);
  CHECK_EQ_INT(res.accepted, 0);
  CHECK_EQ_INT(res.duplicates, VARIED_N);
  CHECK_EQ_INT(res.conflicts, 0);
  st_result_clear(&res);
  /* one event changed: a conflict, still a duplicate, the first copy kept */
  static const char changed[] =
      "{\"agent_id\":\"agent-v\",\"epoch\":\"00000000000000a2\",\"events\":["
      "{\"event_id\":\"ev-000001\",\"timestamp\":\"2026-03-01T07:10:00.250Z\",\"event_type\":\"working\","
      "\"worker_id\":\"W-001\",\"workstation_id\":\"WS-001\",\"camera_id\":\"cam-1\","
      "\"model_version\":\"yolo-7.2\",\"confidence\":0.92,\"seq\":1,\"ingested_at\":\"2026-03-01T07:59:00Z\"}"
      "]}";
  CHECK_EQ_INT(ingest(s, changed, &res), 0);
  CHECK_EQ_INT(res.duplicates, 1);
  CHECK_EQ_INT(res.conflicts, 1);
  st_result_clear(&res);
  s->ops->close(s);

  /* what is on disk: one stream, every body packed, a fraction of the normal forms */
  sqlite3 *db = NULL;
  CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_stmt *st = NULL;
  CHECK_EQ_INT(
      sqlite3_prepare_v2(db,
                         "SELECT (SELECT count(*) FROM streams), count(*), sum(substr(body, 1, 1) = x'0f'),"
                         " sum(length(body)) FROM events",
                         -1, &st, NULL),
      SQLITE_OK);
  CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
  CHECK_EQ_INT(sqlite3_column_int(st, 0), 1);
  CHECK_EQ_INT(sqlite3_column_int(st, 1), VARIED_N);
  CHECK_EQ_INT(sqlite3_column_int(st, 2), VARIED_N);
  CHECK((size_t)sqlite3_column_int(st, 3) * 4 < total); /* the attributes stay whole */
  sqlite3_finalize(st);
  sqlite3_close(db);
}

int main(void) {
  ja_install(); /* batch trees in JSON arenas, as the collector runs them */
  unit_cases();
  char dir[] = "/tmp/ferry-test-body-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  through_store(dir);
  char cmd[400];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  CHECK_EQ_INT(system(cmd), 0);
  return check_finish("test_collector_store_body");
}
