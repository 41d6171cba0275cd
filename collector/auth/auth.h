/* auth: who may talk to the collector. Agents present a bearer token that is
 * either the one shared agent token or a per-agent token listed (as its
 * SHA-256) in the tokens file; readers present the read token as a bearer or
 * as the HTTP Basic password. Agent tokens never grant reads and the read
 * token never grants ingest. Every comparison is of SHA-256 digests in
 * constant time, so timing tells nothing about a token. Nothing here logs. */
#ifndef FERRY_COLLECTOR_AUTH_H
#define FERRY_COLLECTOR_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_AGENT_ID_MAX    64
#define AUTH_TOKENS_FILE_MAX (4u << 20) /* bytes; a bigger tokens file is refused */
#define AUTH_TOKEN_MAX       4096       /* bytes in a presented or configured token */

typedef struct auth_tokens auth_tokens;

/* Parse tokens-file text: lines "agent_id sha256hex", '#' comments and blank
 * lines allowed, hex case-insensitive, several lines per agent allowed.
 * 0, or -EINVAL with "line N: ..." in err, or -ENOMEM. */
int auth_tokens_parse(const char *text, size_t len, auth_tokens **ret, char *err, size_t errlen);
/* Read and parse path; refused (-EACCES) when group or others have any
 * permission on it. err names the file and what is wrong. */
int auth_tokens_load(const char *path, auth_tokens **ret, char *err, size_t errlen);
void auth_tokens_free(auth_tokens *t);
/* Lines (token hashes) and distinct agents in the table. */
size_t auth_tokens_count(const auth_tokens *t);
size_t auth_tokens_agents(const auth_tokens *t);
/* The agent whose listed hash matches token, or NULL. Checks every line. */
const char *auth_tokens_find(const auth_tokens *t, const char *token, size_t len);
/* Whether agent_id has at least one line in the table. */
bool auth_tokens_lists(const auth_tokens *t, const char *agent_id);

typedef struct col_auth {
  bool have_shared;
  uint8_t shared_hash[32]; /* SHA-256 of the shared agent token */
  auth_tokens *tokens;     /* per-agent tokens, or NULL; owned */
  bool insecure_no_auth;
  bool have_read;
  uint8_t read_hash[32]; /* SHA-256 of the read token */
  bool open_reads;
  bool have_admin;
  uint8_t admin_hash[32]; /* SHA-256 of the admin token (registry writes) */
} col_auth;

typedef enum {
  AUTH_GRANT_OPEN = 0, /* --insecure-no-auth: any agent_id */
  AUTH_GRANT_SHARED,   /* the shared token: any agent not in the tokens file */
  AUTH_GRANT_AGENT,    /* a per-agent token: that agent only */
} auth_grant_kind;

typedef struct auth_grant {
  auth_grant_kind kind;
  char agent_id[AUTH_AGENT_ID_MAX + 1]; /* AUTH_GRANT_AGENT */
} auth_grant;

/* Set a token (shared or read) by value; the text itself is not kept. */
void auth_set_shared(col_auth *a, const char *token);
void auth_set_read(col_auth *a, const char *token);
void auth_set_admin(col_auth *a, const char *token);
/* Replace the per-agent table (takes ownership; frees the old one). */
void auth_replace_tokens(col_auth *a, auth_tokens *t);
void auth_clear(col_auth *a);

/* Why a check refused a request: the answer the caller sends. */
typedef struct auth_refusal {
  unsigned status;  /* 401 or 403 */
  const char *code; /* "unauthorized" or "forbidden" */
  const char *msg;  /* says why (static text) */
} auth_refusal;

/* Agent check from the Authorization header alone (before the body).
 * true with *ret filled, or false with *no: 401 (missing or unknown token)
 * or 403 (the read token). */
bool auth_check_agent(const col_auth *a, const char *authorization, auth_grant *ret, auth_refusal *no);
/* Once the body names agent_id: true, or false with *no (403). */
bool auth_check_agent_id(const col_auth *a, const auth_grant *g, const char *agent_id, auth_refusal *no);
/* Read check (Bearer, or Basic with the read token as password): true, or
 * false with *no (401 or 403). */
bool auth_check_read(const col_auth *a, const char *authorization, auth_refusal *no);

/* Admin check (registry writes; Bearer only): true, or false with *no: 401
 * (missing or unknown token) or 403 (an agent or the read token, or no admin
 * token configured). */
bool auth_check_admin(const col_auth *a, const char *authorization, auth_refusal *no);
/* Read check that also takes the admin token (GET /v1/registry). */
bool auth_check_read_or_admin(const col_auth *a, const char *authorization, auth_refusal *no);

/* Helpers exposed for tests. */
void auth_sha256(const void *data, size_t len, uint8_t out[32]);
bool auth_digest_equal(const uint8_t a[32], const uint8_t b[32]); /* constant time */
/* Extract the credential: "Bearer X" → X; with allow_basic "Basic b64(u:p)" → p.
 * Copies into out (NUL-terminated). 0, -ENOENT (no usable header), -EINVAL. */
int auth_extract(const char *authorization, bool allow_basic, char *out, size_t outlen, size_t *ret_len);
bool auth_agent_id_valid(const char *s, size_t len);

#endif
