/* options: every option of a program declared once, in a table, and read from
 * command-line flag, environment (FERRY_<NAME>), a JSON-with-comments config
 * file, and the default, in that precedence. --help is generated from the
 * table. A bad value, an unknown key or a broken file is one error line that
 * names the key; programs exit 2 on it.
 *
 * Names: flag "--max-journal-bytes", file key "max_journal_bytes",
 * environment "FERRY_MAX_JOURNAL_BYTES". Flags take "--name VALUE" or
 * "--name=VALUE"; OPT_BOOL flags take no value ("--insecure-http"), and in the
 * environment / file accept true/false/1/0/yes/no. An option may also answer
 * to an alias (its old spelling) in all three; giving both spellings in one
 * file is a duplicate key, and in the environment the new spelling wins. */
#ifndef FERRY_OPTIONS_H
#define FERRY_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
  OPT_STR,     /* char * (malloc'd, NULL when unset) */
  OPT_INT,     /* int64_t */
  OPT_SIZE,    /* int64_t bytes; accepts 123, 10KiB, 64MiB, 1GiB (also KB/MB/GB as 1000s? no: refused) */
  OPT_SECONDS, /* double; accepts 0.5, 60 */
  OPT_BOOL,    /* bool */
  OPT_ENUM,    /* int: index into choices */
} opt_type;

#define OPT_F_SECRET 0x1 /* warn when given as a command-line flag (visible in ps) */
#define OPT_F_RATE   0x2 /* OPT_SECONDS holding a rate per second, not a duration */
/* OPT_STR holding a list: the flag may be repeated (each adds one item), the
 * config file takes a string or an array of strings, the environment one item
 * per line. Stored as the items joined by '\n' (no item may hold one). */
#define OPT_F_LIST   0x4
/* A command-line action's argument (--map-test FILE): a flag only, neither a
 * config-file key nor an environment variable, and left out of
 * opt_print_config's template. */
#define OPT_F_CLI    0x8

#define OPT_MAX_DEFS 128 /* most options in one table (opt_cli.source has one slot each) */

/* Where an option's value came from (opt_cli.source, indexed like the table). */
enum { OPT_SOURCE_DEFAULT = 0, OPT_SOURCE_FILE, OPT_SOURCE_ENV, OPT_SOURCE_FLAG };

typedef struct opt_def {
  const char *name; /* flag spelling without dashes: "max-journal-bytes" */
  opt_type type;
  size_t offset;       /* offsetof(program config struct, field) */
  const char *def;     /* default as text (parsed like any other source); NULL = unset */
  const char *help;    /* one line */
  const char *choices; /* OPT_ENUM: "drop_oldest|reject" */
  double min, max;     /* numeric bounds, inclusive; ignored when both 0 */
  unsigned flags;
} opt_def;

/* An older spelling of an option, still accepted everywhere the name is —
 * flag, FERRY_ environment, config key — so renaming an option breaks no
 * deployed config. --help and --print-config show it. */
typedef struct opt_alias {
  const char *alias; /* the old spelling: "max-batch-events" */
  const char *name;  /* the option it stands for: "batch-max-events" */
} opt_alias;

/* Attach aliases to a table (once, before the first opt_parse or print of
 * it; a few tables at most). The aliases must outlive the table's use. */
void opt_set_aliases(const opt_def *defs, const opt_alias *aliases, size_t n);

/* What the command line asked for besides options. */
typedef struct opt_cli {
  bool help, version, check_config;
  bool print_config;       /* --print-config: the caller prints opt_print_config */
  const char *config_path; /* --config FILE (or FERRY_CONFIG), NULL if none */
  int nargs;               /* positional arguments (subcommands), in order */
  char **args;             /* points into argv */
  /* options given as flags with OPT_F_SECRET, for the caller to warn about */
  const char *secret_on_cli[8];
  int n_secret_on_cli;
  /* OPT_SOURCE_* of each option, in table order (index < OPT_MAX_DEFS) */
  unsigned char source[OPT_MAX_DEFS];
} opt_cli;

/* Fill cfg from defaults, then file, then environment, then flags. On error
 * returns -EINVAL with one line in err naming the key ("max_journal_bytes: ...")
 * and leaves cfg untouched (a failed reload keeps the old values).
 * argv is rearranged like GNU getopt does: options first, then "--" if given,
 * then the positional arguments, which ret_cli->args points at. An empty
 * FERRY_<NAME> counts as unset.
 * When --help or --version is present, returns 0 after parsing flags only
 * (values may be partial); --print-config reads every source like a normal run. cfg must be zeroed by the caller the first time;
 * on reparse (reload) previous strings are freed. */
int opt_parse(const opt_def *defs, size_t ndefs, void *cfg, int argc, char **argv, opt_cli *ret_cli,
              char *err, size_t errlen);

/* Print generated help: synopsis line, then each option with type, default and help. */
void opt_print_help(const opt_def *defs, size_t ndefs, const char *prog, const char *summary, FILE *out);

/* Print a config file template (JSON with comments): every option commented
 * out with its help, flag, environment name, range and default. prog names
 * the program; intro (may be NULL) is one more comment line on top. */
void opt_print_config(const opt_def *defs, size_t ndefs, const char *prog, const char *intro, FILE *out);

/* Print the effective configuration as a config file: each option with its
 * value in cfg and where it came from (default, file, environment, flag, as
 * cli->source tells). Options still at their default stay commented out, so
 * with nothing set the output is the template above; secrets are masked and
 * commented out. A default whose table entry is NULL but whose value is set
 * was derived by the program from other options ("derived default"). */
void opt_print_effective(const opt_def *defs, size_t ndefs, const void *cfg, const opt_cli *cli,
                         const char *prog, const char *intro, FILE *out);

/* For a reload: whether option d has the same value in configs a and b;
 * exchange d's value between a and b (strings move, no copy); render d's
 * value in cfg for a log line (secrets as "(secret)"/"(unset)"). */
bool opt_field_equal(const opt_def *d, const void *a, const void *b);
void opt_field_swap(const opt_def *d, void *a, void *b);
void opt_format_value(const opt_def *d, const void *cfg, char *buf, size_t len);
/* d's config-file key ("max_journal_bytes"), as error lines name it, in buf. */
const char *opt_key(const opt_def *d, char *buf, size_t len);

/* Free strings held by cfg. */
void opt_clear(const opt_def *defs, size_t ndefs, void *cfg);

/* Parse helpers, exposed for tests and other callers. 0 or -EINVAL. */
int opt_parse_size(const char *s, int64_t *ret);
int opt_parse_seconds(const char *s, double *ret);
int opt_parse_bool(const char *s, bool *ret);
/* Whole decimal string, optional sign, no blanks, within int64. */
int opt_parse_int(const char *s, int64_t *ret);

/* Apply config-file text (JSON with comments, len bytes, need not be
 * NUL-terminated) on top of the values already in cfg, as opt_parse does
 * with the --config file; origin names it in errors ("config file ORIGIN:
 * line 3: ..."). A member whose value is null is skipped (keeps what is
 * below). On error cfg may be partly updated but stays consistent (opt_clear
 * works). Exposed for the config fuzzer and tests. 0, -EINVAL or -ENOMEM. */
int opt_load_config_text(const opt_def *defs, size_t ndefs, void *cfg, const char *text, size_t len,
                         const char *origin, char *err, size_t errlen);

/* Strip // and block comments, and a comma right before '}' or ']', from
 * JSON text in place (strings respected).
 * Returns 0, or -EINVAL for an unterminated block comment. */
int opt_strip_json_comments(char *text);

#endif
