/* dead_letter: managing events the collector refused, while the agent runs.
 *
 * Daemon side: local API endpoints over the journal's dead-letter operations
 *   GET  /v1/dead-letter          → NDJSON export (one dead event per line)
 *   POST /v1/dead-letter/requeue  → {"count":n,"duplicates":d}
 *   POST /v1/dead-letter/purge    → {"count":n}
 * protected by --ingest-token when it is set.
 *
 * CLI side: `ferry-agent dead-letter export|requeue|purge` reads the same
 * options to find the running agent's --listen address (TCP or unix socket)
 * and calls those endpoints with blocking libcurl (it is not the daemon). */
#ifndef FERRY_AGENT_DEAD_LETTER_H
#define FERRY_AGENT_DEAD_LETTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "config.h"
#include "httpd.h"
#include "journal.h"

#define DL_PATH_PREFIX "/v1/dead-letter"

typedef struct dl_api dl_api;

typedef struct dl_api_config {
  journal *j;
  const char *token;             /* --ingest-token or NULL */
  size_t export_max_bytes;       /* bound on one export answer */
  void (*on_requeued)(void *ud); /* events are back in the backlog (uploader_kick) */
  void (*on_drained)(void *ud);  /* stopping and nothing in flight */
  void *ud;
} dl_api_config;

int dl_api_new(const dl_api_config *cfg, dl_api **ret);
/* 1 when path is one of ours. */
bool dl_api_owns(const char *path);
/* Headers in: 401/404/405 answered here (returns 1), else 0. */
httpd_verdict dl_api_on_headers(dl_api *d, httpd_req *req);
void dl_api_on_request(dl_api *d, httpd_req *req);
unsigned dl_api_inflight(const dl_api *d);
void dl_api_stop(dl_api *d);
void dl_api_free(dl_api *d);

/* The base URL the CLI talks to for a --listen value: "http://127.0.0.1:8787"
 * (a wildcard address becomes its loopback) or, for unix:/PATH, "http://localhost"
 * with *ret_unix_path set to PATH. Returns 0 or -EINVAL. */
int dl_cli_base_url(const char *listen, char *out, size_t outlen, const char **ret_unix_path);

/* Run the CLI: action "export" (NDJSON to out), "requeue" or "purge" (the
 * answer's JSON to out). Returns the process exit code: 0 done, 1 the agent
 * could not be reached or refused, 2 bad usage; messages go to errout. */
int dl_cli_run(const agent_config *cfg, const char *action, FILE *out, FILE *errout);

#endif
