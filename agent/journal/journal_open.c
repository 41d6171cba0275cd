/* journal_open.c: journal_open and what it takes — probe an existing file
 * read-only, quick_check after an unclean shutdown, quarantine a journal
 * that is not ours or damaged, create or migrate the schema, load the
 * figures and the dedup filter, start the worker — and the teardown of the
 * journal's memory. Runs on the loop thread before the worker exists. */
#define _GNU_SOURCE
#include "journal_int.h"
#include "timefmt.h"
#include "version.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const journal_sql_text[JS_COUNT_] = {
#define X(name, sql) sql,
    JOURNAL_STMTS(X)
#undef X
};

/* --- small helpers ------------------------------------------------------- */

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static char *xstrdup(const char *s) { return s ? strdup(s) : NULL; }

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0) s = NULL;
  va_end(ap);
  return s;
}

/* --- open ------------------------------------------------------------------- */

static void close_db(journal *j) {
  for (int i = 0; i < JS_COUNT_; i++) {
    sqlite3_finalize(j->st[i]);
    j->st[i] = NULL;
  }
  sqlite3_close(j->db);
  j->db = NULL;
  journal__filt_free(&j->filt);
}

static void free_journal(journal *j) {
  if (!j) return;
  close_db(j);
  free(j->path);
  free(j->wal_path);
  free(j->shm_path);
  free(j->dir);
  free(j->base);
  free(j->agent_id);
  free(j->site);
  free(j->machine_id);
  dbthread_destroy(&j->t);
  if (j->locks_inited) uv_mutex_destroy(&j->slock);
  free(j);
}

void journal__on_close(dbthread *t) { free_journal(t->data); }

typedef enum { PROBE_FRESH, PROBE_OK, PROBE_QUARANTINE } probe_verdict;

static int64_t query_int(sqlite3 *db, const char *sql, int *rc) {
  sqlite3_stmt *s = NULL;
  int r = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
  int64_t v = 0;
  if (r == SQLITE_OK) {
    r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
      v = sqlite3_column_int64(s, 0);
      r = SQLITE_OK;
    } else if (r == SQLITE_DONE) {
      r = SQLITE_OK;
    }
  }
  sqlite3_finalize(s);
  *rc = r;
  return v;
}

static bool rc_means_not_a_db(int rc) {
  int p = rc & 0xff;
  return p == SQLITE_NOTADB || p == SQLITE_CORRUPT || p == SQLITE_FORMAT;
}

/* Look at an existing journal read-only, writing nothing to it. Sets
 * *verdict and, for quarantine, reason; *uv to its user_version. */
static int probe(journal *j, probe_verdict *verdict, int *uv, char *reason, size_t rlen, char *err,
                 size_t errlen) {
  struct stat sb;
  *uv = 0;
  if (stat(j->path, &sb) < 0) {
    if (errno != ENOENT) {
      int e = errno;
      set_err(err, errlen, "journal %s: %s", j->path, strerror(e));
      return -e;
    }
    /* no journal: a WAL left without its database belongs to nothing */
    unlink(j->wal_path);
    unlink(j->shm_path);
    *verdict = PROBE_FRESH;
    return 0;
  }
  if (access(j->path, R_OK | W_OK) < 0) {
    int e = errno;
    set_err(err, errlen, "journal %s: %s", j->path, strerror(e));
    return -e;
  }
  /* A rollback journal beside it is hot: the power went while the journal
   * was being created (before the switch to WAL mode). A read-only
   * connection cannot roll it back and every read fails with "readonly
   * database", which would keep the agent from ever starting; reading
   * read-write lets SQLite roll it back (restoring the file as it was before
   * that transaction) and nothing else is written. */
  char *hot_path = xasprintf("%s-journal", j->path);
  bool hot = hot_path && access(hot_path, F_OK) == 0;
  free(hot_path);
  sqlite3 *db = NULL;
  int rc = sqlite3_open_v2(j->path, &db,
                           (hot ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY) | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK) {
    snprintf(reason, rlen, "cannot open as a database: %s", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    *verdict = PROBE_QUARANTINE;
    return 0;
  }
  sqlite3_stmt *s = NULL;
  int r = 0;
  int64_t v = query_int(db, JSQL_USER_VERSION, &rc);
  if (rc != SQLITE_OK) goto bad;
  *uv = (int)v;
  int64_t app = query_int(db, JSQL_APPLICATION_ID, &rc);
  if (rc != SQLITE_OK) goto bad;
  /* every journal from schema 2 on carries ferry's application id; schema 1
   * had none, so an id-less file is ours only up to version 1 */
  if ((app != 0 && app != JOURNAL_APPLICATION_ID) || (app == 0 && v > 1)) {
    snprintf(reason, rlen, "not a ferry journal (application_id 0x%08" PRIx64 ", schema version %" PRId64 ")",
             (uint64_t)(uint32_t)app, v);
    *verdict = PROBE_QUARANTINE;
    goto out;
  }
  if (v > JOURNAL_SCHEMA_VERSION) {
    char by[80] = "";
    if (sqlite3_prepare_v2(db, JSQL_READ_WRITER_VERSION, -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
      snprintf(by, sizeof(by), " (written by ferry-agent %.40s)", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    s = NULL;
    set_err(err, errlen,
            "journal %s has schema version %" PRId64 "%s, newer than this agent's %d;"
            " run a newer ferry-agent or move the file away",
            j->path, v, by, JOURNAL_SCHEMA_VERSION);
    r = -EPROTO;
    goto out;
  }
  if (v == 0) {
    int64_t n = query_int(db, JSQL_COUNT_OBJECTS, &rc);
    if (rc != SQLITE_OK) goto bad;
    if (n == 0) {
      *verdict = PROBE_FRESH; /* an empty database file */
      goto out;
    }
    snprintf(reason, rlen, "not a ferry journal (schema version 0 with %" PRId64 " objects)", n);
    *verdict = PROBE_QUARANTINE;
    goto out;
  }
  if (query_int(db, JSQL_HAS_META, &rc) != 1 || rc != SQLITE_OK) {
    if (rc != SQLITE_OK) goto bad;
    snprintf(reason, rlen, "not a ferry journal (no meta table)");
    *verdict = PROBE_QUARANTINE;
    goto out;
  }
  rc = sqlite3_prepare_v2(db, JSQL_READ_META, -1, &s, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_step(s);
  if (rc != SQLITE_ROW) {
    if (rc == SQLITE_DONE || rc == SQLITE_OK) {
      snprintf(reason, rlen, "journal meta row missing");
      *verdict = PROBE_QUARANTINE;
      goto out;
    }
    goto bad;
  }
  const char *aid = (const char *)sqlite3_column_text(s, 1);
  const char *mid = (const char *)sqlite3_column_text(s, 2);
  int clean = sqlite3_column_int(s, 4);
  if (!aid || strcmp(aid, j->agent_id) != 0) {
    snprintf(reason, rlen, "agent id changed (journal was made for \"%.40s\")", aid ? aid : "");
    *verdict = PROBE_QUARANTINE;
    goto out;
  }
  if (!mid || strcmp(mid, j->machine_id) != 0) {
    snprintf(reason, rlen, "machine id changed (journal was made for \"%.40s\")", mid ? mid : "");
    *verdict = PROBE_QUARANTINE;
    goto out;
  }
  sqlite3_finalize(s);
  s = NULL;
  if (!clean) {
    rc = sqlite3_prepare_v2(db, JSQL_QUICK_CHECK, -1, &s, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(s);
    const char *res = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : NULL;
    if (!res || strcmp(res, "ok") != 0) {
      snprintf(reason, rlen, "quick_check failed after an unclean shutdown: %.80s",
               res ? res : sqlite3_errmsg(db));
      *verdict = PROBE_QUARANTINE;
      goto out;
    }
  }
  *verdict = PROBE_OK;
  goto out;
bad:
  if (rc_means_not_a_db(rc)) {
    snprintf(reason, rlen, "not a database: %s", sqlite3_errmsg(db));
    *verdict = PROBE_QUARANTINE;
  } else {
    set_err(err, errlen, "journal %s: %s", j->path, sqlite3_errmsg(db));
    r = -EIO;
  }
out:
  sqlite3_finalize(s);
  sqlite3_close(db);
  return r;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool ends_with(const char *s, const char *suf) {
  size_t n = strlen(s), m = strlen(suf);
  return n >= m && strcmp(s + n - m, suf) == 0;
}

/* Keep the newest QUARANTINE_KEEP quarantined journals (names sort by time). */
static void prune_quarantine(const char *qdir, const char *base) {
  DIR *dir = opendir(qdir);
  if (!dir) return;
  char **names = NULL;
  size_t n = 0, cap = 0, blen = strlen(base);
  struct dirent *de;
  while ((de = readdir(dir))) {
    if (strncmp(de->d_name, base, blen) != 0 || de->d_name[blen] != '.' || ends_with(de->d_name, "-wal") ||
        ends_with(de->d_name, "-shm"))
      continue;
    if (n == cap) {
      size_t ncap = cap ? cap * 2 : 8;
      char **nn = realloc(names, ncap * sizeof(*names));
      if (!nn) break;
      names = nn;
      cap = ncap;
    }
    if (!(names[n] = strdup(de->d_name))) break;
    n++;
  }
  closedir(dir);
  if (n) qsort(names, n, sizeof(*names), cmp_str);
  for (size_t i = 0; i < n; i++) {
    if (n - i > QUARANTINE_KEEP) {
      static const char *const sfx[] = {"", "-wal", "-shm"};
      for (size_t k = 0; k < 3; k++) {
        char *p = xasprintf("%s/%s%s", qdir, names[i], sfx[k]);
        if (p) unlink(p);
        free(p);
      }
    }
    free(names[i]);
  }
  free(names);
}

/* Move the journal and its -wal/-shm into quarantine/ beside it. */
static int quarantine(journal *j, const char *reason, char *err, size_t errlen) {
  char *qdir = xasprintf("%s/quarantine", j->dir);
  if (!qdir) return -ENOMEM;
  if (mkdir(qdir, 0750) < 0 && errno != EEXIST) {
    int e = errno;
    set_err(err, errlen, "cannot create %s: %s", qdir, strerror(e));
    free(qdir);
    return -e;
  }
  int64_t now = tf_now_ms();
  time_t secs = (time_t)(now / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char stamp[40];
  snprintf(stamp, sizeof(stamp), "%04d%02d%02dT%02d%02d%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(now % 1000));
  char *dest = NULL;
  for (int k = 0; k < 1000; k++) {
    free(dest);
    dest =
        k ? xasprintf("%s/%s.%s-%d", qdir, j->base, stamp, k) : xasprintf("%s/%s.%s", qdir, j->base, stamp);
    struct stat sb;
    if (!dest || stat(dest, &sb) < 0) break;
  }
  int r = 0;
  char *dwal = dest ? xasprintf("%s-wal", dest) : NULL;
  char *dshm = dest ? xasprintf("%s-shm", dest) : NULL;
  if (!dest || !dwal || !dshm) {
    r = -ENOMEM;
  } else if (rename(j->path, dest) < 0) {
    r = -errno;
    set_err(err, errlen, "cannot quarantine %s (%s): %s", j->path, reason, strerror(-r));
  } else {
    if (rename(j->wal_path, dwal) < 0 && errno == ENOENT) (void)0;
    if (rename(j->shm_path, dshm) < 0 && errno == ENOENT) (void)0;
    unlink(j->wal_path); /* if a rename failed, never pair a stale WAL with the new file */
    unlink(j->shm_path);
    prune_quarantine(qdir, j->base);
    j->quarantined = 1;
    snprintf(j->quarantine_reason, sizeof(j->quarantine_reason), "%s", reason);
  }
  free(dest);
  free(dwal);
  free(dshm);
  free(qdir);
  return r;
}

static int new_epoch(char out[17]) {
  uint8_t b[8];
  size_t got = 0;
  while (got < sizeof(b)) {
    ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    got += (size_t)n;
  }
  for (int i = 0; i < 8; i++) snprintf(out + 2 * i, 3, "%02x", b[i]);
  return 0;
}

int journal__exec_pragma(sqlite3 *db, const char *name, long long v) {
  char sql[128];
  snprintf(sql, sizeof(sql), JSQL_PRAGMA_SET_FMT, name, v);
  return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* Migrations from version v to v+1, run in one transaction with the
 * user_version and application_id updates; index 0 would be 0→1, which
 * creation covers. A new journal is made as version 1 and then migrated in
 * its creating transaction, so the migration path is the path every journal
 * takes. */
static const char *const migrations[JOURNAL_SCHEMA_VERSION] = {NULL, JSQL_MIGRATE_V1_V2, JSQL_MIGRATE_V2_V3};

static int migrate(journal *j, int from) {
  int rc = SQLITE_OK;
  for (int v = from; rc == SQLITE_OK && v < JOURNAL_SCHEMA_VERSION; v++)
    if (migrations[v]) rc = sqlite3_exec(j->db, migrations[v], NULL, NULL, NULL);
  if (rc == SQLITE_OK) rc = journal__exec_pragma(j->db, "application_id", JOURNAL_APPLICATION_ID);
  if (rc == SQLITE_OK) rc = journal__exec_pragma(j->db, "user_version", JOURNAL_SCHEMA_VERSION);
  return rc;
}

static int open_rw(journal *j, bool fresh, int uv, char *err, size_t errlen) {
  int rc = sqlite3_open_v2(j->path, &j->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           NULL);
  if (rc != SQLITE_OK) goto fail;
  j->cache_kib = 0; /* a new connection: SQLite's default cache until set */
  sqlite3_extended_result_codes(j->db, 1);
  if ((rc = sqlite3_exec(j->db, JSQL_PRAGMA_SETUP, NULL, NULL, NULL)) != SQLITE_OK) goto fail;
  char sql[128];
  snprintf(sql, sizeof(sql), JSQL_PRAGMA_SYNC_FMT, j->fsync ? "FULL" : "NORMAL");
  if ((rc = sqlite3_exec(j->db, sql, NULL, NULL, NULL)) != SQLITE_OK) goto fail;
  /* WAL: auto-checkpoint at a quarter of the bound, truncate to a quarter */
  long long ckpt_pages = j->max_wal / 4 / 4096;
  if (ckpt_pages < 16) ckpt_pages = 16;
  if ((rc = journal__dedup_cache(j)) != SQLITE_OK ||
      (rc = journal__exec_pragma(j->db, "journal_size_limit", (long long)(j->max_wal / 4))) != SQLITE_OK ||
      (rc = journal__exec_pragma(j->db, "wal_autocheckpoint", ckpt_pages)) != SQLITE_OK)
    goto fail;
  {
    sqlite3_stmt *s = NULL;
    const char *mode = NULL;
    if (sqlite3_prepare_v2(j->db, JSQL_JOURNAL_MODE, -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
      mode = (const char *)sqlite3_column_text(s, 0);
    bool wal = mode && strcmp(mode, "wal") == 0;
    sqlite3_finalize(s);
    if (!wal) {
      set_err(err, errlen, "journal %s: cannot use WAL mode on this file system", j->path);
      return -EIO;
    }
  }
  if (fresh) {
    if ((rc = sqlite3_exec(j->db, JSQL_BEGIN, NULL, NULL, NULL)) != SQLITE_OK) goto fail;
    sqlite3_stmt *s = NULL;
    if (new_epoch(j->epoch) < 0) {
      sqlite3_exec(j->db, JSQL_ROLLBACK, NULL, NULL, NULL);
      set_err(err, errlen, "getrandom failed: %s", strerror(errno));
      return -EIO;
    }
    if ((rc = sqlite3_exec(j->db, JSQL_SCHEMA_V1, NULL, NULL, NULL)) == SQLITE_OK &&
        (rc = sqlite3_prepare_v2(j->db, JSQL_INSERT_META, -1, &s, NULL)) == SQLITE_OK) {
      sqlite3_bind_text(s, 1, j->epoch, -1, SQLITE_STATIC);
      sqlite3_bind_text(s, 2, j->agent_id, -1, SQLITE_STATIC);
      sqlite3_bind_text(s, 3, j->machine_id, -1, SQLITE_STATIC);
      sqlite3_bind_int64(s, 4, tf_now_ms());
      rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(j->db);
    }
    sqlite3_finalize(s);
    if (rc == SQLITE_OK) rc = migrate(j, 1);
    if (rc == SQLITE_OK) rc = sqlite3_exec(j->db, JSQL_COMMIT, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
      sqlite3_exec(j->db, JSQL_ROLLBACK, NULL, NULL, NULL);
      goto fail;
    }
  } else if (uv < JOURNAL_SCHEMA_VERSION) {
    if ((rc = sqlite3_exec(j->db, JSQL_BEGIN, NULL, NULL, NULL)) != SQLITE_OK) goto fail;
    rc = migrate(j, uv);
    if (rc == SQLITE_OK) j->migrated_from = uv;
    if (rc == SQLITE_OK) rc = sqlite3_exec(j->db, JSQL_COMMIT, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
      sqlite3_exec(j->db, JSQL_ROLLBACK, NULL, NULL, NULL);
      goto fail;
    }
  }
  return 0;
fail:
  j->open_rc = rc;
  set_err(err, errlen, "journal %s: %s", j->path, j->db ? sqlite3_errmsg(j->db) : sqlite3_errstr(rc));
  return journal__errno_of_sqlite(rc) == -ENOSPC ? -EIO : journal__errno_of_sqlite(rc);
}

/* Read meta and counts, rebuild the dedup filter, prepare statements, mark
 * the journal as running (clean_shutdown = 0). */
static int load(journal *j, char *err, size_t errlen) {
  sqlite3_stmt *s = NULL;
  int rc = sqlite3_prepare_v2(j->db, JSQL_READ_META, -1, &s, NULL);
  if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
    const char *ep = (const char *)sqlite3_column_text(s, 0);
    snprintf(j->epoch, sizeof(j->epoch), "%s", ep ? ep : "");
    j->cur.next_seq = sqlite3_column_int64(s, 3);
    j->cur.dropped_total = sqlite3_column_int64(s, 5);
    rc = SQLITE_OK;
  } else if (rc == SQLITE_DONE) {
    rc = SQLITE_CORRUPT;
  }
  sqlite3_finalize(s);
  s = NULL;
  if (rc != SQLITE_OK) goto fail;
  j->cur.backlog = query_int(j->db, JSQL_COUNT_EVENTS, &rc);
  if (rc != SQLITE_OK) goto fail;
  if ((rc = sqlite3_prepare_v2(j->db, JSQL_DEAD_TOTALS, -1, &s, NULL)) == SQLITE_OK &&
      (rc = sqlite3_step(s)) == SQLITE_ROW) {
    j->cur.dead_n = sqlite3_column_int64(s, 0);
    j->cur.dead_bytes = sqlite3_column_int64(s, 1) + j->cur.dead_n * DL_ROW_OVERHEAD;
    rc = SQLITE_OK;
  }
  sqlite3_finalize(s);
  s = NULL;
  if (rc != SQLITE_OK) goto fail;
  j->page_size = query_int(j->db, JSQL_PAGE_SIZE, &rc);
  if (rc != SQLITE_OK || j->page_size <= 0) goto fail;
  for (int i = 0; i < JS_COUNT_; i++)
    if ((rc = sqlite3_prepare_v3(j->db, journal_sql_text[i], -1, SQLITE_PREPARE_PERSISTENT, &j->st[i],
                                 NULL)) != SQLITE_OK)
      goto fail;
  /* oldest pending (min_seq) first: the filter's window starts there */
  s = journal__st(j, JS_OLDEST);
  if (sqlite3_step(s) == SQLITE_ROW) {
    j->cur.min_seq = sqlite3_column_int64(s, 0);
    j->cur.oldest_ms = sqlite3_column_int64(s, 1);
  }
  sqlite3_reset(s);
  s = NULL;
  if (journal__filt_fits((size_t)j->cur.backlog, j->filt_max_slots)) {
    if ((rc = sqlite3_exec(j->db, JSQL_DROP_ID_INDEX, NULL, NULL, NULL)) != SQLITE_OK) goto fail;
    if ((rc = sqlite3_prepare_v2(j->db, JSQL_SCAN_IDS, -1, &s, NULL)) != SQLITE_OK) goto fail;
    int r = journal__filt_load(j, s, &j->filt);
    sqlite3_finalize(s);
    s = NULL;
    if (r == -ENOMEM) {
      set_err(err, errlen, "out of memory for the dedup table");
      return -ENOMEM;
    }
    if (r == -EIO) {
      if ((rc = sqlite3_errcode(j->db)) == SQLITE_OK) rc = SQLITE_IOERR;
      goto fail;
    }
    j->sql_dedup = r < 0; /* -E2BIG: the ids spread unevenly over the segments */
  } else {
    j->sql_dedup = true; /* a backlog past the table's bound: dedup by the index */
  }
  if (j->sql_dedup && (rc = journal__create_id_index(j)) != SQLITE_OK) goto fail;
  if ((rc = journal__dedup_cache(j)) != SQLITE_OK) goto fail;
  journal__st(j, JS_SET_CLEAN);
  sqlite3_bind_int(j->st[JS_SET_CLEAN], 1, 0);
  if ((rc = journal__run(j, JS_SET_CLEAN)) != SQLITE_OK) goto fail;
  if ((rc = sqlite3_prepare_v2(j->db, JSQL_SET_WRITER_VERSION, -1, &s, NULL)) == SQLITE_OK) {
    sqlite3_bind_text(s, 1, FERRY_VERSION, -1, SQLITE_STATIC);
    rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(j->db);
  }
  sqlite3_finalize(s);
  s = NULL;
  if (rc != SQLITE_OK) goto fail;
  j->writable = true;
  j->wal_bytes = journal__wal_size(j);
  int prc = SQLITE_OK;
  j->live_bytes = journal__live_bytes_now(j, &prc);
  if (j->wal_bytes > j->max_wal / 2) sqlite3_exec(j->db, JSQL_CKPT_TRUNCATE, NULL, NULL, NULL);
  journal__publish(j);
  return 0;
fail:
  j->open_rc = rc;
  set_err(err, errlen, "journal %s: %s", j->path, sqlite3_errmsg(j->db));
  return journal__errno_of_sqlite(rc) == -ENOSPC ? -EIO : journal__errno_of_sqlite(rc);
}

int journal_open(uv_loop_t *loop, const journal_opts *opts, journal **ret, char *err, size_t errlen) {
  if (!loop || !opts || !opts->path || !opts->agent_id || !ret) {
    set_err(err, errlen, "journal: path and agent id are required");
    return -EINVAL;
  }
  journal *j = calloc(1, sizeof(*j));
  if (!j) {
    set_err(err, errlen, "out of memory");
    return -ENOMEM;
  }
  j->loop = loop;
  j->fsync = opts->durability_fsync;
  j->reject = opts->overflow_reject;
  j->max_journal = opts->max_journal_bytes > 0 ? opts->max_journal_bytes : (int64_t)1 << 30;
  j->max_wal = opts->max_wal_bytes > 0 ? opts->max_wal_bytes : (int64_t)64 << 20;
  {
    int64_t mb = opts->dedup_max_bytes > 0 ? opts->dedup_max_bytes : DEDUP_DEFAULT_MAX_BYTES;
    size_t slots = (size_t)(mb / (int64_t)sizeof(uint64_t));
    j->filt_max_slots = slots < 2 * FILTER_MIN_SLOTS ? 2 * FILTER_MIN_SLOTS : slots;
  }
  j->max_dead = opts->max_dead_letter_bytes > 0 ? opts->max_dead_letter_bytes : (int64_t)64 << 20;
  j->path = xstrdup(opts->path);
  j->wal_path = xasprintf("%s-wal", opts->path);
  j->shm_path = xasprintf("%s-shm", opts->path);
  j->agent_id = xstrdup(opts->agent_id);
  j->site = opts->site ? xstrdup(opts->site) : NULL;
  j->machine_id = xstrdup(opts->machine_id ? opts->machine_id : "");
  const char *slash = strrchr(opts->path, '/');
  j->dir = slash ? (slash == opts->path ? xstrdup("/") : strndup(opts->path, (size_t)(slash - opts->path)))
                 : xstrdup(".");
  j->base = xstrdup(slash ? slash + 1 : opts->path);
  if (!j->path || !j->wal_path || !j->shm_path || !j->agent_id || !j->machine_id || !j->dir || !j->base) {
    free_journal(j);
    set_err(err, errlen, "out of memory");
    return -ENOMEM;
  }
  if (!*j->base) {
    free_journal(j);
    set_err(err, errlen, "journal path %s names a directory", opts->path);
    return -EISDIR;
  }
  if (dbthread_init(&j->t, j) || uv_mutex_init(&j->slock)) {
    free(j); /* the process is out of resources; nothing else to undo that matters */
    set_err(err, errlen, "cannot initialise journal locks");
    return -ENOMEM;
  }
  j->locks_inited = true;
  probe_verdict verdict = PROBE_FRESH;
  int uv = 0;
  char reason[128] = "";
  int r = probe(j, &verdict, &uv, reason, sizeof(reason), err, errlen);
  if (r == 0 && verdict == PROBE_QUARANTINE) {
    r = quarantine(j, reason, err, errlen);
    verdict = PROBE_FRESH;
  }
  if (r == 0) r = open_rw(j, verdict == PROBE_FRESH, uv, err, errlen);
  if (r == 0) r = load(j, err, errlen);
  if (r < 0 && verdict != PROBE_FRESH && rc_means_not_a_db(j->open_rc)) {
    /* passed the probe (clean shutdown, so no quick_check) yet damaged */
    snprintf(reason, sizeof(reason), "damaged journal: %s", sqlite3_errstr(j->open_rc));
    close_db(j);
    memset(&j->cur, 0, sizeof(j->cur));
    r = quarantine(j, reason, err, errlen);
    if (r == 0) r = open_rw(j, true, 0, err, errlen);
    if (r == 0) r = load(j, err, errlen);
  }
  if (r < 0) {
    free_journal(j);
    return r;
  }
  journal__publish(j);
  /* the handle holds the loop only while ops are out */
  j->t.name = "journal";
  if ((r = dbthread_start(&j->t, loop, journal__worker, journal__on_close, true)) < 0) {
    if (j->t.closing) { /* the thread did not start; journal__on_close frees */
      set_err(err, errlen, "cannot start the journal thread: %s", uv_strerror(r));
    } else {
      set_err(err, errlen, "uv_async_init: %s", uv_strerror(r));
      free_journal(j);
    }
    return r;
  }
  *ret = j;
  return 0;
}
