/* test_stall_reload: the pieces the service behaviour rests on — the stall
 * rule that decides whether the watchdog is fed, and the option helpers a
 * reload uses (compare, move, render) and the generated config template,
 * which must parse back as a config file and name every option. */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "options.h"
#include "stall.h"

typedef struct cfg {
  char *collector;
  char *token;
  int64_t batch;
  int64_t bytes;
  double retry;
  bool insecure;
  int level;
} cfg;

static const opt_def defs[] = {
    {"collector", OPT_STR, offsetof(cfg, collector), "http://127.0.0.1:8700", "collector URL", NULL, 0, 0, 0},
    {"auth-token", OPT_STR, offsetof(cfg, token), NULL, "token", NULL, 0, 0, OPT_F_SECRET},
    {"batch-max-events", OPT_INT, offsetof(cfg, batch), "1000", "events per batch", NULL, 1, 100000, 0},
    {"max-bytes", OPT_SIZE, offsetof(cfg, bytes), "64MiB", "bytes", NULL, 1048576, 1099511627776.0, 0},
    {"retry-max", OPT_SECONDS, offsetof(cfg, retry), "60", "retry", NULL, 0.01, 86400, 0},
    {"insecure-http", OPT_BOOL, offsetof(cfg, insecure), "false", "insecure", NULL, 0, 0, 0},
    {"log-level", OPT_ENUM, offsetof(cfg, level), "info", "level", "error|warning|notice|info|debug", 0, 0,
     0},
};
#define NDEFS (sizeof defs / sizeof defs[0])

static void test_stall(void) {
  stall_track t = {0};
  /* first sample: progress by definition */
  CHECK_EQ_INT(stall_observe(&t, true, 5, 1000), 0);
  /* busy, counter still: the stall grows */
  CHECK_EQ_INT(stall_observe(&t, true, 5, 4000), 3000);
  CHECK_EQ_INT(stall_observe(&t, true, 5, 9000), 8000);
  /* the counter moved: progress */
  CHECK_EQ_INT(stall_observe(&t, true, 6, 9500), 0);
  CHECK_EQ_INT(stall_observe(&t, true, 6, 10500), 1000);
  /* idle: never stalled, however long the counter stays */
  CHECK_EQ_INT(stall_observe(&t, false, 6, 50000), 0);
  CHECK_EQ_INT(stall_observe(&t, false, 6, 90000), 0);
  /* busy again: measured from the last idle sample */
  CHECK_EQ_INT(stall_observe(&t, true, 6, 91000), 1000);
  /* a clock going backwards restarts the measure rather than underflowing */
  CHECK_EQ_INT(stall_observe(&t, true, 6, 80000), 0);
  CHECK_EQ_INT(stall_observe(&t, true, 6, 80001), 1);
}

static void test_field_helpers(void) {
  cfg a, b;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  char err[256];
  char *argv_a[] = {"prog", "--batch-max-events", "10", NULL};
  char *argv_b[] = {
      "prog", "--batch-max-events", "20", "--collector", "http://10.0.0.1:1", "--log-level", "debug", NULL};
  opt_cli cli;
  CHECK_EQ_INT(opt_parse(defs, NDEFS, &a, 3, argv_a, &cli, err, sizeof err), 0);
  CHECK_EQ_INT(opt_parse(defs, NDEFS, &b, 7, argv_b, &cli, err, sizeof err), 0);
  CHECK(opt_field_equal(&defs[1], &a, &b)); /* both unset */
  CHECK(opt_field_equal(&defs[3], &a, &b));
  CHECK(opt_field_equal(&defs[4], &a, &b));
  CHECK(opt_field_equal(&defs[5], &a, &b));
  CHECK(!opt_field_equal(&defs[0], &a, &b));
  CHECK(!opt_field_equal(&defs[2], &a, &b));
  CHECK(!opt_field_equal(&defs[6], &a, &b));

  char buf[64];
  opt_format_value(&defs[6], &b, buf, sizeof buf);
  CHECK_EQ_STR(buf, "debug");
  opt_format_value(&defs[3], &a, buf, sizeof buf);
  CHECK_EQ_STR(buf, "64MiB");
  opt_format_value(&defs[4], &a, buf, sizeof buf);
  CHECK_EQ_STR(buf, "60 s");
  opt_format_value(&defs[1], &a, buf, sizeof buf);
  CHECK_EQ_STR(buf, "(unset)");

  /* swap moves the value (and the string's ownership) both ways */
  char *bcoll = b.collector;
  opt_field_swap(&defs[0], &a, &b);
  opt_field_swap(&defs[2], &a, &b);
  CHECK(a.collector == bcoll);
  CHECK_EQ_STR(a.collector, "http://10.0.0.1:1");
  CHECK_EQ_STR(b.collector, "http://127.0.0.1:8700");
  CHECK_EQ_INT(a.batch, 20);
  CHECK_EQ_INT(b.batch, 10);
  opt_clear(defs, NDEFS, &a);
  opt_clear(defs, NDEFS, &b);
}

static void test_print_config(void) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  CHECK(f != NULL);
  if (!f) return;
  opt_print_config(defs, NDEFS, "prog", "intro line", f);
  fclose(f);
  /* every option appears with its file key */
  for (size_t i = 0; i < NDEFS; i++) {
    char key[80];
    snprintf(key, sizeof key, "\"%s\":", defs[i].name);
    for (char *p = key; *p; p++)
      if (*p == '-') *p = '_';
    CHECK(strstr(text, key) != NULL);
  }
  CHECK(strstr(text, "\"max_bytes\": \"64MiB\"") != NULL);
  CHECK(strstr(text, "FERRY_BATCH_MAX_EVENTS") != NULL);
  /* and the template is a valid config file that changes nothing: values
   * other than the defaults stay (checking a default would pass even if the
   * template reset everything) */
  cfg c;
  memset(&c, 0, sizeof c);
  char *argv[] = {"prog", NULL};
  char *argv_set[] = {"prog", "--batch-max-events", "7", "--log-level", "debug", NULL};
  opt_cli cli;
  char err[256];
  CHECK_EQ_INT(opt_parse(defs, NDEFS, &c, 5, argv_set, &cli, err, sizeof err), 0);
  CHECK_EQ_INT(opt_load_config_text(defs, NDEFS, &c, text, len, "template", err, sizeof err), 0);
  CHECK_EQ_INT(c.batch, 7);
  CHECK_EQ_INT(c.level, 4);
  opt_clear(defs, NDEFS, &c);
  /* uncommenting lines sets those options, the last one too (its trailing
   * comma before '}' is accepted) */
  char *line = strstr(text, "// \"batch_max_events\": 1000,");
  char *last = strstr(text, "// \"log_level\": \"info\",");
  CHECK(line != NULL);
  CHECK(last != NULL);
  if (line && last) {
    memcpy(line, "  ", 2);
    memcpy(last, "  ", 2);
    memcpy(strstr(line, "1000"), "2000", 4);
    memset(&c, 0, sizeof c);
    CHECK_EQ_INT(opt_parse(defs, NDEFS, &c, 1, argv, &cli, err, sizeof err), 0);
    int r = opt_load_config_text(defs, NDEFS, &c, text, len, "template", err, sizeof err);
    CHECK_EQ_INT(r, 0);
    if (r) fprintf(stderr, "%s\n", err);
    CHECK_EQ_INT(c.batch, 2000);
    CHECK_EQ_INT(c.level, 3);
    opt_clear(defs, NDEFS, &c);
  }
  free(text);
}

int main(void) {
  test_stall();
  test_field_helpers();
  test_print_config();
  return check_finish("test_stall_reload");
}
