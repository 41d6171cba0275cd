/* token_cmd: the operator's way to make per-agent tokens (see token_cmd.h).
 * The token is base64url text without padding, so it needs no quoting in a
 * file, a flag or an environment variable. */
#include "token_cmd.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#include <nettle/base64.h>

#include "auth.h"

#define TOKEN_RANDOM_BYTES 32

static void tc__hex(const uint8_t d[32], char out[65]) {
  static const char x[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    out[2 * i] = x[d[i] >> 4];
    out[2 * i + 1] = x[d[i] & 15];
  }
  out[64] = '\0';
}

static int tc__usage(FILE *errf) {
  fprintf(errf, "usage: ferry-collector token new AGENT_ID   (prints a new token and its tokens-file line)\n"
                "       ferry-collector token hash AGENT_ID  (reads a token on stdin, prints its line)\n");
  return 2;
}

static int tc__line(FILE *out, const char *agent_id, const char *token, size_t len) {
  uint8_t d[32];
  char hex[65];
  auth_sha256(token, len, d);
  tc__hex(d, hex);
  fprintf(out, "%s %s\n", agent_id, hex);
  return 0;
}

static int tc__new(const char *agent_id, FILE *out, FILE *errf) {
  uint8_t raw[TOKEN_RANDOM_BYTES];
  size_t got = 0;
  while (got < sizeof(raw)) {
    ssize_t k = getrandom(raw + got, sizeof(raw) - got, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) {
      fprintf(errf, "ferry-collector: getrandom: %s\n", strerror(errno));
      return 1;
    }
    got += (size_t)k;
  }
  struct base64_encode_ctx ctx;
  char tok[BASE64_ENCODE_LENGTH(TOKEN_RANDOM_BYTES) + BASE64_ENCODE_FINAL_LENGTH + 1];
  base64url_encode_init(&ctx);
  size_t n = base64_encode_update(&ctx, tok, sizeof(raw), raw);
  n += base64_encode_final(&ctx, tok + n);
  while (n && tok[n - 1] == '=') n--;
  tok[n] = '\0';
  explicit_bzero(raw, sizeof(raw));
  fprintf(out,
          "# token for agent %s (shown once: put it in the agent's auth_token_file, mode 0600)\n"
          "%s\n"
          "# line for the collector's tokens_file (then send the collector SIGHUP)\n",
          agent_id, tok);
  tc__line(out, agent_id, tok, n);
  explicit_bzero(tok, sizeof(tok));
  return fflush(out) == 0 ? 0 : 1;
}

static int tc__hash(const char *agent_id, FILE *out, FILE *errf) {
  char buf[AUTH_TOKEN_MAX + 2];
  if (!fgets(buf, sizeof(buf), stdin)) {
    fprintf(errf, "ferry-collector: token hash: no token on stdin\n");
    return 1;
  }
  size_t n = strcspn(buf, "\r\n");
  buf[n] = '\0';
  int r = 0;
  if (n == 0 || n > AUTH_TOKEN_MAX) {
    fprintf(errf, "ferry-collector: token hash: the token must be 1-%d bytes\n", AUTH_TOKEN_MAX);
    r = 1;
  } else {
    for (size_t i = 0; i < n; i++)
      if ((unsigned char)buf[i] < 0x21 || buf[i] == 0x7f) {
        fprintf(errf, "ferry-collector: token hash: the token contains whitespace or control characters\n");
        r = 1;
        break;
      }
  }
  if (r == 0) tc__line(out, agent_id, buf, n);
  explicit_bzero(buf, sizeof(buf));
  return r;
}

int token_cmd(int nargs, char **args, FILE *out, FILE *errf) {
  if (nargs != 3 || (strcmp(args[1], "new") != 0 && strcmp(args[1], "hash") != 0)) return tc__usage(errf);
  const char *id = args[2];
  if (!auth_agent_id_valid(id, strlen(id))) {
    fprintf(errf, "ferry-collector: token: \"%.80s\" is not an agent id (1-%d of A-Z a-z 0-9 . _ -)\n", id,
            AUTH_AGENT_ID_MAX);
    return 2;
  }
  return strcmp(args[1], "new") == 0 ? tc__new(id, out, errf) : tc__hash(id, out, errf);
}
