/* httpd_auth: the one reading of an Authorization header both programs use,
 * with one whitespace rule: optional spaces or tabs around the value, the
 * scheme (case-insensitive), one or more spaces or tabs, then the
 * credentials up to the trailing whitespace. Checking the credentials (the
 * agent's ingest token, the collector's token hashes) stays with each
 * program. */
#ifndef FERRY_HTTPD_AUTH_H
#define FERRY_HTTPD_AUTH_H

#include <stddef.h>

/* Split "Scheme credentials". 0 with pointers into the header, or -ENOENT
 * when the header is absent or carries no credentials. */
int httpd_auth_split(const char *authorization, const char **ret_scheme, size_t *ret_slen,
                     const char **ret_cred, size_t *ret_clen);
/* The token of "Bearer TOKEN". 0 with a pointer into the header, or -ENOENT
 * (absent, another scheme, empty token). */
int httpd_auth_bearer(const char *authorization, const char **ret_tok, size_t *ret_len);

#endif
