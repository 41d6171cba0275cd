/* test_agent_powerloss: power loss at random moments, against the real
 * journal (agent/journal/ through its API).
 *
 * A test-only SQLite VFS ("powerloss") is registered as the default VFS of
 * this process. It passes every call through to the unix VFS, and for the
 * files that survive a reboot (the database, its rollback journal and its
 * WAL) it keeps a model of what is on the platter: an image as of the last
 * xSync, plus the writes and truncations issued since. xSync folds the
 * pending operations into the image (real fsyncs are skipped: the model is
 * the disk). At a crash point chosen at random among the VFS operations of a
 * run, the "disk" becomes: each file's synced image with each pending
 * operation either lost, applied, or (writes) torn — a random subset of its
 * 512-byte sectors applied. The -shm file is dropped (it is memory). The
 * journal is then reopened from those images.
 *
 * Workload per crash point: a fresh journal (tiny --max-wal-bytes so
 * checkpoints and WAL truncation happen all the time), rounds of 1–3
 * concurrent ingest requests of random size, and now and then an upload
 * batch acknowledged by a pretend collector (deletes).
 *
 * Checked after every crash:
 * - the journal opens with journal_open (never quarantined once it had been
 *   created), PRAGMA integrity_check is "ok";
 * - durability fsync: every event whose commit completed before the crash
 *   (its done callback ran — the moment the 202 is sent) is present, unless
 *   an acknowledged upload had deleted it;
 * - durability os: the events present are a prefix of the commit order (a
 *   lost tail is allowed, a hole or a corrupt file is not);
 * - next_seq is past every stored seq (a seq is never reused).
 *
 * FERRY_POWERLOSS_POINTS (default 1000 with fsync and a quarter of that
 * with os; 250 in a sanitizer build) and
 * FERRY_POWERLOSS_SEED (default 20260301) change the run; the figures are
 * printed. */
#define _GNU_SOURCE
#include "check.h"
#include "codec.h"
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- the powerloss VFS ----------------------------------------------------- */

#define PL_MAX_FILES 8
#define PL_SECTOR    512

typedef struct pl_op {
  int64_t off;   /* write: offset; truncate: new size */
  size_t len;    /* write length; 0 for a truncate */
  uint8_t *data; /* NULL for a truncate */
} pl_op;

typedef struct pl_track {
  char path[512];
  bool used, exists;
  uint8_t *img; /* synced image */
  size_t img_len, img_cap;
  pl_op *ops; /* pending since the last sync */
  size_t nops, ops_cap;
  /* the image at the crash */
  bool c_exists;
  uint8_t *c_img;
  size_t c_len;
} pl_track;

typedef struct pl_file {
  sqlite3_file base;
  sqlite3_file *real;
  pl_track *t; /* NULL: not modelled (temp files) */
} pl_file;

static sqlite3_vfs *pl_base;
static sqlite3_vfs pl_vfs;
static pthread_mutex_t pl_lock = PTHREAD_MUTEX_INITIALIZER;
static pl_track pl_files[PL_MAX_FILES];
static bool pl_on; /* modelling (else pure pass-through) */
static bool pl_crashed;
static int64_t pl_ops, pl_crash_at; /* crash when pl_ops reaches pl_crash_at (0: never) */
static uint64_t pl_rng = 1;

static uint64_t rnd(void) {
  uint64_t x = pl_rng;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return pl_rng = x;
}

static void img_set(uint8_t **img, size_t *len, size_t *cap, int64_t off, const uint8_t *p, size_t n) {
  size_t end = (size_t)off + n;
  if (end > *cap) {
    size_t nc = *cap ? *cap : 65536;
    while (nc < end) nc *= 2;
    uint8_t *ni = realloc(*img, nc);
    if (!ni) abort();
    *img = ni;
    *cap = nc;
  }
  if ((size_t)off > *len) memset(*img + *len, 0, (size_t)off - *len);
  memcpy(*img + off, p, n);
  if (end > *len) *len = end;
}

static void ops_clear(pl_track *t) {
  for (size_t i = 0; i < t->nops; i++) free(t->ops[i].data);
  t->nops = 0;
}

/* Fold pending ops into the synced image. */
static void track_sync(pl_track *t) {
  for (size_t i = 0; i < t->nops; i++) {
    pl_op *o = &t->ops[i];
    if (o->data) img_set(&t->img, &t->img_len, &t->img_cap, o->off, o->data, o->len);
    else if ((size_t)o->off < t->img_len) t->img_len = (size_t)o->off;
  }
  ops_clear(t);
}

/* The power goes: build each file's crash image. Caller holds pl_lock. */
static void crash_now(void) {
  pl_crashed = true;
  for (int i = 0; i < PL_MAX_FILES; i++) {
    pl_track *t = &pl_files[i];
    if (!t->used) continue;
    t->c_exists = t->exists;
    size_t cap = t->img_len ? t->img_len : 1;
    t->c_img = malloc(cap);
    if (!t->c_img) abort();
    memcpy(t->c_img, t->img, t->img_len);
    t->c_len = t->img_len;
    for (size_t k = 0; k < t->nops; k++) {
      pl_op *o = &t->ops[k];
      unsigned fate = (unsigned)(rnd() % 3); /* 0 lost, 1 applied, 2 torn */
      if (!o->data) {
        if (fate && (size_t)o->off < t->c_len) t->c_len = (size_t)o->off;
        continue;
      }
      if (fate == 0) continue;
      for (size_t s = 0; s < o->len; s += PL_SECTOR) {
        if (fate == 2 && rnd() % 2) continue;
        size_t n = o->len - s < PL_SECTOR ? o->len - s : PL_SECTOR;
        img_set(&t->c_img, &t->c_len, &cap, o->off + (int64_t)s, o->data + s, n);
      }
    }
  }
}

/* Count a modelled operation; crash when the chosen point is reached.
 * Returns true when the operation happens after the power went (not
 * modelled any more). Caller holds pl_lock. */
static bool tick(void) {
  if (pl_crashed) return true;
  if (pl_crash_at && ++pl_ops >= pl_crash_at) {
    crash_now();
    return true;
  }
  if (!pl_crash_at) pl_ops++;
  return false;
}

static int pl_close(sqlite3_file *f) {
  pl_file *p = (pl_file *)f;
  return p->real->pMethods->xClose(p->real);
}
static int pl_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off) {
  pl_file *p = (pl_file *)f;
  return p->real->pMethods->xRead(p->real, buf, n, off);
}
static int pl_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off) {
  pl_file *p = (pl_file *)f;
  if (p->t) {
    pthread_mutex_lock(&pl_lock);
    if (!tick()) {
      pl_track *t = p->t;
      if (t->nops == t->ops_cap) {
        size_t nc = t->ops_cap ? t->ops_cap * 2 : 64;
        pl_op *no = realloc(t->ops, nc * sizeof(*no));
        if (!no) abort();
        t->ops = no;
        t->ops_cap = nc;
      }
      pl_op *o = &t->ops[t->nops++];
      o->off = off;
      o->len = (size_t)n;
      o->data = malloc((size_t)n);
      if (!o->data) abort();
      memcpy(o->data, buf, (size_t)n);
    }
    pthread_mutex_unlock(&pl_lock);
  }
  return p->real->pMethods->xWrite(p->real, buf, n, off);
}
static int pl_truncate(sqlite3_file *f, sqlite3_int64 size) {
  pl_file *p = (pl_file *)f;
  if (p->t) {
    pthread_mutex_lock(&pl_lock);
    if (!tick()) {
      pl_track *t = p->t;
      if (t->nops == t->ops_cap) {
        size_t nc = t->ops_cap ? t->ops_cap * 2 : 64;
        pl_op *no = realloc(t->ops, nc * sizeof(*no));
        if (!no) abort();
        t->ops = no;
        t->ops_cap = nc;
      }
      pl_op *o = &t->ops[t->nops++];
      o->off = size;
      o->len = 0;
      o->data = NULL;
    }
    pthread_mutex_unlock(&pl_lock);
  }
  return p->real->pMethods->xTruncate(p->real, size);
}
static int pl_sync(sqlite3_file *f, int flags) {
  pl_file *p = (pl_file *)f;
  if (p->t) {
    pthread_mutex_lock(&pl_lock);
    if (!tick()) track_sync(p->t);
    pthread_mutex_unlock(&pl_lock);
    return SQLITE_OK; /* the model is the disk: no real fsync needed */
  }
  return p->real->pMethods->xSync(p->real, flags);
}
static int pl_size(sqlite3_file *f, sqlite3_int64 *s) {
  pl_file *p = (pl_file *)f;
  return p->real->pMethods->xFileSize(p->real, s);
}
static int pl_lockf(sqlite3_file *f, int l) {
  pl_file *p = (pl_file *)f;
  return p->real->pMethods->xLock(p->real, l);
}
static int pl_unlock(sqlite3_file *f, int l) {
  pl_file *p = (pl_file *)f;
  return p->real->pMethods->xUnlock(p->real, l);
}
static int pl_check_reserved(sqlite3_file *f, int *out) {
  pl_file *p = (pl_file *)f;
  return p->real->pMethods->xCheckReservedLock(p->real, out);
}
static int pl_fcntl(sqlite3_file *f, int op, void *arg) {
  pl_file *p = (pl_file *)f;
  return p->real->pMethods->xFileControl(p->real, op, arg);
}
static int pl_sector(sqlite3_file *f) {
  pl_file *p = (pl_file *)f;
  return p->real->pMethods->xSectorSize(p->real);
}
static int pl_devchar(sqlite3_file *f) {
  pl_file *p = (pl_file *)f;
  return p->real->pMethods->xDeviceCharacteristics(p->real);
}
static int pl_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **pp) {
  pl_file *p = (pl_file *)f;
  return p->real->pMethods->xShmMap(p->real, pg, sz, extend, pp);
}
static int pl_shm_lock(sqlite3_file *f, int off, int n, int flags) {
  pl_file *p = (pl_file *)f;
  return p->real->pMethods->xShmLock(p->real, off, n, flags);
}
static void pl_shm_barrier(sqlite3_file *f) {
  pl_file *p = (pl_file *)f;
  p->real->pMethods->xShmBarrier(p->real);
}
static int pl_shm_unmap(sqlite3_file *f, int del) {
  pl_file *p = (pl_file *)f;
  return p->real->pMethods->xShmUnmap(p->real, del);
}
static int pl_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp) {
  (void)f;
  (void)off;
  (void)amt;
  *pp = NULL; /* no memory-mapped reads: every read goes through xRead */
  return SQLITE_OK;
}
static int pl_unfetch(sqlite3_file *f, sqlite3_int64 off, void *pp) {
  (void)f;
  (void)off;
  (void)pp;
  return SQLITE_OK;
}

static const sqlite3_io_methods pl_methods = {
    3,           pl_close,       pl_read,           pl_write, pl_truncate, pl_sync,    pl_size,
    pl_lockf,    pl_unlock,      pl_check_reserved, pl_fcntl, pl_sector,   pl_devchar, pl_shm_map,
    pl_shm_lock, pl_shm_barrier, pl_shm_unmap,      pl_fetch, pl_unfetch,
};

static pl_track *track_for(const char *path, bool create) {
  for (int i = 0; i < PL_MAX_FILES; i++)
    if (pl_files[i].used && strcmp(pl_files[i].path, path) == 0) return &pl_files[i];
  if (!create) return NULL;
  for (int i = 0; i < PL_MAX_FILES; i++)
    if (!pl_files[i].used) {
      pl_track *t = &pl_files[i];
      t->used = true;
      t->exists = false;
      t->img_len = 0;
      snprintf(t->path, sizeof(t->path), "%s", path);
      return t;
    }
  abort();
}

static int pl_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out) {
  (void)vfs;
  pl_file *p = (pl_file *)f;
  p->real = (sqlite3_file *)(p + 1);
  p->t = NULL;
  int rc = pl_base->xOpen(pl_base, name, p->real, flags, out);
  if (rc != SQLITE_OK) {
    p->base.pMethods = NULL;
    return rc;
  }
  p->base.pMethods = &pl_methods;
  if (name && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_WAL))) {
    pthread_mutex_lock(&pl_lock);
    if (pl_on) {
      pl_track *t = track_for(name, true);
      if (!pl_crashed) t->exists = true;
      p->t = t;
    }
    pthread_mutex_unlock(&pl_lock);
  }
  return SQLITE_OK;
}

static int pl_delete(sqlite3_vfs *vfs, const char *name, int dirsync) {
  (void)vfs;
  pthread_mutex_lock(&pl_lock);
  pl_track *t = pl_on ? track_for(name, false) : NULL;
  if (t && !tick()) {
    t->exists = false;
    t->img_len = 0;
    ops_clear(t);
  }
  pthread_mutex_unlock(&pl_lock);
  return pl_base->xDelete(pl_base, name, dirsync);
}

static int pl_access(sqlite3_vfs *v, const char *n, int fl, int *out) {
  (void)v;
  return pl_base->xAccess(pl_base, n, fl, out);
}
static int pl_fullpath(sqlite3_vfs *v, const char *n, int nout, char *out) {
  (void)v;
  return pl_base->xFullPathname(pl_base, n, nout, out);
}
static int pl_random(sqlite3_vfs *v, int n, char *out) {
  (void)v;
  return pl_base->xRandomness(pl_base, n, out);
}
static int pl_sleep(sqlite3_vfs *v, int us) {
  (void)v;
  return pl_base->xSleep(pl_base, us);
}
static int pl_time(sqlite3_vfs *v, double *t) {
  (void)v;
  return pl_base->xCurrentTime(pl_base, t);
}
static int pl_lasterr(sqlite3_vfs *v, int n, char *out) {
  (void)v;
  return pl_base->xGetLastError(pl_base, n, out);
}
static int pl_time64(sqlite3_vfs *v, sqlite3_int64 *t) {
  (void)v;
  return pl_base->xCurrentTimeInt64(pl_base, t);
}

static void pl_register(void) {
  pl_base = sqlite3_vfs_find(NULL);
  memset(&pl_vfs, 0, sizeof(pl_vfs));
  pl_vfs.iVersion = 2;
  pl_vfs.szOsFile = (int)sizeof(pl_file) + pl_base->szOsFile;
  pl_vfs.mxPathname = pl_base->mxPathname;
  pl_vfs.zName = "powerloss";
  pl_vfs.xOpen = pl_open;
  pl_vfs.xDelete = pl_delete;
  pl_vfs.xAccess = pl_access;
  pl_vfs.xFullPathname = pl_fullpath;
  pl_vfs.xRandomness = pl_random;
  pl_vfs.xSleep = pl_sleep;
  pl_vfs.xCurrentTime = pl_time;
  pl_vfs.xGetLastError = pl_lasterr;
  pl_vfs.xCurrentTimeInt64 = pl_time64;
  sqlite3_vfs_register(&pl_vfs, 1);
}

/* Start modelling a run: forget every file, crash at op `at` (0: never). */
static void pl_start(int64_t at) {
  pthread_mutex_lock(&pl_lock);
  for (int i = 0; i < PL_MAX_FILES; i++) {
    pl_track *t = &pl_files[i];
    ops_clear(t);
    free(t->c_img);
    t->c_img = NULL;
    t->used = t->exists = t->c_exists = false;
    t->img_len = t->c_len = 0;
  }
  pl_on = true;
  pl_crashed = false;
  pl_ops = 0;
  pl_crash_at = at;
  pthread_mutex_unlock(&pl_lock);
}

static bool pl_is_crashed(void) {
  pthread_mutex_lock(&pl_lock);
  bool c = pl_crashed;
  pthread_mutex_unlock(&pl_lock);
  return c;
}

/* Stop modelling; with a crash, put the crash images on the real disk. */
static void pl_stop_and_restore(const char *shm_path) {
  pthread_mutex_lock(&pl_lock);
  pl_on = false;
  if (pl_crashed) {
    for (int i = 0; i < PL_MAX_FILES; i++) {
      pl_track *t = &pl_files[i];
      if (!t->used) continue;
      if (!t->c_exists) {
        unlink(t->path);
        continue;
      }
      int fd = open(t->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd < 0) abort();
      size_t done = 0;
      while (done < t->c_len) {
        ssize_t w = write(fd, t->c_img + done, t->c_len - done);
        if (w <= 0) abort();
        done += (size_t)w;
      }
      close(fd);
    }
    unlink(shm_path);
  }
  pthread_mutex_unlock(&pl_lock);
}

/* --- the workload ------------------------------------------------------- */

#define MAX_EVENTS 400

static uv_loop_t loop;
static int pending_done;

typedef struct ev_state {
  bool submitted, acked202, touched_by_ack;
} ev_state;
static ev_state evs_state[MAX_EVENTS];
static int n_submitted;

typedef struct req {
  journal_commit c;
  ev_event ev[30];
  int first;
} req;

static void on_commit(journal_commit *c) {
  req *r = c->data;
  pending_done--;
  if (c->status == 0 && !pl_is_crashed())
    for (size_t i = 0; i < c->n; i++) evs_state[r->first + (int)i].acked202 = true;
}
static void on_batch(journal_batch *b) {
  (void)b;
  pending_done--;
}
static void on_ack(journal_ack *a) {
  (void)a;
  pending_done--;
}

static void wait_all(void) {
  while (pending_done > 0) uv_run(&loop, UV_RUN_ONCE);
}

static char big_pad[4096];

/* The seq of event index k is k + 1: no duplicates, no failures, no drops. */
static void workload(journal *j, uint64_t seed) {
  uint64_t w = seed | 1;
#define WR() (w ^= w << 13, w ^= w >> 7, w ^= w << 17, w)
  n_submitted = 0;
  memset(evs_state, 0, sizeof(evs_state));
  req reqs[3];
  int rounds = 0;
  while (n_submitted < MAX_EVENTS - 90 && !pl_is_crashed() && rounds++ < 40) {
    int nreq = 1 + (int)(WR() % 3);
    for (int q = 0; q < nreq; q++) {
      req *r = &reqs[q];
      memset(r, 0, sizeof(*r));
      int n = 1 + (int)(WR() % 30);
      r->first = n_submitted;
      for (int i = 0; i < n; i++) {
        int k = n_submitted++;
        int pad = (int)(WR() % 3000);
        char *js = NULL;
        if (asprintf(&js, "{\"event_id\":\"e-%d\",\"event_type\":\"working\",\"note\":\"%.*s\"}", k, pad,
                     big_pad) < 0)
          abort();
        r->ev[i].json = js;
        r->ev[i].json_len = strlen(js);
        char *id = NULL;
        if (asprintf(&id, "e-%d", k) < 0) abort();
        r->ev[i].event_id = id;
        evs_state[k].submitted = true;
      }
      r->c.events = r->ev;
      r->c.n = (size_t)n;
      r->c.done = on_commit;
      r->c.data = r;
      if (journal_submit(j, &r->c) == 0) pending_done++;
    }
    wait_all();
    for (int q = 0; q < nreq; q++)
      for (size_t i = 0; i < reqs[q].c.n; i++) {
        free(reqs[q].ev[i].json);
        free(reqs[q].ev[i].event_id);
      }
    if (WR() % 4 == 0 && !pl_is_crashed()) { /* an upload, answered 200 */
      journal_batch b;
      memset(&b, 0, sizeof(b));
      b.max_events = 1 + WR() % 40;
      b.max_bytes = 1 << 20;
      b.codec = CODEC_IDENTITY;
      b.done = on_batch;
      if (journal_read_batch(j, &b) == 0) {
        pending_done++;
        wait_all();
      }
      if (b.status == 0 && b.n_events) {
        for (size_t i = 0; i < b.n_events; i++) evs_state[b.seqs[i] - 1].touched_by_ack = true;
        journal_ack a;
        memset(&a, 0, sizeof(a));
        a.batch = &b;
        a.done = on_ack;
        if (journal_apply_ack(j, &a) == 0) {
          pending_done++;
          wait_all();
        }
      }
      journal_batch_clear(&b);
    }
  }
#undef WR
}

static char tmpdir[256];
static int case_no;
static long crashes, crashes_in_create, events_acked, events_checked, os_lost_tails;

static journal_opts opts_for(const char *path, bool fsync) {
  journal_opts o = {0};
  o.path = path;
  o.agent_id = "agent-pl";
  o.machine_id = "machine-pl";
  o.durability_fsync = fsync;
  o.max_journal_bytes = 64 << 20;
  o.max_wal_bytes = 96 * 1024; /* checkpoints every few groups */
  o.max_dead_letter_bytes = 1 << 20;
  return o;
}

static void check_after_crash(bool fsync, int64_t crash_at, uint64_t seed, bool created,
                              const journal_opts *op, const char *path);

/* Remove a run's directory (and its quarantine/ subdirectory). */
static void rm_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    char p[700];
    snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
    if (unlink(p) < 0) rm_tree(p);
  }
  closedir(d);
  rmdir(dir);
}

/* One run: returns the number of modelled ops (for calibration). */
static int64_t run_once(bool fsync, int64_t crash_at, uint64_t seed) {
  char dir[300], path[400], shm[420];
  snprintf(dir, sizeof(dir), "%s/r%d", tmpdir, ++case_no);
  mkdir(dir, 0700);
  snprintf(path, sizeof(path), "%s/journal.db", dir);
  snprintf(shm, sizeof(shm), "%s-shm", path);
  journal_opts o = opts_for(path, fsync);
  pl_start(crash_at);
  journal *j = NULL;
  char err[256] = "";
  int r = journal_open(&loop, &o, &j, err, sizeof(err));
  bool created = r == 0 && !pl_is_crashed();
  if (r == 0) {
    workload(j, seed);
    journal_close(j);
    uv_run(&loop, UV_RUN_DEFAULT);
  } else if (!pl_is_crashed()) {
    fprintf(stderr, "open before any crash failed: %d %s\n", r, err);
    CHECK(0);
  }
  int64_t ops = pl_ops;
  bool crashed = pl_is_crashed();
  pl_stop_and_restore(shm);
  if (!crash_at || !crashed) { /* calibration, or the crash point lay past the end */
    rm_tree(dir);
    return ops;
  }
  long failed0 = check_failures_;
  check_after_crash(fsync, crash_at, seed, created, &o, path);
  if (check_failures_ == failed0) rm_tree(dir);
  else fprintf(stderr, "kept %s for inspection\n", dir);
  return ops;
}

static void check_after_crash(bool fsync, int64_t crash_at, uint64_t seed, bool created,
                              const journal_opts *op, const char *path) {
  journal_opts o = *op;
  journal *j = NULL;
  char err[256] = "";
  int r;
  crashes++;
  crashes_in_create += !created;

  /* reboot: the journal must open, unquarantined once it existed */
  r = journal_open(&loop, &o, &j, err, sizeof(err));
  CHECK_EQ_INT(r, 0);
  if (r != 0) {
    fprintf(stderr, "crash point %lld (seed %llu, %s): reopen failed: %s\n", (long long)crash_at,
            (unsigned long long)seed, fsync ? "fsync" : "os", err);
    return;
  }
  journal_stats s;
  journal_get_stats(j, &s);
  if (created) {
    CHECK_EQ_INT(s.quarantined, 0);
    if (s.quarantined)
      fprintf(stderr, "crash point %lld (seed %llu, %s): quarantined: %s\n", (long long)crash_at,
              (unsigned long long)seed, fsync ? "fsync" : "os", s.quarantine_reason);
  }
  int64_t next_seq = s.next_seq;
  journal_close(j);
  uv_run(&loop, UV_RUN_DEFAULT);

  sqlite3 *db = NULL;
  CHECK_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_stmt *st = NULL;
  CHECK_EQ_INT(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
  CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
  const char *ic = (const char *)sqlite3_column_text(st, 0);
  CHECK(ic && strcmp(ic, "ok") == 0);
  sqlite3_finalize(st);
  static bool present[MAX_EVENTS];
  memset(present, 0, sizeof(present));
  int64_t max_seq = 0;
  if (created && !s.quarantined &&
      sqlite3_prepare_v2(db, "SELECT seq, event_id FROM events", -1, &st, NULL) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      int64_t seq = sqlite3_column_int64(st, 0);
      const char *id = (const char *)sqlite3_column_text(st, 1);
      int k = -1;
      CHECK(id && sscanf(id, "e-%d", &k) == 1 && k == seq - 1); /* seq ↔ event intact */
      if (k >= 0 && k < MAX_EVENTS) present[k] = true;
      if (seq > max_seq) max_seq = seq;
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  CHECK(next_seq > max_seq);
  if (!created) return;
  bool hole = false, seen_missing = false;
  for (int k = 0; k < MAX_EVENTS; k++) {
    ev_state *e = &evs_state[k];
    if (!e->submitted || e->touched_by_ack) continue;
    events_checked++;
    if (e->acked202) events_acked++;
    if (fsync && e->acked202 && !present[k]) {
      fprintf(stderr, "crash point %lld (seed %llu): event e-%d was answered 202 and is gone\n",
              (long long)crash_at, (unsigned long long)seed, k);
      CHECK(0);
    }
    if (!present[k]) seen_missing = true;
    else if (seen_missing) hole = true;
  }
  if (hole)
    fprintf(stderr, "crash point %lld (seed %llu, %s): a hole in the commit order\n", (long long)crash_at,
            (unsigned long long)seed, fsync ? "fsync" : "os");
  CHECK(!hole);
  if (!fsync && seen_missing) os_lost_tails++;
}

static void campaign(bool fsync, long points, uint64_t seed) {
  long before = crashes;
  pl_rng = seed * 2654435761u + (fsync ? 1 : 2);
  for (long p = 0; p < points; p++) {
    uint64_t wseed = rnd();
    int64_t total = run_once(fsync, 0, wseed); /* calibrate: ops of this workload */
    if (total < 1) total = 1;
    int64_t at = 1 + (int64_t)(rnd() % (uint64_t)total);
    run_once(fsync, at, wseed);
  }
  printf("durability %s: %ld crash points survived (of %ld tried)\n", fsync ? "fsync" : "os",
         crashes - before, points);
}

int main(void) {
  const char *pe = getenv("FERRY_POWERLOSS_POINTS"), *se = getenv("FERRY_POWERLOSS_SEED");
#if defined(__SANITIZE_ADDRESS__)
  long points = pe ? atol(pe) : 250; /* the sanitizer pass runs the same code, slower */
#else
  long points = pe ? atol(pe) : 1000;
#endif
  uint64_t seed = se ? strtoull(se, NULL, 10) : 20260301;
  memset(big_pad, 'x', sizeof(big_pad));
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/ferry-powerloss-XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  pl_register();
  uv_loop_init(&loop);
  printf("seed %llu\n", (unsigned long long)seed);
  campaign(true, points, seed);
  campaign(false, points / 4 > 0 ? points / 4 : 1, seed);
  printf("%ld crashes (%ld while creating the journal), %ld events checked, %ld of them answered "
         "202 before the crash; os durability lost a tail %ld times\n",
         crashes, crashes_in_create, events_checked, events_acked, os_lost_tails);
  uv_loop_close(&loop);
  if (!check_failures_) rm_tree(tmpdir);
  return check_finish("test_agent_powerloss");
}
