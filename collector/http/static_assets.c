/* static_assets: lookup and answer for the embedded public files (see
 * static_assets.h). */
#include "static_assets.h"

#include <string.h>

#define SA_CSP "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

const sa_asset *static_assets_find(const char *path) {
  for (size_t i = 0; i < sa_n_assets; i++)
    if (strcmp(sa_assets[i].path, path) == 0) return &sa_assets[i];
  return NULL;
}

/* 1 when the If-None-Match header lists etag (or is "*"). */
static int sa__matches(const char *inm, const char *etag) {
  if (!inm) return 0;
  size_t n = strlen(etag);
  for (const char *p = inm; *p;) {
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    if (*p == '*') return 1;
    if (p[0] == 'W' && p[1] == '/') p += 2; /* weak comparison is fine for GET */
    if (strncmp(p, etag, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' ' || p[n] == '\t')) return 1;
    while (*p && *p != ',') p++;
  }
  return 0;
}

void static_assets_respond(httpd_req *req, const sa_asset *a) {
  httpd_req_add_header(req, "Content-Security-Policy", SA_CSP);
  httpd_req_add_header(req, "X-Content-Type-Options", "nosniff");
  httpd_req_add_header(req, "Referrer-Policy", "no-referrer");
  httpd_req_add_header(req, "Cache-Control", "no-cache");
  httpd_req_add_header(req, "ETag", a->etag);
  if (sa__matches(httpd_req_header(req, "If-None-Match"), a->etag)) {
    httpd_respond(req, 304, a->content_type, "", 0);
    return;
  }
  httpd_respond(req, 200, a->content_type, (const char *)a->data, a->len);
}
