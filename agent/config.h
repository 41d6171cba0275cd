/* config: every option of ferry-agent, declared once in a table (common/options)
 * and checked as a whole after parsing. The checks that need more than one
 * option or a look at the system (agent id defaulting to the hostname, loopback
 * rules for --listen and --collector, the token file) live here so that main
 * only has to print the one error line and exit 2.
 *
 * Nothing here logs: warnings are handed back in cfg->warnings for the caller. */
#ifndef FERRY_AGENT_CONFIG_H
#define FERRY_AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "options.h"

enum { AGENT_OVERFLOW_DROP_OLDEST = 0, AGENT_OVERFLOW_REJECT = 1 };
enum { AGENT_DURABILITY_FSYNC = 0, AGENT_DURABILITY_OS = 1 };
enum { AGENT_MQTT_V311 = 0, AGENT_MQTT_V5 = 1 };
enum { AGENT_COMPRESSION_ZSTD = 0, AGENT_COMPRESSION_GZIP = 1, AGENT_COMPRESSION_NONE = 2 };
/* log_level enum index, in the order of the "choices" string */
enum { AGENT_LOG_ERROR = 0, AGENT_LOG_WARNING, AGENT_LOG_NOTICE, AGENT_LOG_INFO, AGENT_LOG_DEBUG };

#define AGENT_ID_MAX       64
#define AGENT_TOKEN_MAX    4096 /* longest token (file or flag) we accept */
#define AGENT_MAX_WARNINGS 4

typedef struct agent_config {
  char *listen;     /* "HOST:PORT" or "unix:/PATH" */
  char *journal;    /* journal file path */
  char *collector;  /* base URL, http(s):// */
  char *agent_id;   /* after validation: never NULL */
  char *site;       /* NULL: the collector's registry maps this agent to a site */
  char *auth_token; /* after validation: the token to send, or NULL */
  char *auth_token_file;
  char *ingest_token; /* protects the local API when set */
  int64_t max_journal_bytes;
  int64_t max_wal_bytes;
  int overflow;   /* AGENT_OVERFLOW_* */
  int durability; /* AGENT_DURABILITY_* */
  int64_t batch_max_events;
  int64_t backfill_batch_max_events; /* 0 = 4 x batch_max_events, at most 10000 */
  double live_window;                /* seconds; 0 = one lane */
  int64_t upload_window;             /* uploads in flight at once */
  int64_t batch_max_bytes;
  int compression; /* AGENT_COMPRESSION_* */
  double retry_initial;
  double retry_max;
  int64_t max_dead_letter_bytes; /* default: min(64 MiB, max_journal_bytes / 4) */
  bool max_dead_letter_explicit; /* set by file, environment or flag */
  int64_t dedup_max_bytes;       /* bound on the journal's in-memory event_id table */
  bool insecure_open_ingest;
  bool insecure_http;
  int64_t max_body_bytes; /* local ingest body limit */
  double heartbeat_interval;
  double connect_timeout;
  double request_timeout;
  int64_t collector_max_body_bytes; /* the agent never sends a larger body */
  char *machine_id_file;
  int log_level;       /* AGENT_LOG_* */
  int log_format;      /* FLOG_FORMAT_*: text|json */
  double max_future_s; /* warn at ingest about events further ahead of the clock */
  int64_t max_connections;
  int64_t conn_timeout_s; /* local API idle connection timeout */
  char *ca_file;          /* PEM CAs trusted for the collector (default: system store) */
  char *pin_sha256;       /* "BASE64[;BASE64...]": SHA-256 of the collector's public key(s) */
  char *tls_client_cert;  /* PEM certificate for mTLS (with tls_client_key) */
  char *tls_client_key;
  char *pinned_pubkey;     /* derived from pin_sha256 for CURLOPT_PINNEDPUBLICKEY, or NULL */
  double watchdog_stall_s; /* see agent/main.c's watchdog */
  /* MQTT source (SPEC §6.1) */
  char *mqtt_url;       /* mqtt://HOST[:PORT] or mqtts://HOST[:PORT]; NULL: no MQTT source */
  char *mqtt_topic;     /* topic filters joined by '\n' (OPT_F_LIST) */
  char *mqtt_client_id; /* default ferry-{agent_id} (filled by validate) */
  char *mqtt_username;
  char *mqtt_password_file;
  char *mqtt_ca_file;
  int mqtt_protocol; /* AGENT_MQTT_V311 / AGENT_MQTT_V5 */
  char *mapping;     /* mapping file (JSON with comments) */
  char *map_test;    /* --map-test PAYLOAD_FILE: print the events, run nothing */
  char *map_topic;   /* topic the --map-test payload is taken to arrive on */
  /* parsed from mqtt_url by validate */
  char mqtt_host[256];
  int mqtt_port;
  bool mqtt_tls;

  /* filled by agent_config_validate, for the caller to log */
  char warnings[AGENT_MAX_WARNINGS][200];
  int n_warnings;
} agent_config;

extern const opt_def agent_opt_defs[];
extern const size_t agent_opt_count;

/* Parse flags/env/file/defaults into cfg (zeroed by the caller) and, unless
 * --help or --version was asked for, validate. Returns 0, or -EINVAL with one
 * line in err naming the key. */
int agent_config_load(agent_config *cfg, int argc, char **argv, opt_cli *ret_cli, char *err, size_t errlen);

/* The cross-option checks described above; fills defaults that depend on the
 * system (agent id from gethostname) and resolves the token. Returns 0 or
 * -EINVAL with err naming the key. */
int agent_config_validate(agent_config *cfg, char *err, size_t errlen);

/* Defaults that follow other options (max_dead_letter_bytes follows
 * max_journal_bytes unless set explicitly, as cli->source tells). */
void agent_config_derive(agent_config *cfg, const opt_cli *cli);

void agent_config_clear(agent_config *cfg);

/* 1–64 chars of [A-Za-z0-9._-]. */
bool agent_id_valid(const char *id);
/* Split mqtt://HOST[:PORT] / mqtts://HOST[:PORT] (default ports 1883 / 8883;
 * IPv6 in brackets). Returns 0 or -EINVAL. */
int agent_mqtt_url(const char *url, char *host, size_t hostlen, int *ret_port, bool *ret_tls);
/* "localhost", 127.0.0.0/8, ::1 (also bracketed "[::1]"), case-insensitive. */
bool agent_host_is_loopback(const char *host, size_t len);
/* --listen: "unix:/PATH" counts as local. Returns 1 loopback/local, 0 not,
 * -EINVAL when the value is not HOST:PORT or unix:/PATH. */
int agent_listen_is_loopback(const char *listen);
/* Split an http(s) URL: *ret_https, host span (brackets kept for IPv6).
 * Returns 0 or -EINVAL (not http(s)://, no host). */
int agent_url_host(const char *url, bool *ret_https, const char **ret_host, size_t *ret_hostlen);
/* --pin-sha256 value ("B64", "sha256//B64", several joined by ';' or ',')
 * into curl's "sha256//B64;sha256//B64" form. Each B64 must be the base64 of
 * 32 bytes (44 characters ending in '='). 0, or -EINVAL with err set. */
int agent_pin_to_curl(const char *in, char *out, size_t outlen, char *err, size_t errlen);

#endif
