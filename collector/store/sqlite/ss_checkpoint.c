/* ss_checkpoint: see ss_checkpoint.h. */
#include "ss_checkpoint.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "thread_name.h"

struct ss_ckpt {
  sqlite3 *db; /* the thread's own connection */
  uv_thread_t thread;
  uv_mutex_t mu;
  uv_cond_t cv;
  bool want, busy, stop; /* under mu */
};

static void ss__ckpt_thread(void *arg) {
  ss_ckpt *c = arg;
  thread_name_set("checkpoint");
  uv_mutex_lock(&c->mu);
  for (;;) {
    while (!c->want && !c->stop) uv_cond_wait(&c->cv, &c->mu);
    if (c->stop) break;
    c->want = false;
    c->busy = true;
    uv_mutex_unlock(&c->mu);
    /* PASSIVE: never waits for the writer or readers; whatever it cannot copy
     * now is copied by the next one (or by the writer at SS_CKPT_HARD) */
    (void)sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    uv_mutex_lock(&c->mu);
    c->busy = false;
  }
  uv_mutex_unlock(&c->mu);
}

/* The writer's WAL hook, after each commit (writer thread). */
static int ss__wal_hook(void *arg, sqlite3 *db, const char *name, int frames) {
  ss_ckpt *c = arg;
  if (frames >= SS_CKPT_HARD) {
    (void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
  }
  if (frames >= SS_CKPT_SOFT) {
    uv_mutex_lock(&c->mu);
    if (!c->busy && !c->want) {
      c->want = true;
      uv_cond_signal(&c->cv);
    }
    uv_mutex_unlock(&c->mu);
  }
  return SQLITE_OK;
}

int ss_ckpt_start(const char *path, sqlite3 *wdb, ss_ckpt **ret, char *err, size_t errlen) {
  ss_ckpt *c = calloc(1, sizeof(*c));
  if (!c) return -ENOMEM;
  int rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK || sqlite3_exec(c->db, "PRAGMA synchronous=FULL; PRAGMA cache_size=-1024;", NULL, NULL,
                                      NULL) != SQLITE_OK) {
    snprintf(err, errlen, "open %s for checkpoints: %s", path,
             c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
    sqlite3_close(c->db);
    free(c);
    return -EIO;
  }
  sqlite3_busy_timeout(c->db, 0);
  int r = uv_mutex_init(&c->mu);
  if (r == 0 && (r = uv_cond_init(&c->cv)) < 0) uv_mutex_destroy(&c->mu);
  if (r == 0 && (r = uv_thread_create(&c->thread, ss__ckpt_thread, c)) < 0) {
    uv_cond_destroy(&c->cv);
    uv_mutex_destroy(&c->mu);
  }
  if (r < 0) {
    snprintf(err, errlen, "start the checkpoint thread: %s", uv_strerror(r));
    sqlite3_close(c->db);
    free(c);
    return r;
  }
  sqlite3_wal_hook(wdb, ss__wal_hook, c);
  *ret = c;
  return 0;
}

void ss_ckpt_stop(ss_ckpt *c, sqlite3 *wdb) {
  if (!c) return;
  if (wdb) sqlite3_wal_autocheckpoint(wdb, 1000); /* SQLite's default hook again */
  uv_mutex_lock(&c->mu);
  c->stop = true;
  uv_cond_signal(&c->cv);
  uv_mutex_unlock(&c->mu);
  uv_thread_join(&c->thread);
  uv_cond_destroy(&c->cv);
  uv_mutex_destroy(&c->mu);
  sqlite3_close(c->db);
  free(c);
}
