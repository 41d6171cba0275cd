/* store_pg_int: what the PostgreSQL store's files share — the handle, the
 * connection/statement helpers and the array-literal builder.
 * store_pg.c is connection, schema, ingest and delivery;
 * store_pg_metrics.c is the metrics side (rollup upkeep and reads). */
#ifndef FERRY_COLLECTOR_STORE_PG_INT_H
#define FERRY_COLLECTOR_STORE_PG_INT_H

#include <libpq-fe.h>

#include "store.h"
#include "store_pg_sql.h"
#include "store_txmemo.h"

/* A growing text buffer for PostgreSQL array literals ({"a","b",NULL}). */
typedef struct sp_buf {
  char *p;
  size_t len, cap;
  bool oom;
} sp_buf;

void sp_buf_reset(sp_buf *b);                          /* starts an array: "{" */
void sp_buf_str(sp_buf *b, const char *v, size_t len); /* one element (v NULL = NULL) */
void sp_buf_i64(sp_buf *b, int64_t v);
const char *sp_buf_end(sp_buf *b); /* "}" and the text, or NULL when out of memory */
void sp_buf_free(sp_buf *b);

#define SP_NBUF       12
#define SP_MAX_PARAMS 16

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
  size_t n_m_hours, n_m_ids;
} store_pg;

#define SP(s) ((store_pg *)(s))

/* Make sure a working connection exists (reconnecting, at most once per
 * backoff delay). 0, or -EIO with s->err. */
int sp__ready(store_pg *s);
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
int64_t sp__i64(const PGresult *r, int row, int col);

/* store_pg_metrics.c */
int spm_note_event(store_pg *s, const ev_event *e); /* collect the batch's marks and ids */
int spm_flush(store_pg *s);                         /* write them (inside the batch's savepoint) */
void spm_tx_end(store_pg *s, bool committed);
int spm_open(store_pg *s, char *err, size_t errlen); /* writer: rollups built with this max_state? */
void spm_close(store_pg *s);
int spm_maintain(store *base, int max_units, bool *ret_more);
int spm_metrics(store *base, const st_metrics_query *q, metrics_result *ret);
int spm_id_known(store *base, st_id_kind kind, const char *id, bool *ret);

#endif
