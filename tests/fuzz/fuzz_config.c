/* fuzz_config: the config-file reader (comment stripping, JSON, per-type
 * conversion, error lines) over arbitrary bytes, against a small table with
 * one option of every type. Config files are operator input, but a parser
 * that crashes on a typo is a bad way to learn about it. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

typedef struct fuzz_cfg {
  char *s;
  char *secret;
  int64_t i;
  int64_t size;
  double secs;
  bool b;
  int e;
} fuzz_cfg;

static const opt_def defs[] = {
    {"journal", OPT_STR, offsetof(fuzz_cfg, s), "/var/lib/j.db", "path", NULL, 0, 0, 0},
    {"auth-token", OPT_STR, offsetof(fuzz_cfg, secret), NULL, "token", NULL, 0, 0, OPT_F_SECRET},
    {"batch-max-events", OPT_INT, offsetof(fuzz_cfg, i), "1000", "n", NULL, 1, 100000, 0},
    {"max-journal-bytes", OPT_SIZE, offsetof(fuzz_cfg, size), "1GiB", "size", NULL, 0, 0, 0},
    {"retry-max", OPT_SECONDS, offsetof(fuzz_cfg, secs), "60", "s", NULL, 0.001, 86400, 0},
    {"insecure-http", OPT_BOOL, offsetof(fuzz_cfg, b), "false", "b", NULL, 0, 0, 0},
    {"overflow", OPT_ENUM, offsetof(fuzz_cfg, e), "drop_oldest", "e", "drop_oldest|reject", 0, 0, 0},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_cfg c;
  char err[512];
  memset(&c, 0, sizeof c);
  int r = opt_load_config_text(defs, sizeof defs / sizeof *defs, &c, (const char *)data, size, "fuzz.jsonc",
                               err, sizeof err);
  if (r < 0 && (err[0] == '\0' || strchr(err, '\n'))) abort(); /* one line, always */
  opt_clear(defs, sizeof defs / sizeof *defs, &c);

  /* the scalar parsers on the same bytes as one string */
  if (size < 256 && !memchr(data, '\0', size)) {
    char s[256];
    memcpy(s, data, size);
    s[size] = '\0';
    int64_t v;
    double d;
    bool b;
    if (opt_parse_size(s, &v) == 0 && v < 0) abort();
    if (opt_parse_seconds(s, &d) == 0 && !(d >= 0)) abort();
    (void)opt_parse_int(s, &v);
    (void)opt_parse_bool(s, &b);
    (void)opt_strip_json_comments(s);
  }
  return 0;
}
