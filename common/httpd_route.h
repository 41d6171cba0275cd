/* httpd_route: the one shape of a route table both programs use — which
 * method serves which path — and its lookup. What a route does, and the
 * words of the 404/405 answers, stay with each program (agent/main.c,
 * collector/http/routes.c). */
#ifndef FERRY_HTTPD_ROUTE_H
#define FERRY_HTTPD_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct httpd_route {
  int id;                          /* the program's own route id */
  const char *path;                /* exact path; NULL when match decides */
  bool (*match)(const char *path); /* a family of paths (a prefix); NULL: path */
  const char *method; /* the one method served ("GET" serves HEAD too); NULL: the handler checks */
  unsigned flags;     /* the program's own (e.g. needs the read token) */
} httpd_route;

/* The first route (in table order) that path belongs to, or NULL. */
const httpd_route *httpd_route_find(const httpd_route *table, size_t n, const char *path);
/* Whether r serves method (always, when r->method is NULL). */
bool httpd_route_method_ok(const httpd_route *r, const char *method);
/* The Allow header value of r: "GET, HEAD" for GET, else its method. */
const char *httpd_route_allow(const httpd_route *r);

#endif
