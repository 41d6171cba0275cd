/* config: every ferry-collector option, declared once in a table
 * (common/options.h) for flags, FERRY_* environment, the config file and
 * --help alike, plus the checks that span options (a token or an explicit
 * --insecure-* flag is required; token files are read; the db URL is split). */
#ifndef FERRY_COLLECTOR_CONFIG_H
#define FERRY_COLLECTOR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "options.h"

typedef enum { COL_DB_SQLITE = 0, COL_DB_POSTGRES } col_db_kind;

typedef struct col_config {
  /* options (opt_parse fills these) */
  char *listen;
  char *db;
  char *auth_token;
  char *auth_token_file;
  char *tokens_file;
  bool insecure_no_auth;
  char *read_token;
  char *read_token_file;
  bool insecure_open_reads;
  char *admin_token; /* registry writes (SPEC §6.6) */
  char *admin_token_file;
  int unknown_ids; /* index into "accept|flag|reject" (SPEC §6.6) */
  int64_t max_state_s;
  int64_t max_future_s;
  int64_t retention_days;
  double low_confidence; /* models: confidence below it is low */
  int64_t max_body_bytes;
  int64_t max_connections;
  int64_t conn_timeout_s;
  int log_level;               /* index into "error|warning|notice|info|debug" */
  int log_format;              /* FLOG_FORMAT_*: text|json */
  int64_t log_summary_s;       /* one summary line per this many seconds while busy */
  int64_t queue_max;           /* ingest batches waiting for the writer */
  int64_t queue_max_bytes;     /* decoded bytes of those batches */
  int64_t sqlite_cache;        /* page cache of the SQLite writer connection */
  int64_t sqlite_reader_cache; /* page cache of each SQLite reader handle */
  int64_t malloc_arenas;       /* glibc malloc arenas; 0 = 2 unless MALLOC_ARENA_MAX */
  int64_t max_commit_wait_s;   /* answer 503 rather than wait longer for a commit */
  int64_t idempotency_days;    /* how long replayed batches are recognised */
  char *tls_cert;              /* PEM chain served over HTTPS (with tls_key) */
  char *tls_key;
  char *tls_client_ca;            /* agents must present a certificate from this CA */
  int64_t max_ingest_inflight;    /* ingest batches applied at once; 0 = 2 x cores */
  int64_t max_ingest_queue;       /* admitted beyond them; 0 = 8 x max_ingest_inflight */
  int64_t max_ingest_queue_bytes; /* their received bodies; 0 = 4 x max_body_bytes */
  double agent_rate;              /* ingest requests per second per agent; 0 = unlimited */
  int64_t agent_burst;            /* requests an idle agent may send at once */
  int64_t agent_max_concurrent;   /* ingest requests of one agent in progress at once */
  int64_t batch_max_events;       /* events in one ingest batch (413 past it) */
  double watchdog_stall_s;        /* writer stuck this long: stop feeding the watchdog */
  /* derived by col_config_finish */
  col_db_kind db_kind;
  char *db_path;            /* sqlite file, or the postgres URL (malloc'd) */
  int low_confidence_milli; /* low_confidence in thousandths */
} col_config;

extern const opt_def col_opt_defs[];
extern const size_t col_n_opt_defs;
/* Old spellings still accepted (docs/spec.md); attached with opt_set_aliases
 * before the first parse. */
extern const opt_alias col_opt_aliases[];
extern const size_t col_n_opt_aliases;

/* The flog level of cfg->log_level. */
int col_config_flog_level(const col_config *cfg);

/* Checks across options and reads the token files into auth (which the
 * caller zeroed). -EINVAL with one line naming the key in err. */
int col_config_finish(col_config *cfg, col_auth *auth, char *err, size_t errlen);

/* Only the db option (for commands that need no tokens): 0 or -EINVAL with err. */
int col_config_db(col_config *cfg, char *err, size_t errlen);

/* The database for log lines: the sqlite path, or the URL with its
 * password (if any) replaced by ***. */
void col_config_db_display(const col_config *cfg, char *out, size_t outlen);

void col_config_clear(col_config *cfg);

#endif
