/* journal_harness: see journal_harness.h. One copy of the helpers the
 * journal tests had three of. */
#define _GNU_SOURCE
#include "journal_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int jh_done;

void jh_on_commit(journal_commit *c) {
  (void)c;
  jh_done++;
}
void jh_on_batch(journal_batch *b) {
  (void)b;
  jh_done++;
}
void jh_on_ack(journal_ack *a) {
  (void)a;
  jh_done++;
}
void jh_on_dl(journal_dl *d) {
  (void)d;
  jh_done++;
}

void jh_wait_done(uv_loop_t *loop, int want) {
  while (jh_done < want) uv_run(loop, UV_RUN_ONCE);
}

int jh_mkdtemp(char *out, size_t n, const char *name) {
  snprintf(out, n, "/tmp/ferry-%s-XXXXXX", name);
  if (mkdtemp(out)) return 0;
  perror("mkdtemp");
  return -1;
}

void jh_rmtree(const char *dir) {
  if (getenv("FERRY_KEEP_TMP")) return;
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

void jh_new_path(const char *tmpdir, int *case_no, char *out, size_t n) {
  char dir[300];
  snprintf(dir, sizeof(dir), "%s/c%d", tmpdir, ++*case_no);
  mkdir(dir, 0700);
  snprintf(out, n, "%s/journal.db", dir);
}

journal_opts jh_opts(const char *path, const char *agent_id, const char *machine_id) {
  journal_opts o = {0};
  o.path = path;
  o.agent_id = agent_id;
  o.machine_id = machine_id;
  o.durability_fsync = false;
  o.max_journal_bytes = 64 << 20;
  o.max_wal_bytes = 8 << 20;
  o.max_dead_letter_bytes = 1 << 20;
  return o;
}

journal *jh_open(uv_loop_t *loop, const journal_opts *o) {
  journal *j = NULL;
  char err[256] = "";
  int r = journal_open(loop, o, &j, err, sizeof(err));
  if (r != 0) {
    fprintf(stderr, "journal_open: %d %s\n", r, err);
    return NULL;
  }
  return j;
}

void jh_close(uv_loop_t *loop, journal *j) {
  journal_close(j);
  uv_run(loop, UV_RUN_DEFAULT); /* runs the close callback */
}

ev_event *jh_make_events(size_t n, const char *id_fmt, int id_base, size_t pad) {
  ev_event *evs = calloc(n ? n : 1, sizeof(ev_event));
  if (!evs) abort();
  for (size_t i = 0; i < n; i++) {
    char id[64] = "";
    if (id_fmt) {
      snprintf(id, sizeof(id), "%s%d", id_fmt, id_base + (int)i);
      evs[i].event_id = strdup(id);
    }
    char note[64] = "";
    char *padding = NULL;
    if (pad != JH_NO_NOTE) {
      padding = malloc(pad + 1);
      if (!padding) abort();
      memset(padding, 'p', pad);
      padding[pad] = '\0';
      snprintf(note, sizeof(note), ",\"note\":\"");
    }
    char *json = NULL;
    int rc;
    if (id_fmt)
      rc = asprintf(&json,
                    "{\"event_id\":\"%s\",\"timestamp\":\"2026-03-01T08:00:00.000Z\","
                    "\"event_type\":\"working\",\"worker_id\":\"w1\",\"workstation_id\":\"s1\"%s%s%s}",
                    id, note, padding ? padding : "", padding ? "\"" : "");
    else
      rc = asprintf(&json,
                    "{\"timestamp\":\"2026-03-01T08:00:00.000Z\",\"event_type\":\"idle\","
                    "\"worker_id\":\"w2\",\"workstation_id\":\"s2\"%s%s%s}",
                    note, padding ? padding : "", padding ? "\"" : "");
    free(padding);
    if (rc < 0) abort();
    evs[i].json = json;
    evs[i].json_len = strlen(json);
    evs[i].type = id_fmt ? EV_WORKING : EV_IDLE;
  }
  return evs;
}

void jh_free_events(ev_event *evs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(evs[i].event_id);
    free(evs[i].json);
  }
  free(evs);
}

journal_stats jh_stats(journal *j) {
  journal_stats s;
  journal_get_stats(j, &s);
  return s;
}

long jh_status_kib(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  size_t kl = strlen(key);
  while (f && fgets(line, sizeof(line), f))
    if (strncmp(line, key, kl) == 0 && line[kl] == ':') v = strtol(line + kl + 1, NULL, 10);
  if (f) fclose(f);
  return v;
}
