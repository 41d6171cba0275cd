/* test_httpd_route: the route-table shape both programs use — exact paths
 * and path families in table order, the method rule (GET serves HEAD), the
 * Allow value, and routes that leave methods to their handler. */
#include <stdbool.h>
#include <string.h>

#include "check.h"
#include "httpd_route.h"

static bool family(const char *p) { return strncmp(p, "/v1/x/", 6) == 0; }

static const httpd_route table[] = {
    {1, "/v1/x/exact", NULL, "POST", 0},
    {2, "/healthz", NULL, "GET", 7},
    {3, NULL, family, "GET", 0},
    {4, NULL, NULL, NULL, 0}, /* matches nothing */
};
#define N (sizeof(table) / sizeof(table[0]))

int main(void) {
  const httpd_route *r = httpd_route_find(table, N, "/v1/x/exact");
  CHECK(r && r->id == 1); /* the exact row comes before the family */
  r = httpd_route_find(table, N, "/v1/x/other");
  CHECK(r && r->id == 3);
  r = httpd_route_find(table, N, "/healthz");
  CHECK(r && r->id == 2 && r->flags == 7);
  CHECK(httpd_route_find(table, N, "/healthz/") == NULL);
  CHECK(httpd_route_find(table, N, "/nothing") == NULL);
  CHECK(httpd_route_find(table, N, NULL) == NULL);

  CHECK(httpd_route_method_ok(&table[0], "POST"));
  CHECK(!httpd_route_method_ok(&table[0], "GET"));
  CHECK(!httpd_route_method_ok(&table[0], "post"));
  CHECK(httpd_route_method_ok(&table[1], "GET"));
  CHECK(httpd_route_method_ok(&table[1], "HEAD"));
  CHECK(!httpd_route_method_ok(&table[1], "PUT"));
  CHECK(httpd_route_method_ok(&table[3], "DELETE")); /* the handler checks */
  CHECK_EQ_STR(httpd_route_allow(&table[0]), "POST");
  CHECK_EQ_STR(httpd_route_allow(&table[1]), "GET, HEAD");
  return check_finish("test_httpd_route");
}
