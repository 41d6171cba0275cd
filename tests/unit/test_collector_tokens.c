/* test_collector_tokens: the tokens file (comments, rotation, case-insensitive
 * hex, permission check) and the agent/read credential rules built on it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "check.h"

static void hex_of(const char *token, char out[65], int upper) {
  uint8_t h[32];
  auth_sha256(token, strlen(token), h);
  for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, upper ? "%02X" : "%02x", h[i]);
}

static void test_parse(void) {
  char h1[65], h2[65], h3[65], text[1024];
  hex_of("tok-a1", h1, 0);
  hex_of("tok-a1-new", h2, 1); /* upper case hex */
  hex_of("tok-b", h3, 0);
  snprintf(text, sizeof(text), "# per-agent tokens\n\n  a1 %s\na1\t%s   # rotation\r\nline-b %s\n", h1, h2,
           h3);
  auth_tokens *t = NULL;
  char err[160];
  CHECK_EQ_INT(auth_tokens_parse(text, strlen(text), &t, err, sizeof(err)), 0);
  CHECK_EQ_INT(auth_tokens_count(t), 3);
  CHECK_EQ_INT(auth_tokens_agents(t), 2);
  CHECK_EQ_STR(auth_tokens_find(t, "tok-a1", 6), "a1");
  CHECK_EQ_STR(auth_tokens_find(t, "tok-a1-new", 10), "a1");
  CHECK_EQ_STR(auth_tokens_find(t, "tok-b", 5), "line-b");
  CHECK(auth_tokens_find(t, "tok-c", 5) == NULL);
  CHECK(auth_tokens_lists(t, "a1"));
  CHECK(!auth_tokens_lists(t, "a2"));
  auth_tokens_free(t);

  t = NULL;
  CHECK_EQ_INT(auth_tokens_parse("a1 abcd\n", 8, &t, err, sizeof(err)), -EINVAL);
  CHECK(strstr(err, "line 1") != NULL);
  snprintf(text, sizeof(text), "\n# x\nbad/agent %s\n", h1);
  CHECK_EQ_INT(auth_tokens_parse(text, strlen(text), &t, err, sizeof(err)), -EINVAL);
  CHECK(strstr(err, "line 3") != NULL);
  snprintf(text, sizeof(text), "a1 %s extra\n", h1);
  CHECK_EQ_INT(auth_tokens_parse(text, strlen(text), &t, err, sizeof(err)), -EINVAL);
  memcpy(text, "a1 ", 3);
  memset(text + 3, 'g', 64);
  text[67] = '\0';
  CHECK_EQ_INT(auth_tokens_parse(text, strlen(text), &t, err, sizeof(err)), -EINVAL);
  CHECK(t == NULL);
}

static void test_load_mode(void) {
  char path[] = "/tmp/ferry-test-tokens-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  char h[65], line[100];
  hex_of("secret", h, 0);
  snprintf(line, sizeof(line), "a1 %s\n", h);
  CHECK_EQ_INT(write(fd, line, strlen(line)), (long long)strlen(line));
  close(fd);
  auth_tokens *t = NULL;
  char err[300];
  CHECK_EQ_INT(chmod(path, 0644), 0);
  CHECK_EQ_INT(auth_tokens_load(path, &t, err, sizeof(err)), -EACCES);
  CHECK(strstr(err, "0644") != NULL);
  CHECK(t == NULL);
  CHECK_EQ_INT(chmod(path, 0640), 0);
  CHECK_EQ_INT(auth_tokens_load(path, &t, err, sizeof(err)), -EACCES);
  CHECK_EQ_INT(chmod(path, 0600), 0);
  CHECK_EQ_INT(auth_tokens_load(path, &t, err, sizeof(err)), 0);
  CHECK_EQ_STR(auth_tokens_find(t, "secret", 6), "a1");
  auth_tokens_free(t);
  unlink(path);
  CHECK(auth_tokens_load(path, &t, err, sizeof(err)) == -ENOENT);
}


/* The HTTP status a check refused with, 0 when it allowed (and the refusal
 * always names a code and a message). */
static unsigned refusal_st(bool ok, const auth_refusal *no) {
  if (ok) return 0;
  CHECK(no->code && no->msg && *no->msg);
  return no->status;
}
static unsigned agent_st(const col_auth *a, const char *h, auth_grant *g) {
  auth_refusal no;
  bool ok = auth_check_agent(a, h, g, &no);
  return refusal_st(ok, &no);
}
static unsigned agent_id_st(const col_auth *a, const auth_grant *g, const char *id) {
  auth_refusal no;
  bool ok = auth_check_agent_id(a, g, id, &no);
  return refusal_st(ok, &no);
}
static unsigned read_st(const col_auth *a, const char *h) {
  auth_refusal no;
  bool ok = auth_check_read(a, h, &no);
  return refusal_st(ok, &no);
}

static void test_checks(void) {
  col_auth a;
  memset(&a, 0, sizeof(a));
  char h[65], text[200];
  hex_of("per-agent", h, 0);
  snprintf(text, sizeof(text), "a1 %s\n", h);
  auth_tokens *t = NULL;
  char err[160];
  CHECK_EQ_INT(auth_tokens_parse(text, strlen(text), &t, err, sizeof(err)), 0);
  auth_replace_tokens(&a, t);
  auth_set_shared(&a, "shared");
  auth_set_read(&a, "reader");
  auth_grant g;

  CHECK_EQ_INT(agent_st(&a, NULL, &g), 401);
  CHECK_EQ_INT(agent_st(&a, "Bearer nope", &g), 401);
  CHECK_EQ_INT(agent_st(&a, "Bearer reader", &g), 403);
  CHECK_EQ_INT(agent_st(&a, "Bearer per-agent", &g), 0);
  CHECK_EQ_INT(g.kind, AUTH_GRANT_AGENT);
  CHECK_EQ_INT(agent_id_st(&a, &g, "a1"), 0);
  CHECK_EQ_INT(agent_id_st(&a, &g, "a2"), 403); /* wrong agent */
  CHECK_EQ_INT(agent_st(&a, "bearer   shared  ", &g), 0);
  CHECK_EQ_INT(g.kind, AUTH_GRANT_SHARED);
  CHECK_EQ_INT(agent_id_st(&a, &g, "a2"), 0);
  CHECK_EQ_INT(agent_id_st(&a, &g, "a1"), 403); /* listed: own token only */

  CHECK_EQ_INT(read_st(&a, NULL), 401);
  CHECK_EQ_INT(read_st(&a, "Bearer reader"), 0);
  CHECK_EQ_INT(read_st(&a, "Bearer shared"), 403);
  CHECK_EQ_INT(read_st(&a, "Bearer per-agent"), 403);
  CHECK_EQ_INT(read_st(&a, "Basic dTpyZWFkZXI="), 0);        /* u:reader */
  CHECK_EQ_INT(read_st(&a, "Basic dTp3cm9uZw=="), 401);      /* u:wrong */
  CHECK_EQ_INT(agent_st(&a, "Basic dTpzaGFyZWQ=", &g), 401); /* no Basic for agents */

  a.open_reads = true;
  CHECK_EQ_INT(read_st(&a, NULL), 0);
  a.insecure_no_auth = true;
  CHECK_EQ_INT(agent_st(&a, NULL, &g), 0);
  CHECK_EQ_INT(g.kind, AUTH_GRANT_OPEN);
  auth_clear(&a);
}

int main(void) {
  test_parse();
  test_load_mode();
  test_checks();
  return check_finish("test_collector_tokens");
}
