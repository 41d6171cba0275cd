/* httpd_auth: see httpd_auth.h. Before it, the agent and the collector each
 * had their own loop over the header and disagreed about tabs. */
#include "httpd_auth.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

static int ows(char c) { return c == ' ' || c == '\t'; }

int httpd_auth_split(const char *authorization, const char **ret_scheme, size_t *ret_slen,
                     const char **ret_cred, size_t *ret_clen) {
  if (!authorization) return -ENOENT;
  const char *p = authorization;
  while (ows(*p)) p++;
  const char *scheme = p;
  while (*p && !ows(*p)) p++;
  size_t slen = (size_t)(p - scheme);
  while (ows(*p)) p++;
  size_t clen = strlen(p);
  while (clen && ows(p[clen - 1])) clen--;
  if (slen == 0 || clen == 0) return -ENOENT;
  *ret_scheme = scheme;
  *ret_slen = slen;
  *ret_cred = p;
  *ret_clen = clen;
  return 0;
}

int httpd_auth_bearer(const char *authorization, const char **ret_tok, size_t *ret_len) {
  const char *scheme;
  size_t slen;
  int r = httpd_auth_split(authorization, &scheme, &slen, ret_tok, ret_len);
  if (r < 0) return r;
  return slen == 6 && strncasecmp(scheme, "Bearer", 6) == 0 ? 0 : -ENOENT;
}
