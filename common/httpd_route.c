/* httpd_route: see httpd_route.h. */
#include "httpd_route.h"

#include <string.h>

const httpd_route *httpd_route_find(const httpd_route *table, size_t n, const char *path) {
  if (!path) return NULL;
  for (size_t i = 0; i < n; i++) {
    const httpd_route *r = &table[i];
    if (r->path ? strcmp(path, r->path) == 0 : r->match && r->match(path)) return r;
  }
  return NULL;
}

bool httpd_route_method_ok(const httpd_route *r, const char *method) {
  if (!r->method) return true;
  if (strcmp(method, r->method) == 0) return true;
  return strcmp(r->method, "GET") == 0 && strcmp(method, "HEAD") == 0;
}

const char *httpd_route_allow(const httpd_route *r) {
  return r->method && strcmp(r->method, "GET") == 0 ? "GET, HEAD" : r->method ? r->method : "";
}
