/* config: the agent's option table (each option declared once: name, type,
 * default, help, bounds) and the checks that span options or look at the
 * system. See config.h. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <mosquitto.h>

#include "secret_file.h"


#define O(field) offsetof(agent_config, field)
#define KiB      1024.0
#define MiB      (1024.0 * 1024.0)
#define GiB      (1024.0 * 1024.0 * 1024.0)

#define AGENT_DEAD_LETTER_DEFAULT ((int64_t)64 * 1024 * 1024)

const opt_def agent_opt_defs[] = {
    {"listen", OPT_STR, O(listen), "127.0.0.1:8787", "local API address: HOST:PORT or unix:/PATH", NULL, 0, 0,
     0},
    {"journal", OPT_STR, O(journal), "/var/lib/ferry-agent/journal.db",
     "SQLite journal file (its directory must exist)", NULL, 0, 0, 0},
    {"collector", OPT_STR, O(collector), "http://127.0.0.1:8700",
     "collector base URL, http(s)://HOST[:PORT][/PREFIX]", NULL, 0, 0, 0},
    {"agent-id", OPT_STR, O(agent_id), NULL, "this agent's id, 1-64 of [A-Za-z0-9._-] (default: hostname)",
     NULL, 0, 0, 0},
    {"site", OPT_STR, O(site), NULL,
     "the site (plant) this agent's events belong to, sent with every batch; the collector's registry "
     "may map agents to sites instead",
     NULL, 0, 0, 0},
    {"auth-token", OPT_STR, O(auth_token), NULL,
     "bearer token for the collector (or --auth-token-file, FERRY_AUTH_TOKEN)", NULL, 0, 0, OPT_F_SECRET},
    {"auth-token-file", OPT_STR, O(auth_token_file), NULL,
     "file holding the collector token (whitespace stripped)", NULL, 0, 0, 0},
    {"ingest-token", OPT_STR, O(ingest_token), NULL,
     "bearer token required on the local API (ingest, dead-letter)", NULL, 0, 0, OPT_F_SECRET},
    {"max-journal-bytes", OPT_SIZE, O(max_journal_bytes), "1GiB", "bound on the journal's live pages", NULL,
     1 * MiB, 1024 * GiB, 0},
    {"max-wal-bytes", OPT_SIZE, O(max_wal_bytes), "64MiB", "the WAL is checkpointed to stay under this", NULL,
     1 * MiB, 64 * GiB, 0},
    {"overflow", OPT_ENUM, O(overflow), "drop_oldest",
     "when the journal is full: drop the oldest events or reject new ones (507)", "drop_oldest|reject", 0, 0,
     0},
    {"durability", OPT_ENUM, O(durability), "fsync",
     "fsync: a 202 survives power loss; os: it survives a crash of the agent", "fsync|os", 0, 0, 0},
    {"batch-max-events", OPT_INT, O(batch_max_events), "1000", "most events per upload", NULL, 1, 100000, 0},
    {"backfill-batch-max-events", OPT_INT, O(backfill_batch_max_events), "0",
     "most events per backlog (backfill) upload; 0 = 4 x batch-max-events, at most 10000 (the collector's "
     "default max-batch-events)",
     NULL, 0, 100000, 0},
    {"live-window", OPT_SECONDS, O(live_window), "30",
     "events younger than this are uploaded before the backlog (oldest-first among them); 0 = one lane, "
     "oldest-first",
     NULL, 0, 86400, 0},
    {"upload-window", OPT_INT, O(upload_window), "4",
     "uploads in flight at once, over disjoint seq ranges (paced by the collector's answers)", NULL, 1, 8, 0},
    {"batch-max-bytes", OPT_SIZE, O(batch_max_bytes), "1MiB",
     "most bytes per upload body, before compression", NULL, 32 * KiB, 1 * GiB, 0},
    {"compression", OPT_ENUM, O(compression), "zstd", "upload body encoding", "zstd|gzip|none", 0, 0, 0},
    {"retry-initial", OPT_SECONDS, O(retry_initial), "0.5", "first retry delay ceiling, doubling per failure",
     NULL, 0.01, 3600, 0},
    {"retry-max", OPT_SECONDS, O(retry_max), "60",
     "longest retry delay (also the pace of auth/config errors)", NULL, 0.01, 86400, 0},
    {"max-dead-letter-bytes", OPT_SIZE, O(max_dead_letter_bytes), NULL,
     "cap on events the collector refused, kept for inspection (default: the smaller of 64MiB and "
     "a quarter of max-journal-bytes)",
     NULL, 0, 1024 * GiB, 0},
    {"dedup-max-bytes", OPT_SIZE, O(dedup_max_bytes), "16MiB",
     "memory for the event_id table of pending events (~11 bytes each); a larger backlog is "
     "deduplicated through an SQL index instead (slower ingest)",
     NULL, 64 * 1024, 16 * GiB, 0},
    {"insecure-open-ingest", OPT_BOOL, O(insecure_open_ingest), "false",
     "allow a non-loopback --listen without --ingest-token", NULL, 0, 0, 0},
    {"insecure-http", OPT_BOOL, O(insecure_http), "false", "allow a non-loopback http:// collector", NULL, 0,
     0, 0},
    {"max-body-bytes", OPT_SIZE, O(max_body_bytes), "1MiB", "local ingest request body limit (413 above)",
     NULL, 16 * KiB, 256 * MiB, 0},
    {"heartbeat-interval", OPT_SECONDS, O(heartbeat_interval), "30", "idle time before a heartbeat upload",
     NULL, 1, 86400, 0},
    {"connect-timeout", OPT_SECONDS, O(connect_timeout), "10", "collector connect timeout", NULL, 0.1, 3600,
     0},
    {"request-timeout", OPT_SECONDS, O(request_timeout), "60", "collector request timeout, whole request",
     NULL, 0.1, 3600, 0},
    {"collector-max-body-bytes", OPT_SIZE, O(collector_max_body_bytes), "8MiB",
     "the collector's body limit; no upload body is larger", NULL, 32 * KiB, 1 * GiB, 0},
    {"machine-id-file", OPT_STR, O(machine_id_file), "/etc/machine-id", "machine id recorded in the journal",
     NULL, 0, 0, 0},
    {"log-level", OPT_ENUM, O(log_level), "info", "least severe level logged",
     "error|warning|notice|info|debug", 0, 0, 0},
    {"log-format", OPT_ENUM, O(log_format), "text",
     "log lines as text (with a timestamp unless under journald) or one JSON object each", "text|json", 0, 0,
     0},
    {"max-future-s", OPT_SECONDS, O(max_future_s), "300",
     "warn at ingest about events this far ahead of this box's clock (the collector's own "
     "max-future-s, learned from its answers, takes over)",
     NULL, 1, 31536000, 0},
    {"max-connections", OPT_INT, O(max_connections), "256", "local API connections at once", NULL, 1, 100000,
     0},
    {"conn-timeout-s", OPT_INT, O(conn_timeout_s), "30",
     "idle or slow local API connections are closed after this many seconds", NULL, 1, 3600, 0},
    {"ca-file", OPT_STR, O(ca_file), NULL,
     "PEM CA certificate(s) that sign the collector's certificate (default: the system store)", NULL, 0, 0,
     0},
    {"pin-sha256", OPT_STR, O(pin_sha256), NULL,
     "only accept a collector whose public key has this base64 SHA-256 (several: join with ;)", NULL, 0, 0,
     0},
    {"tls-client-cert", OPT_STR, O(tls_client_cert), NULL,
     "PEM client certificate presented to the collector (mTLS; with --tls-client-key)", NULL, 0, 0, 0},
    {"tls-client-key", OPT_STR, O(tls_client_key), NULL, "PEM private key of --tls-client-cert (unencrypted)",
     NULL, 0, 0, 0},
    {"watchdog-stall-s", OPT_SECONDS, O(watchdog_stall_s), "120",
     "under a systemd watchdog: stop pinging it when the journal cannot commit, or uploads with "
     "a backlog finish no attempt, for this long",
     NULL, 1, 86400, 0},
    {"mqtt-url", OPT_STR, O(mqtt_url), NULL,
     "MQTT broker to take events from: mqtt://HOST[:PORT] or mqtts://HOST[:PORT] (none: no MQTT source)",
     NULL, 0, 0, 0},
    {"mqtt-topic", OPT_STR, O(mqtt_topic), NULL,
     "topic filter to subscribe to (repeatable; config: array); each picks its entry in --mapping, "
     "else its payloads are ferry events",
     NULL, 0, 0, OPT_F_LIST},
    {"mqtt-client-id", OPT_STR, O(mqtt_client_id), NULL,
     "MQTT client id, the key of the broker's persistent session (default: ferry-{agent_id})", NULL, 0, 0, 0},
    {"mqtt-username", OPT_STR, O(mqtt_username), NULL, "MQTT user name", NULL, 0, 0, 0},
    {"mqtt-password-file", OPT_STR, O(mqtt_password_file), NULL,
     "file holding the MQTT password (whitespace stripped)", NULL, 0, 0, 0},
    {"mqtt-ca-file", OPT_STR, O(mqtt_ca_file), NULL,
     "PEM CA certificate(s) for an mqtts:// broker (default: the system store)", NULL, 0, 0, 0},
    {"mqtt-protocol", OPT_ENUM, O(mqtt_protocol), "3.1.1",
     "MQTT version spoken to the broker (persistent session either way: clean session off / session "
     "expiry never)",
     "3.1.1|5", 0, 0, 0},
    {"mapping", OPT_STR, O(mapping), NULL,
     "mapping file (JSON with comments): how each topic's payloads become events (docs/integrations.md)",
     NULL, 0, 0, 0},
    {"map-test", OPT_STR, O(map_test), NULL,
     "with --mapping: print the events the payload in this file yields, then exit (runs nothing)", NULL, 0, 0,
     OPT_F_CLI},
    {"map-topic", OPT_STR, O(map_topic), NULL,
     "with --map-test: the topic the payload arrives on (default: the mapping's first filter, "
     "wildcards filled with \"x\")",
     NULL, 0, 0, OPT_F_CLI},
};
const size_t agent_opt_count = sizeof(agent_opt_defs) / sizeof(agent_opt_defs[0]);

bool agent_id_valid(const char *id) {
  size_t n = 0;
  if (!id) return false;
  for (const char *p = id; *p; p++, n++) {
    unsigned char c = (unsigned char)*p;
    if (!(isalnum(c) || c == '.' || c == '_' || c == '-') || c >= 0x80) return false;
  }
  return n >= 1 && n <= AGENT_ID_MAX;
}

/* Dotted-quad IPv4 with first octet 127 (inet_aton's shorthand forms are not
 * accepted; they are not addresses an operator writes). */
static bool ipv4_loopback(const char *h, size_t len) {
  int parts = 0, digits = 0;
  unsigned v = 0, first = 0;
  for (size_t i = 0; i <= len; i++) {
    char c = i < len ? h[i] : '.';
    if (c >= '0' && c <= '9') {
      if (++digits > 3) return false;
      v = v * 10 + (unsigned)(c - '0');
    } else if (c == '.') {
      if (!digits || v > 255) return false;
      if (parts == 0) first = v;
      parts++;
      digits = 0;
      v = 0;
    } else {
      return false;
    }
  }
  return parts == 4 && first == 127;
}

bool agent_host_is_loopback(const char *host, size_t len) {
  if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
    host++;
    len -= 2;
  }
  if (len == 9 && strncasecmp(host, "localhost", 9) == 0) return true;
  if (len == 3 && memcmp(host, "::1", 3) == 0) return true;
  /* a fully spelled ::1 */
  if (len == 39 && strncasecmp(host, "0000:0000:0000:0000:0000:0000:0000:0001", 39) == 0) return true;
  return ipv4_loopback(host, len);
}

int agent_listen_is_loopback(const char *listen) {
  if (!listen || !*listen) return -EINVAL;
  if (strncmp(listen, "unix:", 5) == 0) return listen[5] == '/' ? 1 : -EINVAL;
  const char *colon = strrchr(listen, ':');
  if (!colon || colon == listen || !colon[1]) return -EINVAL;
  for (const char *p = colon + 1; *p; p++)
    if (*p < '0' || *p > '9') return -EINVAL;
  long port = strtol(colon + 1, NULL, 10);
  if (port < 0 || port > 65535 || strlen(colon + 1) > 5) return -EINVAL;
  size_t hl = (size_t)(colon - listen);
  if (listen[0] == '[' && listen[hl - 1] != ']') return -EINVAL;
  if (listen[0] != '[' && memchr(listen, ':', hl)) return -EINVAL; /* IPv6 must be bracketed */
  return agent_host_is_loopback(listen, hl) ? 1 : 0;
}

int agent_url_host(const char *url, bool *ret_https, const char **ret_host, size_t *ret_hostlen) {
  const char *p;
  bool https;
  if (!url) return -EINVAL;
  if (strncasecmp(url, "http://", 7) == 0) {
    https = false;
    p = url + 7;
  } else if (strncasecmp(url, "https://", 8) == 0) {
    https = true;
    p = url + 8;
  } else {
    return -EINVAL;
  }
  size_t auth_len = strcspn(p, "/?#");
  /* userinfo is not for us: refuse it rather than guess */
  if (memchr(p, '@', auth_len)) return -EINVAL;
  const char *h = p;
  size_t hl;
  if (*h == '[') {
    const char *close = memchr(h, ']', auth_len);
    if (!close) return -EINVAL;
    hl = (size_t)(close - h) + 1;
    if (hl < auth_len && h[hl] != ':') return -EINVAL;
  } else {
    const char *colon = memchr(h, ':', auth_len);
    hl = colon ? (size_t)(colon - h) : auth_len;
  }
  if (hl == 0 || (hl == 2 && h[0] == '[')) return -EINVAL;
  if (hl < auth_len) { /* port */
    const char *port = h + hl + 1;
    size_t pl = auth_len - hl - 1;
    if (pl == 0 || pl > 5) return -EINVAL;
    for (size_t i = 0; i < pl; i++)
      if (port[i] < '0' || port[i] > '9') return -EINVAL;
  }
  *ret_https = https;
  *ret_host = h;
  *ret_hostlen = hl;
  return 0;
}

int agent_mqtt_url(const char *url, char *host, size_t hostlen, int *ret_port, bool *ret_tls) {
  const char *p;
  bool tls;
  if (!url) return -EINVAL;
  if (strncasecmp(url, "mqtt://", 7) == 0) {
    tls = false;
    p = url + 7;
  } else if (strncasecmp(url, "mqtts://", 8) == 0) {
    tls = true;
    p = url + 8;
  } else {
    return -EINVAL;
  }
  size_t len = strlen(p);
  if (len && p[len - 1] == '/') len--;
  if (memchr(p, '/', len) || memchr(p, '@', len) || memchr(p, '?', len) || memchr(p, ' ', len))
    return -EINVAL;
  const char *h = p, *port = NULL;
  size_t hl;
  if (*h == '[') {
    const char *close = memchr(h, ']', len);
    if (!close) return -EINVAL;
    h++;
    hl = (size_t)(close - h);
    if ((size_t)(close + 1 - p) < len) {
      if (close[1] != ':') return -EINVAL;
      port = close + 2;
    }
  } else {
    const char *colon = memchr(h, ':', len);
    hl = colon ? (size_t)(colon - h) : len;
    if (colon) port = colon + 1;
  }
  if (hl == 0 || hl >= hostlen) return -EINVAL;
  int pv = tls ? 8883 : 1883;
  if (port) {
    size_t pl = len - (size_t)(port - p);
    if (pl == 0 || pl > 5) return -EINVAL;
    pv = 0;
    for (size_t i = 0; i < pl; i++) {
      if (port[i] < '0' || port[i] > '9') return -EINVAL;
      pv = pv * 10 + (port[i] - '0');
    }
    if (pv < 1 || pv > 65535) return -EINVAL;
  }
  memcpy(host, h, hl);
  host[hl] = '\0';
  *ret_port = pv;
  *ret_tls = tls;
  return 0;
}

int agent_pin_to_curl(const char *in, char *out, size_t outlen, char *err, size_t errlen) {
  size_t o = 0;
  int n = 0;
  if (!in || !*in) {
    snprintf(err, errlen, "pin_sha256: empty");
    return -EINVAL;
  }
  while (*in) {
    size_t len = strcspn(in, ";,");
    const char *p = in;
    while (len && (*p == ' ' || *p == '\t')) {
      p++;
      len--;
    }
    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t')) len--;
    if (len > 8 && strncasecmp(p, "sha256//", 8) == 0) {
      p += 8;
      len -= 8;
    }
    bool ok = len == 44 && p[43] == '=';
    for (size_t i = 0; ok && i < 43; i++) ok = isalnum((unsigned char)p[i]) || p[i] == '+' || p[i] == '/';
    if (!ok) {
      snprintf(err, errlen,
               "pin_sha256: \"%.60s\" is not a base64 SHA-256 (44 characters ending in '='; "
               "see docs/security.md for how to compute it)",
               p);
      return -EINVAL;
    }
    int w = snprintf(out + o, outlen - o, "%ssha256//%.*s", n ? ";" : "", (int)len, p);
    if (w < 0 || (size_t)w >= outlen - o) {
      snprintf(err, errlen, "pin_sha256: too many pins");
      return -EINVAL;
    }
    o += (size_t)w;
    n++;
    in = p + len;
    while (*in == ' ' || *in == '\t') in++;
    if (*in == ';' || *in == ',') in++;
  }
  if (n == 0) {
    snprintf(err, errlen, "pin_sha256: empty");
    return -EINVAL;
  }
  return 0;
}

/* A file option must name a readable file (caught at --check-config). */
static int check_readable(const char *key, const char *path, char *err, size_t errlen) {
  if (!path) return 0;
  if (!*path || access(path, R_OK) != 0) {
    snprintf(err, errlen, "%s: cannot read \"%.200s\": %s", key, path,
             *path ? strerror(errno) : "empty path");
    return -EINVAL;
  }
  return 0;
}

static void add_warning(agent_config *cfg, const char *msg) {
  if (cfg->n_warnings < AGENT_MAX_WARNINGS)
    snprintf(cfg->warnings[cfg->n_warnings++], sizeof(cfg->warnings[0]), "%s", msg);
}

static bool token_chars_ok(const char *t) {
  for (; *t; t++)
    if ((unsigned char)*t < 0x21 || (unsigned char)*t > 0x7e) return false;
  return true;
}

int agent_config_validate(agent_config *cfg, char *err, size_t errlen) {
  /* agent id */
  if (!cfg->agent_id || !*cfg->agent_id) {
    char host[256];
    if (gethostname(host, sizeof(host)) < 0) {
      snprintf(err, errlen, "agent_id: not set and the hostname is unavailable: %s", strerror(errno));
      return -EINVAL;
    }
    host[sizeof(host) - 1] = '\0';
    if (!agent_id_valid(host)) {
      snprintf(err, errlen,
               "agent_id: not set and the hostname \"%.64s\" is not a valid id "
               "(1-64 of A-Z a-z 0-9 . _ -); set --agent-id",
               host);
      return -EINVAL;
    }
    free(cfg->agent_id);
    cfg->agent_id = strdup(host);
    if (!cfg->agent_id) {
      snprintf(err, errlen, "agent_id: out of memory");
      return -ENOMEM;
    }
  }
  if (!agent_id_valid(cfg->agent_id)) {
    snprintf(err, errlen, "agent_id: \"%.80s\" is not 1-64 characters of A-Z a-z 0-9 . _ -", cfg->agent_id);
    return -EINVAL;
  }
  if (cfg->site) {
    size_t n = strlen(cfg->site);
    bool ok = n >= 1 && n <= 64;
    for (size_t i = 0; ok && i < n; i++)
      if ((unsigned char)cfg->site[i] < 0x20 || cfg->site[i] == 0x7f) ok = false;
    if (!ok) {
      snprintf(err, errlen, "site: must be 1-64 bytes without control characters");
      return -EINVAL;
    }
  }
  if (strcasecmp(cfg->agent_id, "localhost") == 0 ||
      strcasecmp(cfg->agent_id, "localhost.localdomain") == 0) {
    snprintf(err, errlen, "agent_id: \"%s\" does not identify this box (hostname not set?); set --agent-id",
             cfg->agent_id);
    return -EINVAL;
  }

  /* listen */
  int lb = agent_listen_is_loopback(cfg->listen);
  if (lb < 0) {
    snprintf(err, errlen, "listen: \"%.200s\" is neither HOST:PORT ([IPv6]:PORT) nor unix:/PATH",
             cfg->listen ? cfg->listen : "");
    return -EINVAL;
  }
  if (cfg->ingest_token && !*cfg->ingest_token) {
    snprintf(err, errlen, "ingest_token: empty");
    return -EINVAL;
  }
  if (cfg->ingest_token &&
      (!token_chars_ok(cfg->ingest_token) || strlen(cfg->ingest_token) > AGENT_TOKEN_MAX)) {
    snprintf(err, errlen, "ingest_token: must be printable ASCII without spaces, at most %d bytes",
             AGENT_TOKEN_MAX);
    return -EINVAL;
  }
  if (lb == 0 && !cfg->ingest_token && !cfg->insecure_open_ingest) {
    snprintf(err, errlen,
             "listen: %s is not a loopback address; set --ingest-token "
             "(or --insecure-open-ingest to accept events from anyone)",
             cfg->listen);
    return -EINVAL;
  }

  /* collector */
  bool https;
  const char *host;
  size_t hl;
  if (agent_url_host(cfg->collector, &https, &host, &hl) < 0) {
    snprintf(err, errlen, "collector: \"%.200s\" is not an http:// or https:// URL with a host",
             cfg->collector ? cfg->collector : "");
    return -EINVAL;
  }
  if (strpbrk(cfg->collector, "?# \t\r\n")) {
    snprintf(err, errlen, "collector: a base URL takes no query, fragment or spaces");
    return -EINVAL;
  }
  if (!https && !agent_host_is_loopback(host, hl) && !cfg->insecure_http) {
    snprintf(err, errlen,
             "collector: http:// to a non-loopback host sends the token in clear; use https:// "
             "(or --insecure-http)");
    return -EINVAL;
  }

  /* TLS to the collector */
  if (!cfg->tls_client_cert != !cfg->tls_client_key) {
    snprintf(err, errlen, "%s: tls_client_cert and tls_client_key go together",
             cfg->tls_client_cert ? "tls_client_key" : "tls_client_cert");
    return -EINVAL;
  }
  if (!https && (cfg->ca_file || cfg->pin_sha256 || cfg->tls_client_cert)) {
    snprintf(err, errlen, "%s: TLS options need an https:// collector URL",
             cfg->ca_file      ? "ca_file"
             : cfg->pin_sha256 ? "pin_sha256"
                               : "tls_client_cert");
    return -EINVAL;
  }
  if (check_readable("ca_file", cfg->ca_file, err, errlen) < 0 ||
      check_readable("tls_client_cert", cfg->tls_client_cert, err, errlen) < 0 ||
      check_readable("tls_client_key", cfg->tls_client_key, err, errlen) < 0)
    return -EINVAL;
  if (cfg->pin_sha256) {
    char pins[1024];
    if (agent_pin_to_curl(cfg->pin_sha256, pins, sizeof(pins), err, errlen) < 0) return -EINVAL;
    free(cfg->pinned_pubkey);
    cfg->pinned_pubkey = strdup(pins);
    if (!cfg->pinned_pubkey) {
      snprintf(err, errlen, "pin_sha256: out of memory");
      return -ENOMEM;
    }
  }

  /* numbers that depend on each other */
  if (cfg->retry_max < cfg->retry_initial) {
    snprintf(err, errlen, "retry_max: %g s is less than retry_initial (%g s)", cfg->retry_max,
             cfg->retry_initial);
    return -EINVAL;
  }
  if (!cfg->max_dead_letter_explicit) {
    int64_t q = cfg->max_journal_bytes / 4;
    cfg->max_dead_letter_bytes = q < AGENT_DEAD_LETTER_DEFAULT ? q : AGENT_DEAD_LETTER_DEFAULT;
  } else if (cfg->max_dead_letter_bytes > cfg->max_journal_bytes) {
    char dl[32] = "", jb[32] = "";
    for (size_t i = 0; i < agent_opt_count; i++) {
      if (agent_opt_defs[i].offset == offsetof(agent_config, max_dead_letter_bytes))
        opt_format_value(&agent_opt_defs[i], cfg, dl, sizeof dl);
      if (agent_opt_defs[i].offset == offsetof(agent_config, max_journal_bytes))
        opt_format_value(&agent_opt_defs[i], cfg, jb, sizeof jb);
    }
    snprintf(err, errlen,
             "max_dead_letter_bytes: %s is larger than max_journal_bytes (%s), which bounds it; "
             "lower max_dead_letter_bytes or leave it unset (default: the smaller of 64MiB and a "
             "quarter of max_journal_bytes)",
             dl, jb);
    return -EINVAL;
  }

  /* MQTT source */
  if (cfg->mqtt_url) {
    if (agent_mqtt_url(cfg->mqtt_url, cfg->mqtt_host, sizeof(cfg->mqtt_host), &cfg->mqtt_port,
                       &cfg->mqtt_tls) < 0) {
      snprintf(err, errlen, "mqtt_url: \"%.200s\" is not mqtt://HOST[:PORT] or mqtts://HOST[:PORT]",
               cfg->mqtt_url);
      return -EINVAL;
    }
    if (!cfg->mqtt_topic) {
      snprintf(err, errlen, "mqtt_topic: mqtt_url is set but no topic filter is given");
      return -EINVAL;
    }
    for (const char *p = cfg->mqtt_topic; *p;) {
      size_t n = strcspn(p, "\n");
      char filter[1100];
      if (n >= sizeof(filter)) {
        snprintf(err, errlen, "mqtt_topic: a filter longer than %zu bytes", sizeof(filter) - 1);
        return -EINVAL;
      }
      memcpy(filter, p, n);
      filter[n] = '\0';
      if (mosquitto_sub_topic_check(filter) != MOSQ_ERR_SUCCESS) {
        snprintf(err, errlen,
                 "mqtt_topic: \"%.200s\" is not an MQTT topic filter (+ is a whole level, # the last one)",
                 filter);
        return -EINVAL;
      }
      p += n;
      if (*p) p++;
    }
  } else if (cfg->mqtt_topic || cfg->mqtt_username || cfg->mqtt_password_file || cfg->mqtt_ca_file) {
    snprintf(err, errlen, "%s: needs mqtt_url",
             cfg->mqtt_topic      ? "mqtt_topic"
             : cfg->mqtt_username ? "mqtt_username"
             : cfg->mqtt_ca_file  ? "mqtt_ca_file"
                                  : "mqtt_password_file");
    return -EINVAL;
  }
  if (cfg->mqtt_ca_file && !cfg->mqtt_tls) {
    snprintf(err, errlen, "mqtt_ca_file: needs an mqtts:// mqtt_url");
    return -EINVAL;
  }
  if (cfg->mqtt_password_file && !cfg->mqtt_username) {
    snprintf(err, errlen, "mqtt_password_file: needs mqtt_username");
    return -EINVAL;
  }
  if (check_readable("mqtt_ca_file", cfg->mqtt_ca_file, err, errlen) < 0 ||
      check_readable("mqtt_password_file", cfg->mqtt_password_file, err, errlen) < 0 ||
      check_readable("mapping", cfg->mapping, err, errlen) < 0 ||
      check_readable("map_test", cfg->map_test, err, errlen) < 0)
    return -EINVAL;
  if (cfg->map_test && !cfg->mapping) {
    snprintf(err, errlen, "map_test: needs mapping");
    return -EINVAL;
  }
  if (cfg->mqtt_client_id && (!*cfg->mqtt_client_id || strlen(cfg->mqtt_client_id) > 128)) {
    snprintf(err, errlen, "mqtt_client_id: must be 1-128 bytes");
    return -EINVAL;
  }
  if (!cfg->mqtt_client_id) {
    char id[AGENT_ID_MAX + 8];
    snprintf(id, sizeof(id), "ferry-%s", cfg->agent_id);
    cfg->mqtt_client_id = strdup(id);
    if (!cfg->mqtt_client_id) {
      snprintf(err, errlen, "mqtt_client_id: out of memory");
      return -ENOMEM;
    }
  }

  /* collector token */
  if (cfg->auth_token_file) {
    if (cfg->auth_token) {
      snprintf(err, errlen,
               "auth_token_file: give either auth_token_file or auth_token (FERRY_AUTH_TOKEN), "
               "not both");
      return -EINVAL;
    }
    char e2[200];
    bool others = false;
    char *tok = NULL;
    int r = secret_file_read(cfg->auth_token_file, AGENT_TOKEN_MAX, &tok, &others, e2, sizeof(e2));
    if (r < 0) {
      snprintf(err, errlen, "auth_token_file: %s", e2);
      return -EINVAL;
    }
    cfg->auth_token = tok;
    if (others) {
      char w[200];
      snprintf(w, sizeof(w), "auth_token_file: %.120s is readable by others; chmod o-r it",
               cfg->auth_token_file);
      add_warning(cfg, w);
    }
  } else if (cfg->auth_token) {
    if (!*cfg->auth_token || !token_chars_ok(cfg->auth_token) || strlen(cfg->auth_token) > AGENT_TOKEN_MAX) {
      snprintf(err, errlen, "auth_token: must be 1-%d bytes of printable ASCII without spaces",
               AGENT_TOKEN_MAX);
      return -EINVAL;
    }
  } else {
    add_warning(cfg, "auth_token: none set; the collector will answer 401 unless it runs "
                     "with --insecure-no-auth");
  }
  return 0;
}

void agent_config_derive(agent_config *cfg, const opt_cli *cli) {
  for (size_t i = 0; i < agent_opt_count && i < OPT_MAX_DEFS; i++)
    if (agent_opt_defs[i].offset == offsetof(agent_config, max_dead_letter_bytes))
      cfg->max_dead_letter_explicit = cli->source[i] != OPT_SOURCE_DEFAULT;
  if (!cfg->max_dead_letter_explicit) {
    int64_t q = cfg->max_journal_bytes / 4;
    cfg->max_dead_letter_bytes = q < AGENT_DEAD_LETTER_DEFAULT ? q : AGENT_DEAD_LETTER_DEFAULT;
  }
}

int agent_config_load(agent_config *cfg, int argc, char **argv, opt_cli *ret_cli, char *err, size_t errlen) {
  int r = opt_parse(agent_opt_defs, agent_opt_count, cfg, argc, argv, ret_cli, err, errlen);
  if (r < 0) return r;
  if (ret_cli->help || ret_cli->version) return 0;
  agent_config_derive(cfg, ret_cli);
  if (ret_cli->print_config) return 0;
  return agent_config_validate(cfg, err, errlen);
}

void agent_config_clear(agent_config *cfg) {
  if (!cfg) return;
  if (cfg->auth_token) explicit_bzero(cfg->auth_token, strlen(cfg->auth_token));
  opt_clear(agent_opt_defs, agent_opt_count, cfg);
  free(cfg->pinned_pubkey);
  cfg->pinned_pubkey = NULL;
}
