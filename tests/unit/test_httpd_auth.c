/* test_httpd_auth: the one Authorization reading of both programs — scheme
 * case, the whitespace rule (spaces and tabs alike around the value and
 * between scheme and credentials), absent and empty credentials. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "httpd_auth.h"

static void bearer(const char *h, const char *want) {
  const char *t = NULL;
  size_t n = 0;
  int r = httpd_auth_bearer(h, &t, &n);
  if (!want) {
    CHECK_EQ_INT(r, -ENOENT);
    return;
  }
  CHECK_EQ_INT(r, 0);
  CHECK(r == 0 && n == strlen(want) && memcmp(t, want, n) == 0);
}

int main(void) {
  bearer("Bearer tok", "tok");
  bearer("bearer tok", "tok");
  bearer("BEARER tok", "tok");
  bearer("  Bearer   tok  ", "tok");
  bearer("\tBearer\ttok\t", "tok");
  bearer("Bearer a b", "a b"); /* the credentials run to the trailing whitespace */
  bearer(NULL, NULL);
  bearer("", NULL);
  bearer("Bearer", NULL);
  bearer("Bearer   ", NULL);
  bearer("Bearertok", NULL);
  bearer("Basic dG9r", NULL);
  bearer("tok", NULL);

  const char *s, *c;
  size_t sl, cl;
  CHECK_EQ_INT(httpd_auth_split(" Basic\t dG9r ", &s, &sl, &c, &cl), 0);
  CHECK(sl == 5 && strncmp(s, "Basic", 5) == 0);
  CHECK(cl == 4 && strncmp(c, "dG9r", 4) == 0);
  CHECK_EQ_INT(httpd_auth_split("Basic", &s, &sl, &c, &cl), -ENOENT);
  return check_finish("test_httpd_auth");
}
