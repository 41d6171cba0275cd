/* options: the one place that turns a program's option table into values.
 *
 * Each program declares its options once (options.h); this file reads them
 * from the four sources in increasing precedence — default text, config file
 * (JSON with comments), environment FERRY_<NAME>, command-line flag — and
 * generates --help from the same table, so the four can never drift apart.
 *
 * Values are parsed into a scratch copy of the config struct and copied into
 * the caller's struct only when every source parsed cleanly: a failed reload
 * (SIGHUP) leaves the running configuration exactly as it was. */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

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

/* Note that option d (of table defs) got its value from kind. */
static void record_source(unsigned char *record, const opt_def *defs, const opt_def *d, int kind) {
  size_t i = (size_t)(d - defs);
  if (record && i < OPT_MAX_DEFS) record[i] = (unsigned char)kind;
}

/* ------------------------------------------------------------------------ */
/* small text helpers */

/* Copy s into buf as a double-quoted, one-line, bounded rendering: control
 * and non-ASCII bytes become \xNN, quotes and backslashes are escaped. */
static void quote(char *buf, size_t len, const char *s) {
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
static bool spell(const char *name, char *buf, size_t len, bool upper) {
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

/* Write "<prefix><key>: <problem>" for a value error from src. */
static void value_error(char *err, size_t errlen, const opt_def *d, const opt_src *src, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void value_error(char *err, size_t errlen, const opt_def *d, const opt_src *src, const char *fmt,
                        ...) {
  char key[OPT_NAME_MAX + 1], env[OPT_NAME_MAX + 1], problem[512];
  if (!err || !errlen) return;
  if (!spell(d->name, key, sizeof key, false)) snprintf(key, sizeof key, "%.64s", d->name);
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
      if (!spell(d->name, env, sizeof env, true)) env[0] = '\0';
      snprintf(err, errlen, "%s (from environment FERRY_%s): %s", key, env, problem);
      break;
    case SRC_FLAG: snprintf(err, errlen, "%s (from flag --%s): %s", key, d->name, problem); break;
    default: snprintf(err, errlen, "%s (built-in default): %s", key, problem); break;
  }
}

static void set_error(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_error(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* ------------------------------------------------------------------------ */
/* scalar parsers */

static const struct {
  const char *suffix;
  int64_t mult;
} size_units[] = {
    {"KiB", INT64_C(1) << 10},
    {"MiB", INT64_C(1) << 20},
    {"GiB", INT64_C(1) << 30},
    {"TiB", INT64_C(1) << 40},
};

int opt_parse_size(const char *s, int64_t *ret) {
  if (!s || !isdigit((unsigned char)s[0])) return -EINVAL; /* also refuses "-1", " 1", "" */
  int64_t v = 0;
  const char *p = s;
  for (; isdigit((unsigned char)*p); p++) {
    int digit = *p - '0';
    if (v > (INT64_MAX - digit) / 10) return -EINVAL;
    v = v * 10 + digit;
  }
  if (*p == ' ') p++;
  if (*p == '\0') {
    if (p != s && p[-1] == ' ') return -EINVAL; /* "12 " */
    *ret = v;
    return 0;
  }
  for (size_t i = 0; i < sizeof size_units / sizeof *size_units; i++) {
    if (strcasecmp(p, size_units[i].suffix) == 0) {
      if (v > INT64_MAX / size_units[i].mult) return -EINVAL;
      *ret = v * size_units[i].mult;
      return 0;
    }
  }
  return -EINVAL;
}

int opt_parse_seconds(const char *s, double *ret) {
  if (!s || !(isdigit((unsigned char)s[0]) || s[0] == '.')) return -EINVAL;
  /* decimal only: strtod would also take hex floats, "inf" and "nan" */
  for (const char *p = s; *p; p++)
    if (!isdigit((unsigned char)*p) && !strchr(".eE+-", *p)) return -EINVAL;
  char *end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v) || v < 0) return -EINVAL;
  *ret = v;
  return 0;
}

int opt_parse_bool(const char *s, bool *ret) {
  static const char *const yes[] = {"true", "1", "yes", "on"};
  static const char *const no[] = {"false", "0", "no", "off"};
  if (!s) return -EINVAL;
  for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
    if (strcasecmp(s, yes[i]) == 0) {
      *ret = true;
      return 0;
    }
    if (strcasecmp(s, no[i]) == 0) {
      *ret = false;
      return 0;
    }
  }
  return -EINVAL;
}

int opt_parse_int(const char *s, int64_t *ret) {
  if (!s || !(isdigit((unsigned char)s[0]) || ((s[0] == '-' || s[0] == '+') && isdigit((unsigned char)s[1]))))
    return -EINVAL; /* strtoll would skip leading blanks */
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno == ERANGE || *end != '\0') return -EINVAL;
  *ret = (int64_t)v;
  return 0;
}

/* Index of s among "a|b|c", or -1. */
static int enum_index(const char *choices, const char *s) {
  if (!choices) return -1;
  size_t n = strlen(s);
  int idx = 0;
  for (const char *p = choices;; idx++) {
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    if (len == n && strncmp(p, s, n) == 0) return idx;
    if (!bar) return -1;
    p = bar + 1;
  }
}

/* Render a byte count the way an operator would write it. */
static void format_size(char *buf, size_t len, double v) {
  static const char *const units[] = {"TiB", "GiB", "MiB", "KiB"};
  static const double mults[] = {1099511627776.0, 1073741824.0, 1048576.0, 1024.0};
  for (size_t i = 0; i < 4; i++) {
    if (v >= mults[i] && fmod(v, mults[i]) == 0) {
      snprintf(buf, len, "%.0f%s", v / mults[i], units[i]);
      return;
    }
  }
  snprintf(buf, len, "%.0f", v);
}

static bool has_bounds(const opt_def *d) { return !(d->min == 0 && d->max == 0); }

/* Range check with a message stating the range. */
static int check_bounds(const opt_def *d, const opt_src *src, double v, char *err, size_t errlen) {
  if (!has_bounds(d) || (v >= d->min && v <= d->max)) return 0;
  char a[32], b[32], got[32];
  if (d->type == OPT_SIZE) {
    format_size(a, sizeof a, d->min);
    format_size(b, sizeof b, d->max);
    format_size(got, sizeof got, v);
  } else if (d->type == OPT_INT) {
    snprintf(a, sizeof a, "%.0f", d->min);
    snprintf(b, sizeof b, "%.0f", d->max);
    snprintf(got, sizeof got, "%.0f", v);
  } else {
    snprintf(a, sizeof a, "%.15g", d->min);
    snprintf(b, sizeof b, "%.15g", d->max);
    snprintf(got, sizeof got, "%.15g", v);
  }
  value_error(err, errlen, d, src, "%s is out of range (must be %s to %s)", got, a, b);
  return -EINVAL;
}

/* ------------------------------------------------------------------------ */
/* storing values */

static void *field(void *cfg, const opt_def *d) { return (char *)cfg + d->offset; }

static size_t field_size(opt_type t) {
  switch (t) {
    case OPT_STR: return sizeof(char *);
    case OPT_INT:
    case OPT_SIZE: return sizeof(int64_t);
    case OPT_SECONDS: return sizeof(double);
    case OPT_BOOL: return sizeof(bool);
    case OPT_ENUM: return sizeof(int);
  }
  return 0;
}

/* Parse text as d's type and store it in cfg (replacing, and freeing, an
 * old string). On error cfg is untouched and err names the key. */
static int apply_text(const opt_def *d, void *cfg, const char *text, const opt_src *src, char *err,
                      size_t errlen) {
  char shown[OPT_ECHO_MAX * 4 + 16];
  if (d->flags & OPT_F_SECRET) snprintf(shown, sizeof shown, "(value hidden)");
  else quote(shown, sizeof shown, text);

  switch (d->type) {
    case OPT_STR: {
      char *copy = strdup(text);
      if (!copy) {
        value_error(err, errlen, d, src, "out of memory");
        return -ENOMEM;
      }
      char **slot = field(cfg, d);
      free(*slot);
      *slot = copy;
      return 0;
    }
    case OPT_INT: {
      int64_t v;
      if (opt_parse_int(text, &v) < 0) {
        value_error(err, errlen, d, src, "not an integer: %s", shown);
        return -EINVAL;
      }
      if (check_bounds(d, src, (double)v, err, errlen) < 0) return -EINVAL;
      memcpy(field(cfg, d), &v, sizeof v);
      return 0;
    }
    case OPT_SIZE: {
      int64_t v;
      if (opt_parse_size(text, &v) < 0) {
        value_error(err, errlen, d, src, "not a size: %s (use bytes or KiB/MiB/GiB)", shown);
        return -EINVAL;
      }
      if (check_bounds(d, src, (double)v, err, errlen) < 0) return -EINVAL;
      memcpy(field(cfg, d), &v, sizeof v);
      return 0;
    }
    case OPT_SECONDS: {
      double v;
      if (opt_parse_seconds(text, &v) < 0) {
        value_error(err, errlen, d, src, "not a number of seconds: %s (use e.g. 0.5 or 60)", shown);
        return -EINVAL;
      }
      if (check_bounds(d, src, v, err, errlen) < 0) return -EINVAL;
      memcpy(field(cfg, d), &v, sizeof v);
      return 0;
    }
    case OPT_BOOL: {
      bool v;
      if (opt_parse_bool(text, &v) < 0) {
        value_error(err, errlen, d, src, "not a boolean: %s (use true or false)", shown);
        return -EINVAL;
      }
      memcpy(field(cfg, d), &v, sizeof v);
      return 0;
    }
    case OPT_ENUM: {
      int v = enum_index(d->choices, text);
      if (v < 0) {
        value_error(err, errlen, d, src, "must be one of %s, not %s", d->choices ? d->choices : "(none)",
                    shown);
        return -EINVAL;
      }
      memcpy(field(cfg, d), &v, sizeof v);
      return 0;
    }
  }
  value_error(err, errlen, d, src, "option has an unknown type");
  return -EINVAL;
}

/* A JSON number for an integer-valued option: whole and exactly representable. */
static int json_whole_number(const opt_def *d, const opt_src *src, const cJSON *item, char *text, size_t len,
                             char *err, size_t errlen) {
  double v = item->valuedouble;
  if (!isfinite(v) || floor(v) != v) {
    value_error(err, errlen, d, src, "not a whole number: %g", v);
    return -EINVAL;
  }
  if (fabs(v) > OPT_JSON_INT_MAX) {
    value_error(err, errlen, d, src, "number too large to be exact in JSON, write it as a string");
    return -EINVAL;
  }
  snprintf(text, len, "%.0f", v);
  return 0;
}

static const char *json_type_name(const cJSON *item) {
  if (cJSON_IsBool(item)) return "a boolean";
  if (cJSON_IsNumber(item)) return "a number";
  if (cJSON_IsString(item)) return "a string";
  if (cJSON_IsArray(item)) return "an array";
  if (cJSON_IsObject(item)) return "an object";
  if (cJSON_IsNull(item)) return "null";
  return "an unknown JSON value";
}

/* Append one item to an OPT_F_LIST string ("a\nb"). */
static int append_list_item(const opt_def *d, void *cfg, const char *item, const opt_src *src, char *err,
                            size_t errlen) {
  if (!*item || strchr(item, '\n')) {
    value_error(err, errlen, d, src, "an item is empty or holds a line break");
    return -EINVAL;
  }
  char **slot = field(cfg, d);
  size_t old = *slot ? strlen(*slot) : 0, n = strlen(item);
  char *s = malloc(old + 1 + n + 1);
  if (!s) {
    value_error(err, errlen, d, src, "out of memory");
    return -ENOMEM;
  }
  if (old) {
    memcpy(s, *slot, old);
    s[old] = '\n';
    memcpy(s + old + 1, item, n + 1);
  } else {
    memcpy(s, item, n + 1);
  }
  free(*slot);
  *slot = s;
  return 0;
}

/* A config-file array for an OPT_F_LIST option replaces what is below. */
static int apply_json_list(const opt_def *d, void *cfg, const cJSON *arr, const opt_src *src, char *err,
                           size_t errlen) {
  char **slot = field(cfg, d);
  char *saved = *slot;
  *slot = NULL;
  for (const cJSON *it = arr->child; it; it = it->next) {
    int r = cJSON_IsString(it) ? append_list_item(d, cfg, it->valuestring, src, err, errlen) : -EINVAL;
    if (r < 0) {
      if (!cJSON_IsString(it))
        value_error(err, errlen, d, src, "wrong type: expected an array of strings, got %s in it",
                    json_type_name(it));
      free(*slot);
      *slot = saved;
      return r;
    }
  }
  free(saved);
  return 0;
}

/* Apply one config-file member. */
static int apply_json(const opt_def *d, void *cfg, const cJSON *item, const opt_src *src, char *err,
                      size_t errlen) {
  char num[64];
  const char *want;
  switch (d->type) {
    case OPT_STR:
    case OPT_ENUM:
      if (cJSON_IsString(item)) return apply_text(d, cfg, item->valuestring, src, err, errlen);
      if (d->type == OPT_STR && (d->flags & OPT_F_LIST) && cJSON_IsArray(item))
        return apply_json_list(d, cfg, item, src, err, errlen);
      want = (d->flags & OPT_F_LIST) ? "a string or an array of strings" : "a string";
      break;
    case OPT_BOOL:
      if (cJSON_IsBool(item))
        return apply_text(d, cfg, cJSON_IsTrue(item) ? "true" : "false", src, err, errlen);
      want = "true or false";
      break;
    case OPT_INT:
    case OPT_SIZE:
      if (cJSON_IsString(item)) return apply_text(d, cfg, item->valuestring, src, err, errlen);
      if (cJSON_IsNumber(item)) {
        if (json_whole_number(d, src, item, num, sizeof num, err, errlen) < 0) return -EINVAL;
        if (d->type == OPT_SIZE && item->valuedouble < 0) {
          value_error(err, errlen, d, src, "not a size: %s (must not be negative)", num);
          return -EINVAL;
        }
        return apply_text(d, cfg, num, src, err, errlen);
      }
      want = d->type == OPT_SIZE ? "a number or a size string like \"64MiB\"" : "a number";
      break;
    case OPT_SECONDS:
      if (cJSON_IsString(item)) return apply_text(d, cfg, item->valuestring, src, err, errlen);
      if (cJSON_IsNumber(item)) {
        double v = item->valuedouble;
        if (!isfinite(v) || v < 0) {
          value_error(err, errlen, d, src, "not a number of seconds: %g (must be 0 or more)", v);
          return -EINVAL;
        }
        if (check_bounds(d, src, v, err, errlen) < 0) return -EINVAL;
        memcpy(field(cfg, d), &v, sizeof v);
        return 0;
      }
      want = "a number of seconds";
      break;
    default: want = "a value"; break;
  }
  value_error(err, errlen, d, src, "wrong type: expected %s, got %s", want, json_type_name(item));
  return -EINVAL;
}

/* ------------------------------------------------------------------------ */
/* config file text */

int opt_strip_json_comments(char *text) {
  char *p = text;
  while (*p) {
    if (*p == '"') { /* skip a string, honouring escapes */
      p++;
      while (*p && *p != '"') {
        if (*p == '\\' && p[1]) p++;
        p++;
      }
      if (*p) p++;
    } else if (p[0] == '/' && p[1] == '/') {
      while (*p && *p != '\n') *p++ = ' ';
    } else if (p[0] == '/' && p[1] == '*') {
      p[0] = p[1] = ' ';
      p += 2;
      while (*p && !(p[0] == '*' && p[1] == '/')) {
        if (*p != '\n') *p = ' '; /* keep newlines so line numbers still match */
        p++;
      }
      if (!*p) return -EINVAL;
      p[0] = p[1] = ' ';
      p += 2;
    } else {
      p++;
    }
  }
  /* a comma before '}' or ']' (left behind when the last member of the
   * config template is uncommented) is blanked: JSON-with-comments habit */
  for (p = text; *p; p++) {
    if (*p == '"') {
      p++;
      while (*p && *p != '"') {
        if (*p == '\\' && p[1]) p++;
        p++;
      }
      if (!*p) break;
    } else if (*p == ',') {
      char *q = p + 1;
      while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n') q++;
      if (*q == '}' || *q == ']') *p = ' ';
    }
  }
  return 0;
}

static int line_of(const char *text, const char *at) {
  int line = 1;
  for (const char *p = text; p < at && *p; p++)
    if (*p == '\n') line++;
  return line;
}

/* Line of the nth (0-based) occurrence of key as a member name of the
 * top-level object in comment-stripped text, or 0 when it cannot be found
 * (e.g. the key was written with escapes). Only for error messages. */
static int key_line(const char *text, const char *key, int nth) {
  size_t klen = strlen(key);
  int depth = 0;
  for (const char *p = text; *p; p++) {
    if (*p == '{' || *p == '[') depth++;
    else if (*p == '}' || *p == ']') depth--;
    else if (*p == '"') {
      const char *start = ++p;
      while (*p && *p != '"') {
        if (*p == '\\' && p[1]) p++;
        p++;
      }
      if (!*p) return 0;
      size_t len = (size_t)(p - start);
      const char *q = p + 1;
      while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n') q++;
      if (depth == 1 && *q == ':' && len == klen && memcmp(start, key, klen) == 0 && nth-- == 0)
        return line_of(text, start);
    }
  }
  return 0;
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
static const char *alias_of(const opt_def *defs, const opt_def *d) {
  for (size_t i = 0; i < sizeof(opt_alias_reg) / sizeof(opt_alias_reg[0]); i++) {
    if (opt_alias_reg[i].defs != defs) continue;
    for (size_t k = 0; k < opt_alias_reg[i].n; k++)
      if (strcmp(opt_alias_reg[i].aliases[k].name, d->name) == 0) return opt_alias_reg[i].aliases[k].alias;
  }
  return NULL;
}

static const opt_def *find_by_key(const opt_def *defs, size_t ndefs, const char *key) {
  char spelled[OPT_NAME_MAX + 1];
  for (size_t i = 0; i < ndefs; i++) {
    if (defs[i].flags & OPT_F_CLI) continue; /* a flag only */
    if (spell(defs[i].name, spelled, sizeof spelled, false) && strcmp(spelled, key) == 0) return &defs[i];
    const char *al = alias_of(defs, &defs[i]);
    if (al && spell(al, spelled, sizeof spelled, false) && strcmp(spelled, key) == 0) return &defs[i];
  }
  return NULL;
}

static int load_text(const opt_def *defs, size_t ndefs, void *cfg, const char *text, size_t len,
                     const char *origin, unsigned char *record, char *err, size_t errlen) {
  char shown[OPT_ECHO_MAX * 4 + 16];
  int r = -EINVAL;
  cJSON *root = NULL;
  if (memchr(text, '\0', len)) {
    set_error(err, errlen, "config file %s: contains a NUL byte", origin);
    return -EINVAL;
  }
  char *buf = malloc(len + 1);
  if (!buf) {
    set_error(err, errlen, "config file %s: out of memory", origin);
    return -ENOMEM;
  }
  memcpy(buf, text, len);
  buf[len] = '\0';
  if (opt_strip_json_comments(buf) < 0) {
    set_error(err, errlen, "config file %s: unterminated /* comment", origin);
    goto out;
  }
  const char *end = NULL;
  root = cJSON_ParseWithOpts(buf, &end, 1);
  if (!root) {
    if (end && end >= buf && end <= buf + len)
      set_error(err, errlen, "config file %s: line %d: malformed JSON", origin, line_of(buf, end));
    else set_error(err, errlen, "config file %s: malformed JSON", origin);
    goto out;
  }
  if (!cJSON_IsObject(root)) {
    set_error(err, errlen, "config file %s: must hold one JSON object, got %s", origin, json_type_name(root));
    goto out;
  }
  for (const cJSON *item = root->child; item; item = item->next) {
    const char *key = item->string ? item->string : "";
    int seen = 0; /* earlier members with the same key */
    for (const cJSON *prev = root->child; prev != item; prev = prev->next)
      if (prev->string && strcmp(prev->string, key) == 0) seen++;
    opt_src src = {.kind = SRC_FILE, .path = origin, .line = key_line(buf, key, seen)};
    char where[64] = "";
    if (src.line > 0) snprintf(where, sizeof where, " line %d:", src.line);
    const opt_def *d = find_by_key(defs, ndefs, key);
    if (!d) {
      quote(shown, sizeof shown, key);
      set_error(err, errlen, "config file %s:%s unknown key %s", origin, where, shown);
      r = -EINVAL;
      goto out;
    }
    for (const cJSON *prev = root->child; !seen && prev != item; prev = prev->next)
      if (prev->string && find_by_key(defs, ndefs, prev->string) == d) seen++; /* the other spelling */
    if (seen) {
      set_error(err, errlen, "config file %s:%s %s: duplicate key", origin, where, key);
      r = -EINVAL;
      goto out;
    }
    if (cJSON_IsNull(item)) continue; /* null = not set here, keep what is below */
    r = apply_json(d, cfg, item, &src, err, errlen);
    if (r < 0) goto out;
    record_source(record, defs, d, OPT_SOURCE_FILE);
  }
  r = 0;
out:
  cJSON_Delete(root);
  free(buf);
  return r;
}

int opt_load_config_text(const opt_def *defs, size_t ndefs, void *cfg, const char *text, size_t len,
                         const char *origin, char *err, size_t errlen) {
  return load_text(defs, ndefs, cfg, text, len, origin, NULL, err, errlen);
}

static int load_config_file(const opt_def *defs, size_t ndefs, void *cfg, const char *path,
                            unsigned char *record, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    set_error(err, errlen, "config file %s: cannot open: %s", path, strerror(errno));
    return -EINVAL;
  }
  char *text = malloc(OPT_FILE_MAX + 1);
  if (!text) {
    fclose(f);
    set_error(err, errlen, "config file %s: out of memory", path);
    return -ENOMEM;
  }
  size_t n = fread(text, 1, OPT_FILE_MAX + 1, f);
  int rerr = ferror(f);
  fclose(f);
  int r;
  if (rerr) {
    set_error(err, errlen, "config file %s: read error", path);
    r = -EINVAL;
  } else if (n > OPT_FILE_MAX) {
    set_error(err, errlen, "config file %s: larger than %d bytes", path, OPT_FILE_MAX);
    r = -EINVAL;
  } else {
    r = load_text(defs, ndefs, cfg, text, n, path, record, err, errlen);
  }
  free(text);
  return r;
}

/* ------------------------------------------------------------------------ */
/* command line */

static const opt_def *find_by_flag(const opt_def *defs, size_t ndefs, const char *name, size_t len) {
  for (size_t i = 0; i < ndefs; i++) {
    if (strlen(defs[i].name) == len && strncmp(defs[i].name, name, len) == 0) return &defs[i];
    const char *al = alias_of(defs, &defs[i]);
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
    set_error(err, errlen, "out of memory");
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
        set_error(err, errlen, "config (from flag --config): missing value");
        r = -EINVAL;
      }
      continue;
    }
    const char *name = a + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const opt_def *d = (a[1] == '-') ? find_by_flag(defs, ndefs, name, len) : NULL;
    if (!d) {
      if (!r) {
        quote(shown, sizeof shown, a);
        set_error(err, errlen, "unknown option %s (see --help)", shown);
        r = -EINVAL;
      }
      continue;
    }
    if (d->type != OPT_BOOL && !eq) {
      if (i + 1 < argc) {
        opts[nopts++] = argv[++i];
      } else if (!r) {
        opt_src src = {.kind = SRC_FLAG};
        value_error(err, errlen, d, &src, "missing value");
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
    int r = again ? append_list_item(d, cfg, value, &src, err, errlen)
                  : apply_text(d, cfg, value, &src, err, errlen);
    if (r < 0) return r;
    record_source(cli->source, defs, d, OPT_SOURCE_FLAG);
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
    if (!spell(defs[i].name, var + 6, sizeof var - 6, true)) continue;
    const char *v = getenv(var);
    const char *al = alias_of(defs, &defs[i]);
    if ((!v || !*v) && al && spell(al, var + 6, sizeof var - 6, true))
      v = getenv(var);       /* the old spelling, when the new one is not set */
    if (!v || !*v) continue; /* empty = not set, as systemd Environment= lines often leave it */
    int r = apply_text(&defs[i], cfg, v, &src, err, errlen);
    if (r < 0) return r;
    record_source(record, defs, &defs[i], OPT_SOURCE_ENV);
  }
  return 0;
}

/* ------------------------------------------------------------------------ */

void opt_clear(const opt_def *defs, size_t ndefs, void *cfg) {
  if (!cfg) return;
  for (size_t i = 0; i < ndefs; i++) {
    if (defs[i].type != OPT_STR) continue;
    char **slot = field(cfg, &defs[i]);
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
    size_t end = defs[i].offset + field_size(defs[i].type);
    if (end > size) size = end;
  }
  void *tmp = calloc(1, size);
  if (!tmp) {
    set_error(err, errlen, "out of memory");
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
    r = apply_text(&defs[i], tmp, defs[i].def, &dsrc, err, errlen);
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
      r = load_config_file(defs, ndefs, tmp, cli.config_path, cli.source, err, errlen);
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
    memcpy(field(cfg, &defs[i]), field(tmp, &defs[i]), field_size(defs[i].type));
  free(tmp);
  if (ret_cli) *ret_cli = cli;
  return 0;

fail:
  opt_clear(defs, ndefs, tmp);
  free(tmp);
  return r;
}

/* ------------------------------------------------------------------------ */
/* help */

static const char *metavar(const opt_def *d) {
  switch (d->type) {
    case OPT_STR: return "TEXT";
    case OPT_INT: return "N";
    case OPT_SIZE: return "SIZE";
    case OPT_SECONDS: return (d->flags & OPT_F_RATE) ? "PER_SECOND" : "SECONDS";
    case OPT_BOOL: return "";
    case OPT_ENUM: return d->choices ? d->choices : "CHOICE";
  }
  return "";
}

#define HELP_COL 34

static void help_line(FILE *out, const char *left, const char *right) {
  int n = (int)strlen(left);
  if (n + 2 > HELP_COL) fprintf(out, "  %s\n  %*s%s\n", left, HELP_COL - 2, "", right);
  else fprintf(out, "  %-*s%s\n", HELP_COL - 2, left, right);
}

void opt_print_help(const opt_def *defs, size_t ndefs, const char *prog, const char *summary, FILE *out) {
  char left[OPT_NAME_MAX + 96], right[1024], env[OPT_NAME_MAX + 1];
  fprintf(out, "Usage: %s [OPTIONS]\n", prog ? prog : "ferry");
  if (summary && *summary) fprintf(out, "%s\n", summary);
  fprintf(out, "\nOptions (each also settable as FERRY_<NAME> in the environment, and in the\n"
               "config file under its name with '_' for '-'):\n");
  for (size_t i = 0; i < ndefs; i++) {
    const opt_def *d = &defs[i];
    const char *mv = metavar(d);
    snprintf(left, sizeof left, "--%s%s%s", d->name, *mv ? " " : "", mv);
    size_t o = (size_t)snprintf(right, sizeof right, "%s", d->help ? d->help : "");
    if (d->def && !(d->type == OPT_BOOL && strcmp(d->def, "false") == 0) && o < sizeof right)
      o += (size_t)snprintf(right + o, sizeof right - o, " (default %s)", d->def);
    if (has_bounds(d) && d->type != OPT_BOOL && d->type != OPT_ENUM && d->type != OPT_STR &&
        o < sizeof right) {
      char a[32], b[32];
      if (d->type == OPT_SIZE) {
        format_size(a, sizeof a, d->min);
        format_size(b, sizeof b, d->max);
      } else {
        snprintf(a, sizeof a, "%.15g", d->min);
        snprintf(b, sizeof b, "%.15g", d->max);
      }
      o += (size_t)snprintf(right + o, sizeof right - o, " [%s..%s]", a, b);
    }
    if ((d->flags & OPT_F_SECRET) && o < sizeof right)
      snprintf(right + o, sizeof right - o, " (a flag is visible in ps: prefer the environment or a file)");
    help_line(out, left, right);
    if (!(d->flags & OPT_F_CLI) && spell(d->name, env, sizeof env, true))
      fprintf(out, "  %*senv FERRY_%s\n", HELP_COL - 2, "", env);
    const char *al = alias_of(defs, d);
    if (al && spell(al, env, sizeof env, true))
      fprintf(out, "  %*salso --%s, FERRY_%s (old spelling)\n", HELP_COL - 2, "", al, env);
  }
  help_line(out, "--config FILE", "JSON config file, // and /* */ comments allowed (env FERRY_CONFIG)");
  help_line(out, "--check-config", "validate the configuration and exit 0 or 2");
  help_line(out, "--print-config", "print every option as a commented config file, then exit");
  help_line(out, "--version", "print version and library versions, then exit");
  help_line(out, "--help", "print this help, then exit");
  fprintf(out, "\nSizes take KiB/MiB/GiB; precedence: flag > environment > config file > default.\n");
}

/* ------------------------------------------------------------------------ */
/* the config file template, and comparing / moving values (reload) */

void opt_print_config(const opt_def *defs, size_t ndefs, const char *prog, const char *intro, FILE *out) {
  char key[OPT_NAME_MAX + 1], env[OPT_NAME_MAX + 1];
  fprintf(out, "// %s configuration: JSON with // and /* */ comments.\n", prog ? prog : "ferry");
  if (intro && *intro) fprintf(out, "// %s\n", intro);
  fprintf(out,
          "// Every option is listed, commented out, with its default. Uncomment a line to\n"
          "// set it. Precedence: command-line flag > FERRY_<NAME> environment > this file\n"
          "// > default. Sizes take KiB/MiB/GiB. Generated by `%s --print-config`.\n{\n",
          prog ? prog : "ferry");
  for (size_t i = 0; i < ndefs; i++) {
    const opt_def *d = &defs[i];
    if (d->flags & OPT_F_CLI) continue;
    if (!spell(d->name, key, sizeof key, false) || !spell(d->name, env, sizeof env, true)) continue;
    fprintf(out, "%s  // %s\n", i ? "\n" : "", d->help ? d->help : "");
    fprintf(out, "  // flag --%s, environment FERRY_%s", d->name, env);
    if (d->type == OPT_ENUM && d->choices) fprintf(out, "; one of %s", d->choices);
    if (has_bounds(d) && (d->type == OPT_INT || d->type == OPT_SIZE || d->type == OPT_SECONDS)) {
      char a[32], b[32];
      if (d->type == OPT_SIZE) {
        format_size(a, sizeof a, d->min);
        format_size(b, sizeof b, d->max);
      } else {
        snprintf(a, sizeof a, "%.15g", d->min);
        snprintf(b, sizeof b, "%.15g", d->max);
      }
      fprintf(out, "; %s to %s", a, b);
    }
    fputc('\n', out);
    const char *al = alias_of(defs, d);
    if (al && spell(al, key, sizeof key, false) && spell(al, env, sizeof env, true)) {
      fprintf(out, "  // old spelling also accepted: \"%s\", --%s, FERRY_%s\n", key, al, env);
      spell(d->name, key, sizeof key, false);
    }
    if (!d->def) {
      fprintf(out, "  // \"%s\": null,  // not set by default (see above)\n", key);
    } else if (d->type == OPT_STR || d->type == OPT_ENUM || d->type == OPT_SIZE) {
      fprintf(out, "  // \"%s\": \"%s\",\n", key, d->def);
    } else {
      fprintf(out, "  // \"%s\": %s,\n", key, d->def);
    }
  }
  fprintf(out, "}\n");
}

/* d's value in cfg as a JSON value for the config file (strings quoted). */
static void json_value(const opt_def *d, const void *cfg, char *buf, size_t len) {
  const char *p = (const char *)cfg + d->offset;
  char raw[1024];
  switch (d->type) {
    case OPT_STR: {
      const char *s = *(char *const *)(const void *)p;
      if (!s) {
        snprintf(buf, len, "null");
        return;
      }
      cJSON *str = cJSON_CreateString(s);
      char *txt = str ? cJSON_PrintUnformatted(str) : NULL;
      snprintf(buf, len, "%s", txt ? txt : "null");
      cJSON_free(txt);
      cJSON_Delete(str);
      return;
    }
    case OPT_SECONDS: {
      double v;
      memcpy(&v, p, sizeof v);
      snprintf(buf, len, "%.15g", v);
      return;
    }
    case OPT_INT:
    case OPT_BOOL: opt_format_value(d, cfg, buf, len); return;
    case OPT_SIZE:
    case OPT_ENUM:
      opt_format_value(d, cfg, raw, sizeof raw);
      snprintf(buf, len, "\"%s\"", raw);
      return;
  }
  snprintf(buf, len, "null");
}

void opt_print_effective(const opt_def *defs, size_t ndefs, const void *cfg, const opt_cli *cli,
                         const char *prog, const char *intro, FILE *out) {
  char key[OPT_NAME_MAX + 1], env[OPT_NAME_MAX + 1], val[1200];
  fprintf(out, "// %s configuration: JSON with // and /* */ comments.\n", prog ? prog : "ferry");
  if (intro && *intro) fprintf(out, "// %s\n", intro);
  fprintf(out,
          "// Every option is listed with its effective value and where it came from;\n"
          "// options at their default are commented out. Precedence: command-line flag >\n"
          "// FERRY_<NAME> environment > config file > default. Sizes take KiB/MiB/GiB.\n"
          "// Generated by `%s --print-config`.\n{\n",
          prog ? prog : "ferry");
  for (size_t i = 0; i < ndefs; i++) {
    const opt_def *d = &defs[i];
    if (d->flags & OPT_F_CLI) continue; /* a command-line action, not configuration */
    if (!spell(d->name, key, sizeof key, false) || !spell(d->name, env, sizeof env, true)) continue;
    int src = i < OPT_MAX_DEFS && cli ? cli->source[i] : OPT_SOURCE_DEFAULT;
    fprintf(out, "%s  // %s\n", i ? "\n" : "", d->help ? d->help : "");
    fprintf(out, "  // flag --%s, environment FERRY_%s", d->name, env);
    if (d->type == OPT_ENUM && d->choices) fprintf(out, "; one of %s", d->choices);
    if (has_bounds(d) && (d->type == OPT_INT || d->type == OPT_SIZE || d->type == OPT_SECONDS)) {
      char a[32], b[32];
      if (d->type == OPT_SIZE) {
        format_size(a, sizeof a, d->min);
        format_size(b, sizeof b, d->max);
      } else {
        snprintf(a, sizeof a, "%.15g", d->min);
        snprintf(b, sizeof b, "%.15g", d->max);
      }
      fprintf(out, "; %s to %s", a, b);
    }
    fputc('\n', out);
    const char *al = alias_of(defs, d);
    if (al && spell(al, key, sizeof key, false) && spell(al, env, sizeof env, true)) {
      fprintf(out, "  // old spelling also accepted: \"%s\", --%s, FERRY_%s\n", key, al, env);
      spell(d->name, key, sizeof key, false);
      spell(d->name, env, sizeof env, true);
    }
    const char *from = src == OPT_SOURCE_FILE   ? "config file"
                       : src == OPT_SOURCE_ENV  ? "environment"
                       : src == OPT_SOURCE_FLAG ? "flag"
                                                : "default";
    bool set_here = src != OPT_SOURCE_DEFAULT;
    if (d->flags & OPT_F_SECRET) {
      const char *s = *(char *const *)(const void *)((const char *)cfg + d->offset);
      if (s) fprintf(out, "  // \"%s\": \"(secret)\",  // set, from %s; masked\n", key, from);
      else fprintf(out, "  // \"%s\": null,  // not set\n", key);
      continue;
    }
    json_value(d, cfg, val, sizeof val);
    bool derived = !set_here && !d->def && strcmp(val, "null") != 0 && strcmp(val, "\"0\"") != 0;
    if (set_here) {
      if (src == OPT_SOURCE_FILE && cli->config_path)
        fprintf(out, "  \"%s\": %s,  // from config file %s\n", key, val, cli->config_path);
      else if (src == OPT_SOURCE_ENV)
        fprintf(out, "  \"%s\": %s,  // from environment FERRY_%s\n", key, val, env);
      else if (src == OPT_SOURCE_FLAG) fprintf(out, "  \"%s\": %s,  // from flag --%s\n", key, val, d->name);
      else fprintf(out, "  \"%s\": %s,  // from %s\n", key, val, from);
    } else if (derived) {
      fprintf(out, "  // \"%s\": %s,  // derived default (see above)\n", key, val);
    } else if (strcmp(val, "null") == 0) {
      fprintf(out, "  // \"%s\": null,  // not set by default (see above)\n", key);
    } else {
      fprintf(out, "  // \"%s\": %s,  // default\n", key, val);
    }
  }
  fprintf(out, "}\n");
}

const char *opt_key(const opt_def *d, char *buf, size_t len) {
  if (!spell(d->name, buf, len, false)) snprintf(buf, len, "%s", d->name);
  return buf;
}

bool opt_field_equal(const opt_def *d, const void *a, const void *b) {
  const char *pa = (const char *)a + d->offset, *pb = (const char *)b + d->offset;
  if (d->type == OPT_STR) {
    const char *sa = *(char *const *)(const void *)pa, *sb = *(char *const *)(const void *)pb;
    if (!sa || !sb) return sa == sb;
    return strcmp(sa, sb) == 0;
  }
  return memcmp(pa, pb, field_size(d->type)) == 0;
}

void opt_field_swap(const opt_def *d, void *a, void *b) {
  unsigned char tmp[sizeof(int64_t) > sizeof(double) ? sizeof(int64_t) : sizeof(double)];
  size_t n = field_size(d->type);
  if (n > sizeof tmp) return;
  memcpy(tmp, field(a, d), n);
  memcpy(field(a, d), field(b, d), n);
  memcpy(field(b, d), tmp, n);
}

void opt_format_value(const opt_def *d, const void *cfg, char *buf, size_t len) {
  const char *p = (const char *)cfg + d->offset;
  if (!len) return;
  if (d->flags & OPT_F_SECRET) {
    snprintf(buf, len, "%s", *(char *const *)(const void *)p ? "(secret)" : "(unset)");
    return;
  }
  switch (d->type) {
    case OPT_STR: {
      const char *s = *(char *const *)(const void *)p;
      snprintf(buf, len, "%s", s ? s : "(unset)");
      return;
    }
    case OPT_INT: {
      int64_t v;
      memcpy(&v, p, sizeof v);
      snprintf(buf, len, "%lld", (long long)v);
      return;
    }
    case OPT_SIZE: {
      int64_t v;
      memcpy(&v, p, sizeof v);
      format_size(buf, len, (double)v);
      return;
    }
    case OPT_SECONDS: {
      double v;
      memcpy(&v, p, sizeof v);
      snprintf(buf, len, (d->flags & OPT_F_RATE) ? "%.15g/s" : "%.15g s", v);
      return;
    }
    case OPT_BOOL: {
      bool v;
      memcpy(&v, p, sizeof v);
      snprintf(buf, len, "%s", v ? "true" : "false");
      return;
    }
    case OPT_ENUM: {
      int v;
      memcpy(&v, p, sizeof v);
      const char *c = d->choices ? d->choices : "";
      for (int i = 0; i < v && c; i++) {
        c = strchr(c, '|');
        if (c) c++;
      }
      size_t n = c ? strcspn(c, "|") : 0;
      if (c && n) snprintf(buf, len, "%.*s", (int)n, c);
      else snprintf(buf, len, "%d", v);
      return;
    }
  }
  buf[0] = '\0';
}
