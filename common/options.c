/* options: the one place that turns a program's option table into values.
 *
 * Each program declares its options once (options.h); opt_parse here reads
 * them from the four sources in increasing precedence — default text, config
 * file (JSON with comments, options_file.c), environment FERRY_<NAME>,
 * command-line flag — each value stored by options_value.c, and
 * options_print.c generates --help from the same table, so the four can never
 * drift apart.
 *
 * Values are parsed into a scratch copy of the config struct and copied into
 * the caller's struct only when every source parsed cleanly: a failed reload
 * (SIGHUP) leaves the running configuration exactly as it was. */
#include "options.h"
#include "options_int.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

/* Note that option d (of table defs) got its value from kind. */
void opt__record_source(unsigned char *record, const opt_def *defs, const opt_def *d, int kind) {
  size_t i = (size_t)(d - defs);
  if (record && i < OPT_MAX_DEFS) record[i] = (unsigned char)kind;
}

/* ------------------------------------------------------------------------ */
/* small text helpers */

/* Copy s into buf as a double-quoted, one-line, bounded rendering: control
 * and non-ASCII bytes become \xNN, quotes and backslashes are escaped. */
void opt__quote(char *buf, size_t len, const char *s) {
  size_t o = 0;
  if (len < 8) {
    if (len) buf[0] = '\0';
    return;
  }
  buf[o++] = '"';
  size_t i;
  for (i = 0; s[i] && i < OPT_ECHO_MAX; i++) {
    unsigned char c = (unsigned char)s[i];
    if (o + 8 >= len) break;
    if (c == '"' || c == '\\') {
      buf[o++] = '\\';
      buf[o++] = (char)c;
    } else if (c < 0x20 || c >= 0x7f) {
      o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
    } else {
      buf[o++] = (char)c;
    }
  }
  if (s[i] && o + 5 < len) {
    memcpy(buf + o, "...", 3);
    o += 3;
  }
  buf[o++] = '"';
  buf[o] = '\0';
}

/* "max-journal-bytes" → "max_journal_bytes" (sep '_') or, upper-cased,
 * "MAX_JOURNAL_BYTES". Returns false when the name does not fit. */
bool opt__spell(const char *name, char *buf, size_t len, bool upper) {
  size_t n = strlen(name);
  if (n + 1 > len) return false;
  for (size_t i = 0; i <= n; i++) {
    char c = name[i];
    if (c == '-') c = '_';
    else if (upper) c = (char)toupper((unsigned char)c);
    buf[i] = c;
  }
  return true;
}

void opt__value_error(char *err, size_t errlen, const opt_def *d, const opt_src *src, const char *fmt, ...) {
  char key[OPT_NAME_MAX + 1], env[OPT_NAME_MAX + 1], problem[512];
  if (!err || !errlen) return;
  if (!opt__spell(d->name, key, sizeof key, false)) snprintf(key, sizeof key, "%.64s", d->name);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(problem, sizeof problem, fmt, ap);
  va_end(ap);
  switch (src->kind) {
    case SRC_FILE:
      if (src->line > 0)
        snprintf(err, errlen, "config file %s: line %d: %s: %s", src->path, src->line, key, problem);
      else snprintf(err, errlen, "config file %s: %s: %s", src->path, key, problem);
      break;
    case SRC_ENV:
      if (!opt__spell(d->name, env, sizeof env, true)) env[0] = '\0';
      snprintf(err, errlen, "%s (from environment FERRY_%s): %s", key, env, problem);
      break;
    case SRC_FLAG: snprintf(err, errlen, "%s (from flag --%s): %s", key, d->name, problem); break;
    default: snprintf(err, errlen, "%s (built-in default): %s", key, problem); break;
  }
}

void opt__set_error(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* Aliases attached to tables (opt_set_aliases). */
static struct {
  const opt_def *defs;
  const opt_alias *aliases;
  size_t n;
} opt_alias_reg[8];

void opt_set_aliases(const opt_def *defs, const opt_alias *aliases, size_t n) {
  /* filled in order, never emptied: the table's own slot comes before any free one */
  for (size_t i = 0; i < sizeof(opt_alias_reg) / sizeof(opt_alias_reg[0]); i++) {
    if (opt_alias_reg[i].defs && opt_alias_reg[i].defs != defs) continue;
    opt_alias_reg[i].defs = defs;
    opt_alias_reg[i].aliases = aliases;
    opt_alias_reg[i].n = n;
    return;
  }
}

/* d's old spelling, or NULL. */
const char *opt__alias_of(const opt_def *defs, const opt_def *d) {
  for (size_t i = 0; i < sizeof(opt_alias_reg) / sizeof(opt_alias_reg[0]); i++) {
    if (opt_alias_reg[i].defs != defs) continue;
    for (size_t k = 0; k < opt_alias_reg[i].n; k++)
      if (strcmp(opt_alias_reg[i].aliases[k].name, d->name) == 0) return opt_alias_reg[i].aliases[k].alias;
  }
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* command line */

static const opt_def *find_by_flag(const opt_def *defs, size_t ndefs, const char *name, size_t len) {
  for (size_t i = 0; i < ndefs; i++) {
    if (strlen(defs[i].name) == len && strncmp(defs[i].name, name, len) == 0) return &defs[i];
    const char *al = opt__alias_of(defs, &defs[i]);
    if (al && strlen(al) == len && strncmp(al, name, len) == 0) return &defs[i];
  }
  return NULL;
}

/* First pass over argv: find the built-in flags, the positional arguments
 * and unknown flags, and move positionals behind the options (GNU getopt
 * style) so cli->args can point into argv. Values are not parsed here. */
static int scan_argv(const opt_def *defs, size_t ndefs, int argc, char **argv, opt_cli *cli, int *ret_optend,
                     char *err, size_t errlen) {
  int r = 0;
  char shown[OPT_ECHO_MAX * 4 + 16];
  *ret_optend = argc > 1 ? 1 : argc;
  if (argc <= 1) {
    cli->args = argv ? argv + (argc > 0 ? argc : 0) : NULL; /* empty list, valid pointer */
    return 0;
  }
  char **opts = calloc((size_t)argc, sizeof *opts);
  char **pos = calloc((size_t)argc, sizeof *pos);
  if (!opts || !pos) {
    free(opts);
    free(pos);
    opt__set_error(err, errlen, "out of memory");
    return -ENOMEM;
  }
  int nopts = 0, npos = 0;
  char *dashdash = NULL; /* the "--" argument, if any */
  for (int i = 1; i < argc; i++) {
    char *a = argv[i];
    if (dashdash || a[0] != '-' || a[1] == '\0') {
      pos[npos++] = a;
      continue;
    }
    if (strcmp(a, "--") == 0) { /* re-added below, before the positionals */
      dashdash = a;
      continue;
    }
    opts[nopts++] = a;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      cli->help = true;
      continue;
    }
    if (strcmp(a, "--version") == 0) {
      cli->version = true;
      continue;
    }
    if (strcmp(a, "--check-config") == 0) {
      cli->check_config = true;
      continue;
    }
    if (strcmp(a, "--print-config") == 0) {
      cli->print_config = true;
      continue;
    }
    if (strncmp(a, "--config", 8) == 0 && (a[8] == '\0' || a[8] == '=')) {
      if (a[8] == '=') {
        cli->config_path = a + 9;
      } else if (i + 1 < argc) {
        cli->config_path = argv[++i];
        opts[nopts++] = argv[i];
      } else if (!r) {
        opt__set_error(err, errlen, "config (from flag --config): missing value");
        r = -EINVAL;
      }
      continue;
    }
    const char *name = a + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const opt_def *d = (a[1] == '-') ? find_by_flag(defs, ndefs, name, len) : NULL;
    if (!d) {
      if (!r) {
        opt__quote(shown, sizeof shown, a);
        opt__set_error(err, errlen, "unknown option %s (see --help)", shown);
        r = -EINVAL;
      }
      continue;
    }
    if (d->type != OPT_BOOL && !eq) {
      if (i + 1 < argc) {
        opts[nopts++] = argv[++i];
      } else if (!r) {
        opt_src src = {.kind = SRC_FLAG};
        opt__value_error(err, errlen, d, &src, "missing value");
        r = -EINVAL;
      }
    }
  }
  /* rewrite argv: options, then "--" if there was one, then positionals */
  int k = 1;
  for (int i = 0; i < nopts; i++) argv[k++] = opts[i];
  *ret_optend = k;
  if (dashdash) argv[k++] = dashdash;
  cli->args = argv + k;
  cli->nargs = npos;
  for (int i = 0; i < npos; i++) argv[k++] = pos[i];
  free(opts);
  free(pos);
  return r;
}

/* Second pass: apply option flags, argv[1..optend) as rearranged by
 * scan_argv, which has already refused unknown flags and missing values. */
static int apply_flags(const opt_def *defs, size_t ndefs, void *cfg, int optend, char **argv, opt_cli *cli,
                       char *err, size_t errlen) {
  opt_src src = {.kind = SRC_FLAG};
  bool list_seen[OPT_MAX_DEFS] = {false}; /* list options (by table index) already given as a flag */
  for (int i = 1; i < optend; i++) {
    char *a = argv[i];
    if (a[0] != '-' || a[1] != '-') continue; /* "-h" */
    if (strcmp(a, "--help") == 0 || strcmp(a, "--version") == 0 || strcmp(a, "--check-config") == 0 ||
        strcmp(a, "--print-config") == 0)
      continue;
    if (strcmp(a, "--config") == 0) {
      i++;
      continue;
    }
    if (strncmp(a, "--config=", 9) == 0) continue;
    const char *name = a + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const opt_def *d = find_by_flag(defs, ndefs, name, len);
    if (!d) continue; /* reported by scan_argv */
    const char *value;
    if (eq) value = eq + 1;
    else if (d->type == OPT_BOOL) value = "true";
    else if (i + 1 < optend) value = argv[++i];
    else continue; /* reported by scan_argv */
    /* a repeated list flag adds an item; its first use replaces the lower sources */
    size_t di = (size_t)(d - defs);
    bool again = (d->flags & OPT_F_LIST) && di < OPT_MAX_DEFS && list_seen[di];
    if (di < OPT_MAX_DEFS) list_seen[di] = true;
    int r = again ? opt__append_list_item(d, cfg, value, &src, err, errlen)
                  : opt__apply_text(d, cfg, value, &src, err, errlen);
    if (r < 0) return r;
    opt__record_source(cli->source, defs, d, OPT_SOURCE_FLAG);
    if (d->flags & OPT_F_SECRET) {
      bool listed = false;
      for (int j = 0; j < cli->n_secret_on_cli; j++)
        if (strcmp(cli->secret_on_cli[j], d->name) == 0) listed = true;
      if (!listed && cli->n_secret_on_cli < (int)(sizeof cli->secret_on_cli / sizeof *cli->secret_on_cli))
        cli->secret_on_cli[cli->n_secret_on_cli++] = d->name;
    }
  }
  return 0;
}

static int apply_env(const opt_def *defs, size_t ndefs, void *cfg, unsigned char *record, char *err,
                     size_t errlen) {
  opt_src src = {.kind = SRC_ENV};
  char var[OPT_NAME_MAX + 8];
  for (size_t i = 0; i < ndefs; i++) {
    if (defs[i].flags & OPT_F_CLI) continue;
    memcpy(var, "FERRY_", 6);
    if (!opt__spell(defs[i].name, var + 6, sizeof var - 6, true)) continue;
    const char *v = getenv(var);
    const char *al = opt__alias_of(defs, &defs[i]);
    if ((!v || !*v) && al && opt__spell(al, var + 6, sizeof var - 6, true))
      v = getenv(var);       /* the old spelling, when the new one is not set */
    if (!v || !*v) continue; /* empty = not set, as systemd Environment= lines often leave it */
    int r = opt__apply_text(&defs[i], cfg, v, &src, err, errlen);
    if (r < 0) return r;
    opt__record_source(record, defs, &defs[i], OPT_SOURCE_ENV);
  }
  return 0;
}

/* ------------------------------------------------------------------------ */

void opt_clear(const opt_def *defs, size_t ndefs, void *cfg) {
  if (!cfg) return;
  for (size_t i = 0; i < ndefs; i++) {
    if (defs[i].type != OPT_STR) continue;
    char **slot = opt__field(cfg, &defs[i]);
    free(*slot);
    *slot = NULL;
  }
}

int opt_parse(const opt_def *defs, size_t ndefs, void *cfg, int argc, char **argv, opt_cli *ret_cli,
              char *err, size_t errlen) {
  opt_cli cli = {0};
  opt_src dsrc = {.kind = SRC_DEFAULT};
  int r;
  if (err && errlen) err[0] = '\0';

  /* scratch copy covering every field of the table */
  size_t size = 1;
  for (size_t i = 0; i < ndefs; i++) {
    size_t end = defs[i].offset + opt__field_size(defs[i].type);
    if (end > size) size = end;
  }
  void *tmp = calloc(1, size);
  if (!tmp) {
    opt__set_error(err, errlen, "out of memory");
    return -ENOMEM;
  }

  int optend = 1;
  int scan_r = scan_argv(defs, ndefs, argc, argv, &cli, &optend, err, errlen);
  if (scan_r == -ENOMEM) {
    r = scan_r;
    goto fail;
  }
  for (size_t i = 0; i < ndefs; i++) {
    if (!defs[i].def) continue;
    r = opt__apply_text(&defs[i], tmp, defs[i].def, &dsrc, err, errlen);
    if (r < 0) goto fail;
  }
  if (!(cli.help || cli.version)) {
    if (scan_r < 0) {
      r = scan_r;
      goto fail;
    }
    if (!cli.config_path) {
      const char *env = getenv("FERRY_CONFIG");
      if (env && *env) cli.config_path = env;
    }
    if (cli.config_path) {
      r = opt__load_config_file(defs, ndefs, tmp, cli.config_path, cli.source, err, errlen);
      if (r < 0) goto fail;
    }
    r = apply_env(defs, ndefs, tmp, cli.source, err, errlen);
    if (r < 0) goto fail;
    r = apply_flags(defs, ndefs, tmp, optend, argv, &cli, err, errlen);
    if (r < 0) goto fail;
  } else if (err && errlen) {
    err[0] = '\0';
  }

  /* commit: every field of the table is replaced, old strings freed */
  opt_clear(defs, ndefs, cfg);
  for (size_t i = 0; i < ndefs; i++)
    memcpy(opt__field(cfg, &defs[i]), opt__field(tmp, &defs[i]), opt__field_size(defs[i].type));
  free(tmp);
  if (ret_cli) *ret_cli = cli;
  return 0;

fail:
  opt_clear(defs, ndefs, tmp);
  free(tmp);
  return r;
}
