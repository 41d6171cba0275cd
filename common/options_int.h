/* options_int: what the option files share, internal to common/.
 * options.c (the table's sources: flags, environment, aliases, opt_parse)
 * reads the file through options_file.c and stores every value through
 * options_value.c; options_print.c writes from the table. */
#ifndef FERRY_OPTIONS_INT_H
#define FERRY_OPTIONS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "options.h"

#define OPT_NAME_MAX     128                /* longest option name we handle */
#define OPT_FILE_MAX     (1024 * 1024)      /* a config file larger than this is refused */
#define OPT_ECHO_MAX     64                 /* bad values are echoed up to this many bytes */
#define OPT_JSON_INT_MAX 9007199254740992.0 /* 2^53: larger JSON numbers lose precision */

/* Where a value came from, for the one error line. */
typedef struct opt_src {
  enum { SRC_DEFAULT, SRC_FILE, SRC_ENV, SRC_FLAG } kind;
  const char *path; /* SRC_FILE: file name */
  int line;         /* SRC_FILE: 1-based line of the key, 0 when unknown */
} opt_src;

/* ---- options.c ---- */

/* Note that option d (of table defs) got its value from kind. */
void opt__record_source(unsigned char *record, const opt_def *defs, const opt_def *d, int kind);
/* s as a double-quoted, one-line, bounded rendering in buf. */
void opt__quote(char *buf, size_t len, const char *s);
/* name with '-' as '_', upper-cased when upper; false when it does not fit. */
bool opt__spell(const char *name, char *buf, size_t len, bool upper);
/* Write "<prefix><key>: <problem>" for a value error from src. */
void opt__value_error(char *err, size_t errlen, const opt_def *d, const opt_src *src, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void opt__set_error(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* d's old spelling, or NULL. */
const char *opt__alias_of(const opt_def *defs, const opt_def *d);

/* ---- options_value.c ---- */

/* A byte count the way an operator would write it ("64MiB"). */
void opt__format_size(char *buf, size_t len, double v);
/* d has a [min, max] range. */
bool opt__has_bounds(const opt_def *d);
/* d's field in cfg, and its size. */
void *opt__field(void *cfg, const opt_def *d);
size_t opt__field_size(opt_type t);
/* Parse text as d's type and store it in cfg: 0, or -EINVAL / -ENOMEM with
 * err naming the key and src. */
int opt__apply_text(const opt_def *d, void *cfg, const char *text, const opt_src *src, char *err,
                    size_t errlen);
/* "a number", "null", ... for messages. */
const char *opt__json_type_name(const cJSON *item);
/* Append one item to an OPT_F_LIST string. */
int opt__append_list_item(const opt_def *d, void *cfg, const char *item, const opt_src *src, char *err,
                          size_t errlen);
/* Apply one config-file member. */
int opt__apply_json(const opt_def *d, void *cfg, const cJSON *item, const opt_src *src, char *err,
                    size_t errlen);

/* ---- options_file.c ---- */

/* Read and apply the config file at path: 0, or -EINVAL / -ENOMEM with err. */
int opt__load_config_file(const opt_def *defs, size_t ndefs, void *cfg, const char *path,
                          unsigned char *record, char *err, size_t errlen);

#endif
