/* store: the collector's storage interface. A backend (SQLite now,
 * PostgreSQL later) implements store_ops; everything above it — the writer
 * thread, the HTTP handlers — speaks only this interface.
 *
 * Threading: a store is used by one thread at a time (the writer thread);
 * reads that must not wait behind it use open_reader's handles.
 * Ingest is group-committed: begin(), then apply() once per batch (each batch
 * in its own savepoint, so one failing batch never fails another), then
 * commit(). Nothing in the group is acknowledged before commit() returns 0. */
#ifndef FERRY_COLLECTOR_STORE_H
#define FERRY_COLLECTOR_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "delivery.h"
#include "metrics.h"
#include "models.h"
#include "rollup_site.h"

typedef struct store store;
struct sm_window; /* store_models.h */

/* One batch to apply. */
typedef struct st_ingest {
  const bt_batch *batch;
  int64_t received_at_ms; /* the collector clock when the request arrived */
  const char *version;    /* from User-Agent "ferry-agent/X.Y.Z", or NULL */
} st_ingest;

/* What to answer for one batch. */
typedef struct st_result {
  unsigned status;   /* 200, 400 (dropped range out of bounds), 422 (key reused) */
  char code[40];     /* error code when status != 200 */
  char message[256]; /* error message when status != 200 */
  char *body;        /* status 200: the answer JSON (malloc'd; caller frees) */
  int64_t accepted, duplicates, conflicts;
  bool replay; /* answered from the idempotency table */
} st_result;

typedef struct st_epoch_info {
  char epoch[BT_EPOCH_LEN + 1];
  int64_t first_seen, last_seen; /* UTC ms */
  dlv_figures fig;
} st_epoch_info;

typedef struct st_agent_info {
  char agent_id[65];
  int64_t last_seen; /* UTC ms */
  char version[64];  /* "" when never sent */
  bool has_skew;
  double clock_skew_s;
  bool has_stats;
  int64_t backlog;
  double oldest_pending_s;
  int64_t conflicts;
  st_epoch_info *epochs; /* sorted by first contact, oldest first */
  size_t n_epochs;
  size_t latest; /* index of the most recent first contact */
} st_agent_info;

/* Which ids a metrics read is about (both NULL: every worker and station). */
typedef struct st_metrics_query {
  int64_t from_ms, to_ms;     /* the window [from, to), from < to */
  const char *worker_id;      /* only this worker's figures are needed (lists may hold only it) */
  const char *workstation_id; /* only this station's figures are needed */
  const rsite_filter *filter; /* site= / line= (SPEC §6.6); NULL: every event */
} st_metrics_query;

typedef enum { ST_ID_WORKER = 0, ST_ID_STATION = 1 } st_id_kind;

/* A stored event's place in export order: (ts, agent_id, event_id), byte order. */
typedef struct st_export_key {
  int64_t ts_ms;
  char agent_id[65];
  char event_id[129];
} st_export_key;

/* GET /v1/events/export (SPEC §6.3): which stored events, oldest first. */
typedef struct st_export_query {
  int64_t from_ms, to_ms;                             /* ts in [from, to) */
  const char *camera_id, *model_version, *event_type; /* NULL = any */
  bool has_max_conf;                                  /* only events with confidence <= max_conf */
  double max_conf;
  bool has_after; /* only events after this key */
  st_export_key after;
  bool has_until; /* only events up to this key (included) */
  st_export_key until;
  int64_t limit; /* at most this many */
} st_export_query;

/* One exported event: its key, and its stored body (the normal form). A
 * nonzero return stops the export (and is returned by export_events). */
typedef int (*st_export_row_fn)(void *ctx, const st_export_key *k, const char *body, size_t len);
/* When an id's events happened (GET /v1/workers, /v1/workstations). */
typedef struct st_id_span {
  st_id_kind kind;
  char id[EV_REF_MAX + 1];
  bool seen;                 /* first_ms/last_ms are set */
  int64_t first_ms, last_ms; /* timestamps of its first and last stored event */
} st_id_span;

/* How registry_put changes the plant registry (SPEC §6.6): given the current
 * document (NULL when none was ever written) and its version, answer 0 with
 * *ret_doc (malloc'd JSON text: the new document), a positive value to refuse
 * (nothing is written), or a negative errno. */
typedef int (*st_registry_edit)(void *arg, const char *cur_doc, int64_t cur_version, char **ret_doc);

typedef struct store_ops {
  const char *name;
  int (*begin)(store *s);
  /* Apply one batch inside the open transaction. Returns 0 with *ret filled
   * (status may be a client error, in which case nothing of the batch was
   * kept), or a negative errno for a storage failure (the batch was rolled
   * back to its savepoint; see in_transaction). */
  int (*apply)(store *s, const st_ingest *in, st_result *ret);
  /* Whether the transaction opened by begin() is still open (a storage
   * failure may have rolled back all of it). */
  bool (*in_transaction)(store *s);
  int (*commit)(store *s);
  void (*rollback)(store *s);
  /* All agents sorted by agent_id, with their epochs and delivery figures. */
  int (*list_agents)(store *s, st_agent_info **ret, size_t *ret_n);
  /* A trivial query: is the database answering? */
  int (*ping)(store *s);
  /* How many hours' rollups are stale: marked by ingest and not rebuilt
   * yet (queries compute those hours from their events, so they answer
   * exactly but slower). Any handle. */
  int (*stale_hours)(store *s, int64_t *ret_n);
  /* Forget idempotency keys created before before_ms. */
  int (*purge)(store *s, int64_t before_ms);
  /* ---- metrics (SPEC §3). The figures equal metrics_compute over every
   * stored event; how a backend keeps them fast is its own business. ---- */
  /* Bring derived data (rollups) up to date a little: at most max_units of
   * work (for SQLite, hours rebuilt) in its own transaction. *ret_more is set
   * when more is left. Writer thread, between groups. */
  int (*maintain)(store *s, int max_units, bool *ret_more);
  /* A second handle on the same database for reads on another thread: it
   * serves metrics, id_known and ping only, never blocks on the writer, and
   * sees only committed data. Close it with its ops->close. */
  int (*open_reader)(store *s, store **ret, char *err, size_t errlen);
  /* The figures of q's window (lists sorted by id). A query with worker_id
   * or workstation_id set may leave other ids out. Free with
   * metrics_result_clear. */
  int (*metrics)(store *s, const st_metrics_query *q, metrics_result *ret);
  /* Whether any stored event ever named the id (404 vs zeros). */
  int (*id_known)(store *s, st_id_kind kind, const char *id, bool *ret);
  /* ---- model figures (SPEC §6.3) ---- For each of the n windows
   * [from_ms, to_ms) (in one snapshot), add the cells of every camera and
   * model version with events in it to sets[i] (initialised by the caller).
   * Reader handles. */
  int (*models)(store *s, const struct sm_window *w, size_t n, models_set *sets);
  /* The events matching q, oldest first (reader handles; streamed: memory
   * does not grow with the window), in two passes over one snapshot: first
   * counted (up to q->limit), then between(ctx, q) is told where the page
   * ends (q->has_until and q->until set when the page is full), then fn is
   * called for each event of the page. A nonzero return of a callback stops
   * the export and is returned. */
  int (*export_events)(store *s, st_export_query *q, int (*between)(void *ctx, const st_export_query *q),
                       st_export_row_fn fn, void *ctx);
  /* Every id ever seen, sorted by kind then id, with its first and last
   * event time (malloc'd array). Reader handles too. */
  int (*id_spans)(store *s, st_id_span **ret, size_t *ret_n);
  /* ---- the plant registry (SPEC §6.6), kept as versioned documents ---- */
  /* The current document (malloc'd; NULL and version 0 when none). Any handle.
   * ret_doc NULL: only the version (and time) are read, not the document. */
  int (*registry_get)(store *s, int64_t *ret_version, int64_t *ret_updated_ms, char **ret_doc);
  /* In a transaction of its own (never inside begin/commit): read the
   * current document, let edit make the next one, store it as version + 1.
   * 0 with *ret_version, edit's positive refusal, or a negative errno. Not
   * on a reader handle. */
  int (*registry_put)(store *s, st_registry_edit edit, void *arg, int64_t now_ms, int64_t *ret_version);
  /* Text of the last storage error, for the caller's log line. */
  const char *(*last_error)(store *s);
  void (*close)(store *s);
} store_ops;

struct store {
  const store_ops *ops; /* every backend embeds this as its first member */
};

/* Open (creating if needed) the SQLite store at path. max_state_ms is the
 * state cap the metrics use (rollups built with another are rebuilt). 0, or a
 * negative errno with a message in err. */
int store_sqlite_open(const char *path, int64_t max_state_ms, store **ret, char *err, size_t errlen);

/* Page cache sizes of a SQLite store opened by store_sqlite_open: its own
 * (the writer's) connection, and each reader handle opened from it later
 * (0 keeps the built-in size: 32 MiB and 8 MiB). Before any reader opens.
 * The Bloom filter of random ids' keys (sqlite/ss_keyfold.h) is bounded by
 * a quarter of the writer's cache (8 MiB by default; none under 4 MiB). */
int store_sqlite_set_cache(store *st, int64_t writer_bytes, int64_t reader_bytes);

/* The most events a rollup build or a query's built hour or edge holds in
 * memory at once (collector/metrics/rollup_slices.h; 0: the built-in
 * RSL_SLICE_EVENTS). Tests set a small one to cut hours into many slices.
 * Before any reader opens. */
void store_sqlite_set_slice(store *st, size_t events);
/* The same for a store opened by store_pg_open. */
void store_pg_set_slice(store *st, size_t events);

/* Rollup upkeep passes over the hours ingest marked dirty in the last ms
 * milliseconds (default 500; 0: never): under load they are being written
 * and would be dirty again at once. Tests set 0 to rebuild what they just
 * wrote, or a long one to see hours passed over. */
void store_sqlite_set_hot(store *st, int64_t ms);

/* How many random keys wait in ev_key_new before they are folded into
 * ev_key (sqlite/ss_keyfold.h; 0: the default rule, about the square root
 * of 4,096 × the events stored). Tests set a small number. */
void store_sqlite_set_key_fold(store *st, int64_t keys);

/* How many queries on st and its readers may build stale hours at once
 * (store/build_gate.h; default: the CPU cores). Tests set 1. */
void store_sqlite_set_build_width(store *st, unsigned n);

/* The stale-hour builds of queries on st and its readers so far (pieces of
 * a few hours, each through that gate), and the most that ever ran at
 * once. For tests. */
void store_sqlite_build_stats(store *st, uint64_t *ret_entered, unsigned *ret_max_inside);

/* Open the PostgreSQL store at conninfo (a postgres:// URL or libpq
 * key=value string), creating or migrating its schema. Same contract. */
int store_pg_open(const char *conninfo, int64_t max_state_ms, store **ret, char *err, size_t errlen);

void st_result_clear(st_result *r);
void st_agents_free(st_agent_info *a, size_t n);

#endif
