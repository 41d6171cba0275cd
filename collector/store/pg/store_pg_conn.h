/* store_pg_conn: the PostgreSQL store's handle, its connection/statement
 * helpers and the array-literal builder (store_pg_conn.c). store_pg.c is
 * schema, ingest and delivery; store_pg_metrics.c is the metrics side (rollup
 * upkeep and reads); both include this, neither includes the other. */
#ifndef FERRY_COLLECTOR_STORE_PG_CONN_H
#define FERRY_COLLECTOR_STORE_PG_CONN_H

#include <libpq-fe.h>

#include "rollup_query.h"
#include "store.h"
#include "store_models.h"
#include "strbuf.h"
#include "store_pg_sql.h"
#include "store_txmemo.h"

/* PostgreSQL array literals ({"a","b",NULL}) are built in a strbuf bounded
 * by the 1 GiB PostgreSQL accepts for one parameter. */
typedef strbuf sp_buf;
#define SP_BUF_MAX ((size_t)1 << 30)

void sp_buf_reset(sp_buf *b);                          /* starts an array: "{" */
void sp_buf_str(sp_buf *b, const char *v, size_t len); /* one element (v NULL = NULL) */
void sp_buf_i64(sp_buf *b, int64_t v);
const char *sp_buf_end(sp_buf *b); /* "}" and the text, or NULL when an append failed */
void sp_buf_clear(sp_buf *b);

#define SP_RETRY_MIN_MS 100 /* reconnect backoff */
#define SP_RETRY_MAX_MS 5000
#define SP_NBUF         12
#define SP_MAX_PARAMS   16

typedef struct store_pg {
  store base;
  PGconn *conn; /* NULL or bad: reconnect on next use (with backoff) */
  char *conninfo;
  bool reader;
  bool prepared;      /* the statements exist on this connection */
  bool schema_ready;  /* open has checked/migrated the schema: statements can be prepared */
  bool tx_open;       /* begin() succeeded, commit()/rollback() not yet called */
  char conn_err[200]; /* why the last connection attempt failed */
  int64_t max_state_ms;
  size_t slice_events; /* most events a rollup build holds (0: RSL_SLICE_EVENTS) */
  char err[256];
  uint64_t next_try_ms; /* tf_mono_ms before which no reconnect is tried */
  uint64_t delay_ms;    /* the next reconnect delay */
  /* parameters of the statement being built */
  const char *pv[SP_MAX_PARAMS];
  char pnum[SP_MAX_PARAMS][24];
  int np;
  sp_buf arr[SP_NBUF]; /* array literals (reused) */
  st_txmemo memo;      /* writer only: this transaction's writes, known ids */
  /* the current batch's dirty hours and new ids, written by spm_flush */
  sp_buf m_hours, m_kinds, m_ids;
  sm_pending models; /* the batch's model cells not yet written */
  sp_buf marr[12];   /* their array literals */
  size_t n_m_hours, n_m_ids;
} store_pg;

#define SP(s) ((store_pg *)(s))

/* Make sure a working connection exists (reconnecting, at most once per
 * backoff delay). 0, or -EIO with s->err. */
int sp__ready(store_pg *s);
/* A fresh connection (server notices silenced). */
PGconn *sp__connect(const char *conninfo);
/* Prepare every statement of store_pg_sql.h on s->conn. */
int sp__prepare(store_pg *s);
bool sp__conn_ok(const store_pg *s);
/* The first line of a libpq message into s->err after "what: ". */
void sp__msg(store_pg *s, const char *what, const char *msg);
/* s->err from res (or the connection), and the negative errno its SQLSTATE
 * means (-EBUSY, -ENOSPC, -ENOMEM, -EROFS, -EEXIST, else -EIO). */
int sp__fail(store_pg *s, const char *what, const PGresult *res);
/* Parameters: start a statement, then add in order. */
void sp__p_begin(store_pg *s);
void sp__p_str(store_pg *s, const char *v); /* NULL = SQL NULL */
void sp__p_i64(store_pg *s, int64_t v);
void sp__p_f64(store_pg *s, double v);
/* Run prepared statement which with the parameters given. Returns the
 * result (PGRES_COMMAND_OK or PGRES_TUPLES_OK), or NULL with s->err set and
 * *ret_err a negative errno. The caller PQclears. */
PGresult *sp__run(store_pg *s, int which, const char *what, int *ret_err);
/* Same, for statements whose rows are not needed. */
int sp__exec(store_pg *s, int which, const char *what);
/* A plain SQL string without parameters (BEGIN, SAVEPOINT ...). */
int sp__sql(store_pg *s, const char *sql, const char *what);
/* A failed result: s->err and a negative errno. */
int sp__fail(store_pg *s, const char *what, const PGresult *res);
int64_t sp__i64(const PGresult *r, int row, int col);

#endif
