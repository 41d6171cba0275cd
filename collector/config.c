/* config: ferry-collector's option table and cross-option checks. Every
 * option the collector reads is here, with its default and help text, so
 * --help, the config file keys and FERRY_* variables never disagree. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secret_file.h"
#include "log.h"
#include "pathcheck.h"
#include "models.h"

#define O(f) offsetof(col_config, f)

const opt_def col_opt_defs[] = {
    {"listen", OPT_STR, O(listen), "0.0.0.0:8700", "HOST:PORT to serve HTTP on", NULL, 0, 0, 0},
    {"db", OPT_STR, O(db), "sqlite:/var/lib/ferry-collector/ferry.db",
     "database: sqlite:/PATH, a plain PATH, or postgres://USER@HOST:PORT/DB (several replicas may share one)",
     NULL, 0, 0, 0},
    {"auth-token", OPT_STR, O(auth_token), NULL, "the shared agent token (or auth-token-file)", NULL, 0, 0,
     OPT_F_SECRET},
    {"auth-token-file", OPT_STR, O(auth_token_file), NULL,
     "file holding the shared agent token (surrounding whitespace stripped)", NULL, 0, 0, 0},
    {"tokens-file", OPT_STR, O(tokens_file), NULL,
     "per-agent tokens: lines \"agent_id sha256hex(token)\", mode 0600; re-read on SIGHUP", NULL, 0, 0, 0},
    {"insecure-no-auth", OPT_BOOL, O(insecure_no_auth), "false",
     "accept uploads without any agent token (explicit opt-out)", NULL, 0, 0, 0},
    {"read-token", OPT_STR, O(read_token), NULL, "token for the read endpoints (or read-token-file)", NULL, 0,
     0, OPT_F_SECRET},
    {"read-token-file", OPT_STR, O(read_token_file), NULL,
     "file holding the read token (surrounding whitespace stripped)", NULL, 0, 0, 0},
    {"insecure-open-reads", OPT_BOOL, O(insecure_open_reads), "false",
     "serve the read endpoints without a token (they hold per-worker data)", NULL, 0, 0, 0},
    {"admin-token", OPT_STR, O(admin_token), NULL,
     "token for registry writes, PUT /v1/registry (prefer admin-token-file); none: no writes over HTTP", NULL,
     0, 0, OPT_F_SECRET},
    {"admin-token-file", OPT_STR, O(admin_token_file), NULL, "file holding the admin token", NULL, 0, 0, 0},
    {"unknown-ids", OPT_ENUM, O(unknown_ids), "accept",
     "events naming a worker or workstation the registry does not list: accept them, flag them "
     "(GET /v1/registry/unknown) or reject them (unknown_worker / unknown_workstation)",
     "accept|flag|reject", 0, 0, 0},
    {"max-state-s", OPT_INT, O(max_state_s), "600",
     "longest a worker state lasts without a following state event, seconds", NULL, 1, 31536000, 0},
    {"max-future-s", OPT_INT, O(max_future_s), "300",
     "events further ahead of the collector clock are rejected, seconds", NULL, 0, 31536000, 0},
    {"retention-days", OPT_INT, O(retention_days), "0",
     "events older than this are rejected on ingest; 0 keeps everything", NULL, 0, 36500, 0},
    {"low-confidence", OPT_SECONDS, O(low_confidence), "0.5",
     "a confidence below this is low (GET /v1/metrics/models, drift): 0 to 1, at most 3 decimals", NULL, 0, 1,
     0},
    {"max-body-bytes", OPT_SIZE, O(max_body_bytes), "8MiB",
     "largest ingest body, after decoding (413 past it)", NULL, 1024, 1073741824.0, 0},
    {"max-connections", OPT_INT, O(max_connections), "256", "simultaneous HTTP connections", NULL, 1, 65535,
     0},
    {"conn-timeout-s", OPT_INT, O(conn_timeout_s), "30",
     "idle/slow HTTP connections are closed after this many seconds", NULL, 1, 3600, 0},
    {"log-level", OPT_ENUM, O(log_level), "info", "least severe level logged",
     "error|warning|notice|info|debug", 0, 0, 0},
    {"log-format", OPT_ENUM, O(log_format), "text",
     "log lines as text (with a timestamp unless under journald) or one JSON object each", "text|json", 0, 0,
     0},
    {"log-summary-s", OPT_INT, O(log_summary_s), "60",
     "log one summary line (batches, events, refusals, agents, backlog) per this many seconds while "
     "anything happened",
     NULL, 1, 86400, 0},
    {"queue-max", OPT_INT, O(queue_max), "256",
     "ingest batches waiting for the database writer; more are answered 503", NULL, 1, 100000, 0},
    {"queue-max-bytes", OPT_SIZE, O(queue_max_bytes), "256MiB",
     "decoded bytes of the batches waiting for the writer; more are answered 503", NULL, 1048576.0,
     68719476736.0, 0},
    {"sqlite-cache", OPT_SIZE, O(sqlite_cache), "32MiB",
     "page cache of the SQLite writer connection (sqlite: databases; the collector's RSS grows by up to "
     "this, and by up to a quarter of it for the filter of random event ids' keys)",
     NULL, 1048576.0, 17179869184.0, 0},
    {"sqlite-reader-cache", OPT_SIZE, O(sqlite_reader_cache), "8MiB",
     "page cache of each of the 4 SQLite reader handles the metrics and agents queries use", NULL, 1048576.0,
     17179869184.0, 0},
    {"malloc-arenas", OPT_INT, O(malloc_arenas), "0",
     "glibc malloc arenas the collector's threads share (each thread otherwise gets its own, up to 8 x "
     "the CPU cores, and each keeps the memory its batches freed); 0 = 2, or MALLOC_ARENA_MAX when that "
     "is set in the environment",
     NULL, 0, 1024, 0},
    {"max-commit-wait-s", OPT_INT, O(max_commit_wait_s), "30",
     "a batch that could not be committed within this many seconds is answered 503", NULL, 1, 3600, 0},
    {"idempotency-days", OPT_INT, O(idempotency_days), "30",
     "how long a batch's Idempotency-Key is remembered (replays answer as duplicates)", NULL, 1, 36500, 0},
    {"tls-cert", OPT_STR, O(tls_cert), NULL,
     "serve HTTPS with this PEM certificate chain (leaf first); re-read on SIGHUP", NULL, 0, 0, 0},
    {"tls-key", OPT_STR, O(tls_key), NULL,
     "the PEM private key of tls-cert (unencrypted; refused when others may read it); re-read on SIGHUP",
     NULL, 0, 0, 0},
    {"tls-client-ca", OPT_STR, O(tls_client_ca), NULL,
     "require agents to present a certificate from this PEM CA whose CN or DNS SAN is "
     "their agent_id; re-read on SIGHUP",
     NULL, 0, 0, 0},
    {"max-ingest-inflight", OPT_INT, O(max_ingest_inflight), "0",
     "ingest batches in progress at once, collector-wide (429 with Retry-After past it, agents served in "
     "turn); 0 = 2 x the CPU cores",
     NULL, 0, 100000, 0},
    {"max-ingest-queue", OPT_INT, O(max_ingest_queue), "0",
     "ingest batches admitted beyond max-ingest-inflight, waiting their turn in arrival order (past it: 429 "
     "with Retry-After, refused agents served first); 0 = 8 x max-ingest-inflight",
     NULL, 0, 100000, 0},
    {"max-ingest-queue-bytes", OPT_SIZE, O(max_ingest_queue_bytes), "0",
     "received body bytes of the ingest batches admitted and waiting their turn, at most (past it: 429 with "
     "Retry-After, as max-ingest-queue; one batch alone is always admitted); 0 = 4 x max-body-bytes",
     NULL, 0, 1099511627776.0, 0},
    {"agent-rate", OPT_SECONDS, O(agent_rate), "0",
     "ingest requests per second one agent may make on average (429 past it); 0 = no limit (the "
     "collector-wide max-ingest-inflight protects the collector and shares it fairly)",
     NULL, 0, 100000, OPT_F_RATE},
    {"agent-burst", OPT_INT, O(agent_burst), "40",
     "ingest requests one agent may make at once after being idle", NULL, 1, 100000, 0},
    {"agent-max-concurrent", OPT_INT, O(agent_max_concurrent), "9",
     "ingest requests of one agent in progress at the same time (429 past it)", NULL, 1, 1000, 0},
    {"batch-max-events", OPT_INT, O(batch_max_events), "10000",
     "most events in one ingest batch (413 past it: the agent halves its batch)", NULL, 1, 1000000, 0},
    {"watchdog-stall-s", OPT_SECONDS, O(watchdog_stall_s), "120",
     "under a systemd watchdog: stop pinging it when the database writer has work but completes "
     "nothing, or keeps failing, for this long",
     NULL, 1, 86400, 0},
};
const size_t col_n_opt_defs = sizeof(col_opt_defs) / sizeof(col_opt_defs[0]);

/* Spelled as the agent spells the same idea; the collector's first spelling
 * stays accepted. */
const opt_alias col_opt_aliases[] = {
    {"max-batch-events", "batch-max-events"},
};
const size_t col_n_opt_aliases = sizeof(col_opt_aliases) / sizeof(col_opt_aliases[0]);

int col_config_flog_level(const col_config *cfg) {
  static const int levels[] = {FLOG_ERR, FLOG_WARNING, FLOG_NOTICE, FLOG_INFO, FLOG_DEBUG};
  if (cfg->log_level < 0 || cfg->log_level > 4) return FLOG_INFO;
  return levels[cfg->log_level];
}

/* One token from TOKEN or FILE, the two options named key / key_file. */
static int col__token(const char *key, const char *value, const char *file, char **ret, char *err,
                      size_t errlen) {
  *ret = NULL;
  if (value && file) {
    snprintf(err, errlen, "%s: give either %s or %s_file, not both", key, key, key);
    return -EINVAL;
  }
  if (value) {
    if (!*value || strlen(value) > AUTH_TOKEN_MAX) {
      snprintf(err, errlen, "%s: must be 1-%d bytes", key, AUTH_TOKEN_MAX);
      return -EINVAL;
    }
    for (const char *p = value; *p; p++)
      if ((unsigned char)*p < 0x21 || *p == 0x7f) {
        snprintf(err, errlen, "%s: contains whitespace or control characters", key);
        return -EINVAL;
      }
    *ret = strdup(value);
    return *ret ? 0 : -ENOMEM;
  }
  if (file) {
    char e[256];
    int r = secret_file_read(file, AUTH_TOKEN_MAX, ret, NULL, e, sizeof(e));
    if (r < 0) {
      snprintf(err, errlen, "%s_file: %s", key, e);
      return -EINVAL;
    }
  }
  return 0;
}

int col_config_db(col_config *cfg, char *err, size_t errlen) {
  const char *db = cfg->db;
  if (!db || !*db) {
    snprintf(err, errlen, "db: must not be empty");
    return -EINVAL;
  }
  if (strncmp(db, "postgres://", 11) == 0 || strncmp(db, "postgresql://", 13) == 0) {
    cfg->db_kind = COL_DB_POSTGRES;
    free(cfg->db_path);
    cfg->db_path = strdup(db); /* the libpq connection URL */
    return cfg->db_path ? 0 : -ENOMEM;
  }
  const char *path = db;
  if (strncmp(db, "sqlite:", 7) == 0) {
    path = db + 7;
    if (strncmp(path, "//", 2) == 0) path += 2; /* sqlite:///abs/path */
  } else if (strstr(db, "://")) {
    snprintf(err, errlen, "db: unknown scheme in \"%s\"; use sqlite:/PATH or postgres://...", db);
    return -EINVAL;
  }
  if (!*path) {
    snprintf(err, errlen, "db: the sqlite path is empty");
    return -EINVAL;
  }
  cfg->db_kind = COL_DB_SQLITE;
  if (path_check_db_file("db", path, err, errlen) < 0) return -EINVAL;
  free(cfg->db_path);
  cfg->db_path = strdup(path);
  return cfg->db_path ? 0 : -ENOMEM;
}

int col_config_finish(col_config *cfg, col_auth *auth, char *err, size_t errlen) {
  char *shared = NULL, *reader = NULL;
  auth_tokens *tokens = NULL;
  char *admin = NULL;
  int r = col_config_db(cfg, err, errlen);
  if (r < 0) goto out;
  char low[48];
  snprintf(low, sizeof(low), "%.17g", cfg->low_confidence);
  if (models_parse_low(low, &cfg->low_confidence_milli) < 0) {
    snprintf(err, errlen, "low_confidence: %s has more than 3 decimals (use e.g. 0.5 or 0.35)", low);
    r = -EINVAL;
    goto out;
  }
  r = col__token("auth_token", cfg->auth_token, cfg->auth_token_file, &shared, err, errlen);
  if (r < 0) goto out;
  r = col__token("read_token", cfg->read_token, cfg->read_token_file, &reader, err, errlen);
  if (r < 0) goto out;
  r = col__token("admin_token", cfg->admin_token, cfg->admin_token_file, &admin, err, errlen);
  if (r < 0) goto out;
  if (cfg->tokens_file) {
    char e[256];
    r = auth_tokens_load(cfg->tokens_file, &tokens, e, sizeof(e));
    if (r < 0) {
      snprintf(err, errlen, "tokens_file: %s", e);
      r = -EINVAL;
      goto out;
    }
  }
  if (!shared && !tokens && !cfg->insecure_no_auth) {
    snprintf(err, errlen,
             "auth_token: no agent token configured; set auth_token_file, "
             "auth_token or tokens_file (or insecure_no_auth explicitly)");
    r = -EINVAL;
    goto out;
  }
  if (!reader && !cfg->insecure_open_reads) {
    snprintf(err, errlen,
             "read_token: no read token configured; set read_token_file or "
             "read_token (or insecure_open_reads explicitly)");
    r = -EINVAL;
    goto out;
  }
  if (shared && reader && strcmp(shared, reader) == 0) {
    snprintf(err, errlen, "read_token: must differ from the agent token");
    r = -EINVAL;
    goto out;
  }
  if (admin && ((shared && strcmp(shared, admin) == 0) || (reader && strcmp(reader, admin) == 0))) {
    snprintf(err, errlen, "admin_token: must differ from the agent and read tokens");
    r = -EINVAL;
    goto out;
  }
  if (cfg->max_body_bytes < 1024) {
    snprintf(err, errlen, "max_body_bytes: must be at least 1KiB");
    r = -EINVAL;
    goto out;
  }
  if (!cfg->tls_cert != !cfg->tls_key) {
    snprintf(err, errlen, "%s: tls_cert and tls_key go together", cfg->tls_cert ? "tls_key" : "tls_cert");
    r = -EINVAL;
    goto out;
  }
  if (cfg->tls_client_ca && !cfg->tls_cert) {
    snprintf(err, errlen, "tls_client_ca: client certificates need HTTPS; set tls_cert and tls_key");
    r = -EINVAL;
    goto out;
  }
  if (cfg->tls_key) {
    struct stat st;
    if (stat(cfg->tls_key, &st) == 0 && (st.st_mode & 007)) {
      snprintf(err, errlen, "tls_key: %s is accessible by others (mode %03o); chmod o-rwx it", cfg->tls_key,
               (unsigned)(st.st_mode & 0777));
      r = -EINVAL;
      goto out;
    }
  }
  auth_set_shared(auth, shared);
  auth_set_read(auth, reader);
  auth_set_admin(auth, admin);
  auth_replace_tokens(auth, tokens);
  tokens = NULL;
  auth->insecure_no_auth = cfg->insecure_no_auth;
  auth->open_reads = cfg->insecure_open_reads;
  r = 0;
out:
  if (shared) explicit_bzero(shared, strlen(shared));
  if (reader) explicit_bzero(reader, strlen(reader));
  if (admin) explicit_bzero(admin, strlen(admin));
  free(admin);
  free(shared);
  free(reader);
  auth_tokens_free(tokens);
  return r;
}

void col_config_db_display(const col_config *cfg, char *out, size_t outlen) {
  const char *db = cfg->db_path ? cfg->db_path : "";
  const char *scheme = strstr(db, "://");
  const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
  const char *colon = at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
  if (cfg->db_kind != COL_DB_POSTGRES || !colon) {
    snprintf(out, outlen, "%s", db);
    return;
  }
  snprintf(out, outlen, "%.*s:***%s", (int)(colon - db), db, at);
}

void col_config_clear(col_config *cfg) {
  opt_clear(col_opt_defs, col_n_opt_defs, cfg);
  free(cfg->db_path);
  cfg->db_path = NULL;
}
