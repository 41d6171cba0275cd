/* auth: token tables and the agent/read credential checks (see auth.h).
 * Tokens are never stored in clear: the tokens file holds SHA-256 hashes, and
 * the shared and read tokens are hashed as soon as they are configured. */
#include "auth.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "httpd_auth.h"

typedef struct auth_line {
  char agent_id[AUTH_AGENT_ID_MAX + 1];
  uint8_t hash[32];
} auth_line;

struct auth_tokens {
  auth_line *lines;
  size_t n, cap;
};

void auth_sha256(const void *data, size_t len, uint8_t out[32]) {
  struct sha256_ctx c;
  sha256_init(&c);
  sha256_update(&c, len, data);
  sha256_digest(&c, SHA256_DIGEST_SIZE, out);
}

bool auth_digest_equal(const uint8_t a[32], const uint8_t b[32]) {
  volatile uint8_t diff = 0;
  for (size_t i = 0; i < 32; i++) diff |= (uint8_t)(a[i] ^ b[i]);
  return diff == 0;
}

bool auth_agent_id_valid(const char *s, size_t len) {
  if (len < 1 || len > AUTH_AGENT_ID_MAX) return false;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!(isalnum(c) || c == '.' || c == '_' || c == '-')) return false;
  }
  return true;
}

static int auth__hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void auth_tokens_free(auth_tokens *t) {
  if (!t) return;
  free(t->lines);
  free(t);
}

int auth_tokens_parse(const char *text, size_t len, auth_tokens **ret, char *err, size_t errlen) {
  auth_tokens *t = calloc(1, sizeof(*t));
  if (!t) return -ENOMEM;
  size_t pos = 0;
  int lineno = 0;
  while (pos < len) {
    size_t end = pos;
    while (end < len && text[end] != '\n') end++;
    lineno++;
    const char *l = text + pos;
    size_t n = end - pos;
    pos = end + 1;
    /* trim, drop comments */
    while (n && isspace((unsigned char)*l)) l++, n--;
    for (size_t i = 0; i < n; i++)
      if (l[i] == '#') {
        n = i;
        break;
      }
    while (n && isspace((unsigned char)l[n - 1])) n--;
    if (n == 0) continue;
    size_t a = 0;
    while (a < n && !isspace((unsigned char)l[a])) a++;
    size_t h = a;
    while (h < n && isspace((unsigned char)l[h])) h++;
    const char *hex = l + h;
    size_t hexlen = n - h;
    if (!auth_agent_id_valid(l, a)) {
      snprintf(err, errlen, "line %d: agent id must be 1-64 of [A-Za-z0-9._-]", lineno);
      goto fail;
    }
    if (hexlen == 0) {
      snprintf(err, errlen, "line %d: expected \"agent_id sha256hex\", the hash is missing", lineno);
      goto fail;
    }
    for (size_t i = 0; i < hexlen; i++)
      if (isspace((unsigned char)hex[i])) {
        snprintf(err, errlen, "line %d: expected two fields \"agent_id sha256hex\"", lineno);
        goto fail;
      }
    if (hexlen != 64) {
      snprintf(err, errlen, "line %d: the hash must be 64 hex digits (SHA-256 of the token), got %zu chars",
               lineno, hexlen);
      goto fail;
    }
    if (t->n == t->cap) {
      size_t cap = t->cap ? t->cap * 2 : 16;
      auth_line *nl = realloc(t->lines, cap * sizeof(*nl));
      if (!nl) {
        auth_tokens_free(t);
        return -ENOMEM;
      }
      t->lines = nl;
      t->cap = cap;
    }
    auth_line *ln = &t->lines[t->n];
    memcpy(ln->agent_id, l, a);
    ln->agent_id[a] = '\0';
    for (size_t i = 0; i < 32; i++) {
      int hi = auth__hexval(hex[2 * i]), lo = auth__hexval(hex[2 * i + 1]);
      if (hi < 0 || lo < 0) {
        snprintf(err, errlen, "line %d: the hash has a character that is not hex", lineno);
        goto fail;
      }
      ln->hash[i] = (uint8_t)(hi << 4 | lo);
    }
    t->n++;
  }
  *ret = t;
  return 0;
fail:
  auth_tokens_free(t);
  return -EINVAL;
}

int auth_tokens_load(const char *path, auth_tokens **ret, char *err, size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    int e = errno;
    snprintf(err, errlen, "%s: %s", path, strerror(e));
    return -e;
  }
  struct stat st;
  int r;
  char *buf = NULL;
  if (fstat(fd, &st) < 0) {
    r = -errno;
    snprintf(err, errlen, "%s: %s", path, strerror(-r));
    goto out;
  }
  if (!S_ISREG(st.st_mode)) {
    r = -EINVAL;
    snprintf(err, errlen, "%s: not a regular file", path);
    goto out;
  }
  if (st.st_mode & 077) {
    r = -EACCES;
    snprintf(err, errlen, "%s: group or others may access it (mode %04o); run chmod 600 on it", path,
             (unsigned)(st.st_mode & 07777));
    goto out;
  }
  if ((uint64_t)st.st_size > AUTH_TOKENS_FILE_MAX) {
    r = -EFBIG;
    snprintf(err, errlen, "%s: larger than %u bytes", path, AUTH_TOKENS_FILE_MAX);
    goto out;
  }
  buf = malloc((size_t)st.st_size + 1);
  if (!buf) {
    r = -ENOMEM;
    snprintf(err, errlen, "%s: out of memory", path);
    goto out;
  }
  size_t got = 0;
  while (got < (size_t)st.st_size) {
    ssize_t k = read(fd, buf + got, (size_t)st.st_size - got);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) {
      r = -errno;
      snprintf(err, errlen, "%s: %s", path, strerror(-r));
      goto out;
    }
    if (k == 0) break;
    got += (size_t)k;
  }
  char perr[160];
  r = auth_tokens_parse(buf, got, ret, perr, sizeof(perr));
  if (r == -EINVAL) snprintf(err, errlen, "%s: %s", path, perr);
  else if (r < 0) snprintf(err, errlen, "%s: out of memory", path);
out:
  free(buf);
  close(fd);
  return r;
}

size_t auth_tokens_count(const auth_tokens *t) { return t ? t->n : 0; }

size_t auth_tokens_agents(const auth_tokens *t) {
  size_t n = 0;
  for (size_t i = 0; t && i < t->n; i++) {
    size_t j = 0;
    while (j < i && strcmp(t->lines[j].agent_id, t->lines[i].agent_id) != 0) j++;
    if (j == i) n++;
  }
  return n;
}

const char *auth_tokens_find(const auth_tokens *t, const char *token, size_t len) {
  if (!t) return NULL;
  uint8_t h[32];
  auth_sha256(token, len, h);
  const char *found = NULL;
  for (size_t i = 0; i < t->n; i++) /* no early exit: same work for every token */
    if (auth_digest_equal(h, t->lines[i].hash) && !found) found = t->lines[i].agent_id;
  return found;
}

bool auth_tokens_lists(const auth_tokens *t, const char *agent_id) {
  for (size_t i = 0; t && i < t->n; i++)
    if (strcmp(t->lines[i].agent_id, agent_id) == 0) return true;
  return false;
}

void auth_set_shared(col_auth *a, const char *token) {
  a->have_shared = token != NULL;
  if (token) auth_sha256(token, strlen(token), a->shared_hash);
}

void auth_set_read(col_auth *a, const char *token) {
  a->have_read = token != NULL;
  if (token) auth_sha256(token, strlen(token), a->read_hash);
}

void auth_set_admin(col_auth *a, const char *token) {
  a->have_admin = token != NULL;
  if (token) auth_sha256(token, strlen(token), a->admin_hash);
}

void auth_replace_tokens(col_auth *a, auth_tokens *t) {
  auth_tokens_free(a->tokens);
  a->tokens = t;
}

void auth_clear(col_auth *a) {
  auth_tokens_free(a->tokens);
  memset(a, 0, sizeof(*a));
}

static int auth__b64val(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

/* Decode standard base64 (padding optional) into out; -EINVAL on bad input. */
static int auth__b64decode(const char *in, size_t len, char *out, size_t outlen, size_t *ret_len) {
  uint32_t acc = 0;
  int bits = 0;
  size_t o = 0;
  while (len && in[len - 1] == '=') len--;
  for (size_t i = 0; i < len; i++) {
    int v = auth__b64val((unsigned char)in[i]);
    if (v < 0) return -EINVAL;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (o + 1 >= outlen) return -EINVAL;
      out[o++] = (char)((acc >> bits) & 0xff);
    }
  }
  out[o] = '\0';
  *ret_len = o;
  return 0;
}

int auth_extract(const char *authorization, bool allow_basic, char *out, size_t outlen, size_t *ret_len) {
  const char *scheme, *p;
  size_t slen, vlen;
  int r = httpd_auth_split(authorization, &scheme, &slen, &p, &vlen);
  if (r < 0) return r;
  if (slen == 6 && strncasecmp(scheme, "Bearer", 6) == 0) {
    if (vlen >= outlen) return -EINVAL;
    memcpy(out, p, vlen);
    out[vlen] = '\0';
    *ret_len = vlen;
    return 0;
  }
  if (allow_basic && slen == 5 && strncasecmp(scheme, "Basic", 5) == 0) {
    char dec[AUTH_TOKEN_MAX + 128];
    size_t dlen;
    if (auth__b64decode(p, vlen, dec, sizeof(dec), &dlen) < 0) return -EINVAL;
    char *colon = memchr(dec, ':', dlen);
    if (!colon) return -EINVAL;
    size_t plen = dlen - (size_t)(colon + 1 - dec);
    if (plen >= outlen) return -EINVAL;
    memcpy(out, colon + 1, plen);
    out[plen] = '\0';
    *ret_len = plen;
    return 0;
  }
  return -ENOENT;
}

static bool auth__refuse(auth_refusal *no, unsigned status, const char *msg) {
  no->status = status;
  no->code = status == 401 ? "unauthorized" : "forbidden";
  no->msg = msg;
  return false;
}

bool auth_check_agent(const col_auth *a, const char *authorization, auth_grant *ret, auth_refusal *no) {
  char tok[AUTH_TOKEN_MAX + 1];
  size_t len = 0;
  int r = auth_extract(authorization, false, tok, sizeof(tok), &len);
  memset(ret, 0, sizeof(*ret));
  if (r == 0) {
    uint8_t h[32];
    auth_sha256(tok, len, h);
    const char *agent = auth_tokens_find(a->tokens, tok, len);
    bool shared = a->have_shared && auth_digest_equal(h, a->shared_hash);
    bool reader = a->have_read && auth_digest_equal(h, a->read_hash);
    explicit_bzero(tok, sizeof(tok));
    if (agent) {
      ret->kind = AUTH_GRANT_AGENT;
      snprintf(ret->agent_id, sizeof(ret->agent_id), "%s", agent);
      return true;
    }
    if (shared) {
      ret->kind = AUTH_GRANT_SHARED;
      return true;
    }
    if (a->insecure_no_auth) return true; /* AUTH_GRANT_OPEN */
    if (reader) { return auth__refuse(no, 403, "the read token does not grant ingest; use an agent token"); }
    return auth__refuse(no, 401, "unknown agent token");
  }
  if (a->insecure_no_auth) return true;
  return auth__refuse(no, 401,
                      r == -EINVAL ? "malformed Authorization header"
                                   : "missing agent token (Authorization: Bearer TOKEN)");
}

bool auth_check_agent_id(const col_auth *a, const auth_grant *g, const char *agent_id, auth_refusal *no) {
  switch (g->kind) {
    case AUTH_GRANT_OPEN: return true;
    case AUTH_GRANT_SHARED:
      if (auth_tokens_lists(a->tokens, agent_id)) {
        return auth__refuse(no, 403, "this agent_id is listed in the tokens file and must use its own token");
      }
      return true;
    case AUTH_GRANT_AGENT:
      if (strcmp(g->agent_id, agent_id) != 0) {
        return auth__refuse(no, 403, "this token belongs to another agent_id");
      }
      return true;
  }
  return auth__refuse(no, 403, "forbidden");
}

bool auth_check_read(const col_auth *a, const char *authorization, auth_refusal *no) {
  if (a->open_reads) return true;
  char tok[AUTH_TOKEN_MAX + 1];
  size_t len = 0;
  int r = auth_extract(authorization, true, tok, sizeof(tok), &len);
  if (r < 0) {
    return auth__refuse(no, 401,
                        r == -EINVAL ? "malformed Authorization header"
                                     : "missing read token (Authorization: Bearer READ_TOKEN)");
  }
  uint8_t h[32];
  auth_sha256(tok, len, h);
  bool ok = a->have_read && auth_digest_equal(h, a->read_hash);
  bool agent = !ok && ((a->have_shared && auth_digest_equal(h, a->shared_hash)) ||
                       auth_tokens_find(a->tokens, tok, len) != NULL);
  explicit_bzero(tok, sizeof(tok));
  if (ok) return true;
  if (agent) { return auth__refuse(no, 403, "agent tokens do not grant reads; use the read token"); }
  return auth__refuse(no, 401, "unknown read token");
}

bool auth_check_admin(const col_auth *a, const char *authorization, auth_refusal *no) {
  char tok[AUTH_TOKEN_MAX + 1];
  size_t len = 0;
  int r = auth_extract(authorization, false, tok, sizeof(tok), &len);
  if (r < 0)
    return auth__refuse(no, 401,
                        r == -EINVAL ? "malformed Authorization header"
                                     : "missing admin token (Authorization: Bearer ADMIN_TOKEN)");
  uint8_t h[32];
  auth_sha256(tok, len, h);
  bool ok = a->have_admin && auth_digest_equal(h, a->admin_hash);
  bool other = !ok && ((a->have_read && auth_digest_equal(h, a->read_hash)) ||
                       (a->have_shared && auth_digest_equal(h, a->shared_hash)) ||
                       auth_tokens_find(a->tokens, tok, len) != NULL);
  explicit_bzero(tok, sizeof(tok));
  if (ok) return true;
  if (!a->have_admin)
    return auth__refuse(no, 403,
                        "registry writes need an admin token and none is configured (admin_token_file)");
  if (other)
    return auth__refuse(no, 403,
                        "agent tokens and the read token do not grant registry writes; use the admin token");
  return auth__refuse(no, 401, "unknown admin token");
}

bool auth_check_read_or_admin(const col_auth *a, const char *authorization, auth_refusal *no) {
  if (auth_check_read(a, authorization, no)) return true;
  if (!a->have_admin) return false;
  char tok[AUTH_TOKEN_MAX + 1];
  size_t len = 0;
  if (auth_extract(authorization, false, tok, sizeof(tok), &len) < 0) return false;
  uint8_t h[32];
  auth_sha256(tok, len, h);
  explicit_bzero(tok, sizeof(tok));
  return auth_digest_equal(h, a->admin_hash);
}
