/* store_pg_conn: the PostgreSQL store's connection and statement helpers —
 * (re)connecting with backoff, preparing the statements, running them with
 * parameters, mapping SQLSTATEs to negative errnos — and the array-literal
 * builder. store_pg.c (schema, ingest, delivery) and store_pg_metrics.c
 * (rollups) both build on it; it calls neither. */
#include "store_pg_conn.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timefmt.h"

/* ---- array literals ------------------------------------------------------ */

void sp_buf_reset(sp_buf *b) {
  b->max = SP_BUF_MAX; /* also for a buffer still zeroed from calloc */
  sb_reset(b);
  sb_addc(b, '{');
}

static void sp__buf_sep(sp_buf *b) {
  if (b->len > 1) sb_addc(b, ',');
}

void sp_buf_str(sp_buf *b, const char *v, size_t len) {
  sp__buf_sep(b);
  if (!v) {
    sb_add(b, "NULL", 4);
    return;
  }
  sb_addc(b, '"');
  size_t run = 0;
  for (size_t i = 0; i < len; i++) {
    if (v[i] != '"' && v[i] != '\\') continue;
    sb_add(b, v + run, i - run);
    sb_addc(b, '\\');
    run = i;
  }
  sb_add(b, v + run, len - run);
  sb_addc(b, '"');
}

void sp_buf_i64(sp_buf *b, int64_t v) {
  char t[24];
  int n = snprintf(t, sizeof(t), "%" PRId64, v);
  sp__buf_sep(b);
  sb_add(b, t, (size_t)n);
}

const char *sp_buf_end(sp_buf *b) {
  sb_addc(b, '}');
  return b->err ? NULL : b->p;
}

void sp_buf_clear(sp_buf *b) { sb_clear(b); }

/* ---- connection and statements ----------------------------------------- */

/* The first line of a libpq message, into s->err after "what: ". */
void sp__msg(store_pg *s, const char *what, const char *msg) {
  if (!msg || !*msg) msg = "unknown error";
  size_t n = strcspn(msg, "\n");
  snprintf(s->err, sizeof(s->err), "%s: %.*s", what, (int)(n > 200 ? 200 : n), msg);
}

bool sp__conn_ok(const store_pg *s) { return s->conn && PQstatus(s->conn) == CONNECTION_OK; }

int sp__fail(store_pg *s, const char *what, const PGresult *res) {
  const char *msg = res ? PQresultErrorMessage(res) : NULL;
  if (!msg || !*msg) msg = s->conn ? PQerrorMessage(s->conn) : "no connection";
  sp__msg(s, what, msg);
  if (!sp__conn_ok(s)) {
    s->prepared = false;
    return -EIO;
  }
  const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  if (!state) return -EIO;
  if (!strcmp(state, "40P01") || !strcmp(state, "40001") || !strcmp(state, "55P03")) return -EBUSY;
  if (!strcmp(state, "53100")) return -ENOSPC;
  if (!strcmp(state, "53200")) return -ENOMEM;
  if (!strcmp(state, "25006")) return -EROFS;
  if (!strcmp(state, "23505")) return -EEXIST;
  return -EIO;
}

/* Server notices ("relation already exists, skipping") are not errors: the
 * store reports failures through its return values only. */
static void sp__notice(void *arg, const char *msg) {
  (void)arg;
  (void)msg;
}

PGconn *sp__connect(const char *conninfo) {
  /* dbname (the URL) last: what it sets wins over these defaults */
  const char *const keys[] = {"connect_timeout", "application_name", "keepalives_idle", "dbname", NULL};
  const char *const vals[] = {"5", "ferry-collector", "30", conninfo, NULL};
  PGconn *c = PQconnectdbParams(keys, vals, 1);
  if (c) PQsetNoticeProcessor(c, sp__notice, NULL);
  return c;
}

int sp__prepare(store_pg *s) {
  for (int i = 0; i < SP_COUNT_; i++) {
    char name[16];
    snprintf(name, sizeof(name), "f%d", i);
    PGresult *res = PQprepare(s->conn, name, sp_sql[i], 0, NULL);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok) {
      char what[64];
      snprintf(what, sizeof(what), "prepare \"%.40s\"", sp_sql[i]);
      int r = sp__fail(s, what, res);
      PQclear(res);
      return r;
    }
    PQclear(res);
  }
  s->prepared = true;
  return 0;
}

int sp__ready(store_pg *s) {
  if (sp__conn_ok(s)) return s->prepared || !s->schema_ready ? 0 : sp__prepare(s);
  if (s->tx_open) {
    snprintf(s->err, sizeof(s->err), "the database connection was lost inside a transaction");
    return -EIO;
  }
  uint64_t now = tf_mono_ms();
  if (now < s->next_try_ms) {
    snprintf(s->err, sizeof(s->err), "not connected (next try in %" PRIu64 " ms): %.190s",
             s->next_try_ms - now, s->conn_err);
    return -EIO;
  }
  if (s->conn) PQfinish(s->conn);
  s->prepared = false;
  s->conn = sp__connect(s->conninfo);
  if (!sp__conn_ok(s)) {
    sp__msg(s, "connect", s->conn ? PQerrorMessage(s->conn) : "out of memory");
    snprintf(s->conn_err, sizeof(s->conn_err), "%.190s", s->err);
    s->next_try_ms = tf_mono_ms() + s->delay_ms;
    s->delay_ms = s->delay_ms * 2 > SP_RETRY_MAX_MS ? SP_RETRY_MAX_MS : s->delay_ms * 2;
    return -EIO;
  }
  s->delay_ms = SP_RETRY_MIN_MS;
  s->next_try_ms = 0;
  return s->schema_ready ? sp__prepare(s) : 0;
}

void sp__p_begin(store_pg *s) { s->np = 0; }

void sp__p_str(store_pg *s, const char *v) {
  if (s->np < SP_MAX_PARAMS) s->pv[s->np++] = v;
}

void sp__p_i64(store_pg *s, int64_t v) {
  if (s->np >= SP_MAX_PARAMS) return;
  snprintf(s->pnum[s->np], sizeof(s->pnum[0]), "%" PRId64, v);
  s->pv[s->np] = s->pnum[s->np];
  s->np++;
}

void sp__p_f64(store_pg *s, double v) {
  if (s->np >= SP_MAX_PARAMS) return;
  snprintf(s->pnum[s->np], sizeof(s->pnum[0]), "%.17g", v);
  s->pv[s->np] = s->pnum[s->np];
  s->np++;
}

PGresult *sp__run(store_pg *s, int which, const char *what, int *ret_err) {
  int r = sp__ready(s);
  if (r < 0) {
    *ret_err = r;
    return NULL;
  }
  char name[16];
  snprintf(name, sizeof(name), "f%d", which);
  PGresult *res = PQexecPrepared(s->conn, name, s->np, s->pv, NULL, NULL, 0);
  ExecStatusType st = PQresultStatus(res);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return res;
  *ret_err = sp__fail(s, what, res);
  PQclear(res);
  return NULL;
}

int sp__exec(store_pg *s, int which, const char *what) {
  int r = 0;
  PGresult *res = sp__run(s, which, what, &r);
  PQclear(res);
  return r;
}

int sp__sql(store_pg *s, const char *sql, const char *what) {
  int r = sp__ready(s);
  if (r < 0) return r;
  PGresult *res = PQexec(s->conn, sql);
  ExecStatusType st = PQresultStatus(res);
  r = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : sp__fail(s, what, res);
  /* COMMIT of a failed transaction "succeeds" as ROLLBACK */
  if (r == 0 && strcmp(sql, "COMMIT") == 0 && strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
    snprintf(s->err, sizeof(s->err), "commit: the transaction was rolled back");
    r = -EIO;
  }
  PQclear(res);
  return r;
}

int64_t sp__i64(const PGresult *r, int row, int col) {
  if (PQgetisnull(r, row, col)) return 0;
  return strtoll(PQgetvalue(r, row, col), NULL, 10);
}
