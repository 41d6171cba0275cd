/* test_agent_journal_body: a source event whose event_id is its first member
 * is stored without that member (the event_id column holds it, journal_body.c)
 * and comes out whole: in the upload body, byte for byte the normal form with
 * seq and ingested_at appended, and in the dead-letter export. Events with
 * the id elsewhere, with an agent-assigned id, or with the id as their only
 * member take their own paths; the journal is schema 3. */
#define _GNU_SOURCE
#include "check.h"
#include "codec.h"
#include "journal.h"
#include "journal_harness.h"

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uv_loop_t loop;
static char tmpdir[256];
static int case_no;

/* Commit one request and wait; returns status, fills accepted. */
static int commit(journal *j, ev_event *evs, size_t n, size_t *acc) {
  journal_commit c;
  memset(&c, 0, sizeof(c));
  c.events = evs;
  c.n = n;
  c.done = jh_on_commit;
  jh_done = 0;
  int r = journal_submit(j, &c);
  CHECK_EQ_INT(r, 0);
  if (r) return r;
  jh_wait_done(&loop, 1);
  *acc = c.accepted;
  return c.status;
}

static void read_batch(journal *j, journal_batch *b) {
  memset(b, 0, sizeof(*b));
  b->max_events = 100;
  b->max_bytes = 1 << 20;
  b->codec = CODEC_IDENTITY;
  b->done = jh_on_batch;
  jh_done = 0;
  CHECK_EQ_INT(journal_read_batch(j, b), 0);
  jh_wait_done(&loop, 1);
  CHECK_EQ_INT(b->status, 0);
}

static int ack(journal *j, const journal_batch *b, journal_rejected *rej, size_t nrej) {
  journal_ack a;
  memset(&a, 0, sizeof(a));
  a.batch = b;
  a.rejected = rej;
  a.n_rejected = nrej;
  a.done = jh_on_ack;
  jh_done = 0;
  CHECK_EQ_INT(journal_apply_ack(j, &a), 0);
  jh_wait_done(&loop, 1);
  return a.status;
}

static void dead_letter(journal *j, journal_dl *d, journal_dl_kind kind) {
  memset(d, 0, sizeof(*d));
  d->kind = kind;
  d->out_fd = -1;
  d->done = jh_on_dl;
  jh_done = 0;
  CHECK_EQ_INT(journal_dead_letter(j, d), 0);
  jh_wait_done(&loop, 1);
}

static const char *const bodies[] = {
    /* id first: stored from the ',' on */
    "{\"event_id\":\"a-1\",\"timestamp\":\"2026-03-01T08:00:00.000Z\",\"event_type\":\"working\","
    "\"worker_id\":\"w1\",\"workstation_id\":\"s1\",\"attributes\":{\"event_id\":\"a-1\"}}",
    /* id elsewhere: stored whole */
    "{\"timestamp\":\"2026-03-01T08:00:00.000Z\",\"event_id\":\"b-1\",\"event_type\":\"idle\","
    "\"worker_id\":\"w1\",\"workstation_id\":\"s1\"}",
    /* no source id: stored whole, the agent's id appended on upload */
    "{\"timestamp\":\"2026-03-01T08:00:00.000Z\",\"event_type\":\"absent\",\"worker_id\":\"w1\","
    "\"workstation_id\":\"s1\"}",
    /* the id as the only member (never a valid event; the journal does not judge) */
    "{\"event_id\":\"d-1\"}",
    /* a prefix that only looks like the id */
    "{\"event_id\":\"e-10\",\"timestamp\":\"2026-03-01T08:00:00.000Z\"}",
};
static const char *const ids[] = {"a-1", "b-1", NULL, "d-1", "e-1"};
#define N (sizeof bodies / sizeof *bodies)

static void test_round_trip(void) {
  char path[400];
  jh_new_path(tmpdir, &case_no, path, sizeof(path));
  journal_opts o = jh_opts(path, "agent-1", "machine-1");
  journal *j = jh_open(&loop, &o);
  CHECK(j != NULL);
  if (!j) return;
  ev_event evs[N];
  memset(evs, 0, sizeof evs);
  for (size_t i = 0; i < N; i++) {
    evs[i].event_id = ids[i] ? strdup(ids[i]) : NULL;
    evs[i].json = strdup(bodies[i]);
    evs[i].json_len = strlen(bodies[i]);
  }
  size_t acc = 0;
  CHECK_EQ_INT(commit(j, evs, N, &acc), 0);
  CHECK_EQ_INT(acc, N);

  /* stored forms, read back with SQLite itself */
  sqlite3 *db = NULL;
  CHECK_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_stmt *st = NULL;
  CHECK_EQ_INT(sqlite3_prepare_v2(db, "SELECT body FROM events ORDER BY seq", -1, &st, NULL), SQLITE_OK);
  static const char first[N] = {',', '{', '{', '}', '{'};
  static const int cut[N] = {17, 0, 0, 17, 0};
  for (size_t i = 0; i < N; i++) {
    CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
    const char *b = (const char *)sqlite3_column_blob(st, 0);
    CHECK(b && b[0] == first[i]);
    CHECK_EQ_INT(sqlite3_column_bytes(st, 0), (int)strlen(bodies[i]) - cut[i]);
  }
  sqlite3_finalize(st);
  CHECK_EQ_INT(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
  CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
  CHECK_EQ_INT(sqlite3_column_int(st, 0), 3);
  sqlite3_finalize(st);
  sqlite3_close(db);

  /* the upload body: each event is its normal form with seq and ingested_at
   * (and the agent's id for the event without one) appended */
  journal_batch bt;
  read_batch(j, &bt);
  CHECK_EQ_INT(bt.n_events, N);
  char *txt = strndup(bt.body, bt.body_len);
  const char *p = strstr(txt, "\"events\":[");
  CHECK(p != NULL);
  if (p) p += 10;
  for (size_t i = 0; p && i < N; i++) {
    size_t bl = strlen(bodies[i]) - 1; /* without its '}' */
    CHECK(strncmp(p, bodies[i], bl) == 0);
    if (strncmp(p, bodies[i], bl) != 0) fprintf(stderr, "event %zu: %.200s\n", i, p);
    const char *tail = ids[i] ? ",\"seq\":" : ",\"event_id\":\"ferry:";
    CHECK(strncmp(p + bl, tail, strlen(tail)) == 0);
    p = strstr(p + bl, "\"}");
    if (p) p += 2;
    if (p && *p == ',') p++;
  }
  free(txt);

  /* dead-letter: rejected events are exported whole */
  journal_rejected rej[2] = {{.seq = 1}, {.seq = 4}};
  snprintf(rej[0].error, sizeof rej[0].error, "rejected for the test");
  snprintf(rej[1].error, sizeof rej[1].error, "rejected for the test");
  CHECK_EQ_INT(ack(j, &bt, rej, 2), 0);
  journal_batch_clear(&bt);
  journal_dl d;
  dead_letter(j, &d, JOURNAL_DL_EXPORT);
  CHECK_EQ_INT(d.status, 0);
  CHECK_EQ_INT(d.count, 2);
  char *line = d.out;
  for (int k = 0; k < 2 && line; k++) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    cJSON *obj = cJSON_Parse(line);
    CHECK(obj != NULL);
    char *ev = obj ? cJSON_PrintUnformatted(cJSON_GetObjectItem(obj, "event")) : NULL;
    CHECK(ev != NULL);
    if (ev) CHECK_EQ_STR(ev, bodies[k == 0 ? 0 : 3]);
    free(ev);
    cJSON_Delete(obj);
    line = nl ? nl + 1 : NULL;
  }
  free(d.out);
  /* requeued, they are stored as they were and upload whole again */
  dead_letter(j, &d, JOURNAL_DL_REQUEUE);
  CHECK_EQ_INT(d.count, 2);
  read_batch(j, &bt);
  CHECK_EQ_INT(bt.n_events, 2);
  txt = strndup(bt.body, bt.body_len);
  CHECK(strstr(txt, "\"events\":[{\"event_id\":\"a-1\",\"timestamp\"") != NULL);
  CHECK(strstr(txt, "{\"event_id\":\"d-1\",\"seq\":") != NULL);
  free(txt);
  journal_batch_clear(&bt);
  for (size_t i = 0; i < N; i++) {
    free(evs[i].event_id);
    free(evs[i].json);
  }
  jh_close(&loop, j);
}

int main(void) {
  if (jh_mkdtemp(tmpdir, sizeof(tmpdir), "jbody") < 0) return 1;
  uv_loop_init(&loop);
  test_round_trip();
  uv_loop_close(&loop);
  jh_rmtree(tmpdir);
  return check_finish("test_agent_journal_body");
}
