/* options_value: one option's value — the scalar parsers (sizes with
 * KiB/MiB/GiB, seconds, booleans, integers, enum choices), range checks with
 * a message stating the range, and storing text or a config-file JSON member
 * into the config struct. The sources (options.c, options_file.c) all end
 * here, so a value means the same wherever it was written. */
#include "options_int.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

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
void opt__format_size(char *buf, size_t len, double v) {
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

bool opt__has_bounds(const opt_def *d) { return !(d->min == 0 && d->max == 0); }

/* Range check with a message stating the range. */
static int check_bounds(const opt_def *d, const opt_src *src, double v, char *err, size_t errlen) {
  if (!opt__has_bounds(d) || (v >= d->min && v <= d->max)) return 0;
  char a[32], b[32], got[32];
  if (d->type == OPT_SIZE) {
    opt__format_size(a, sizeof a, d->min);
    opt__format_size(b, sizeof b, d->max);
    opt__format_size(got, sizeof got, v);
  } else if (d->type == OPT_INT) {
    snprintf(a, sizeof a, "%.0f", d->min);
    snprintf(b, sizeof b, "%.0f", d->max);
    snprintf(got, sizeof got, "%.0f", v);
  } else {
    snprintf(a, sizeof a, "%.15g", d->min);
    snprintf(b, sizeof b, "%.15g", d->max);
    snprintf(got, sizeof got, "%.15g", v);
  }
  opt__value_error(err, errlen, d, src, "%s is out of range (must be %s to %s)", got, a, b);
  return -EINVAL;
}

/* ------------------------------------------------------------------------ */
/* storing values */

void *opt__field(void *cfg, const opt_def *d) { return (char *)cfg + d->offset; }

size_t opt__field_size(opt_type t) {
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
int opt__apply_text(const opt_def *d, void *cfg, const char *text, const opt_src *src, char *err,
                    size_t errlen) {
  char shown[OPT_ECHO_MAX * 4 + 16];
  if (d->flags & OPT_F_SECRET) snprintf(shown, sizeof shown, "(value hidden)");
  else opt__quote(shown, sizeof shown, text);

  switch (d->type) {
    case OPT_STR: {
      char *copy = strdup(text);
      if (!copy) {
        opt__value_error(err, errlen, d, src, "out of memory");
        return -ENOMEM;
      }
      char **slot = opt__field(cfg, d);
      free(*slot);
      *slot = copy;
      return 0;
    }
    case OPT_INT: {
      int64_t v;
      if (opt_parse_int(text, &v) < 0) {
        opt__value_error(err, errlen, d, src, "not an integer: %s", shown);
        return -EINVAL;
      }
      if (check_bounds(d, src, (double)v, err, errlen) < 0) return -EINVAL;
      memcpy(opt__field(cfg, d), &v, sizeof v);
      return 0;
    }
    case OPT_SIZE: {
      int64_t v;
      if (opt_parse_size(text, &v) < 0) {
        opt__value_error(err, errlen, d, src, "not a size: %s (use bytes or KiB/MiB/GiB)", shown);
        return -EINVAL;
      }
      if (check_bounds(d, src, (double)v, err, errlen) < 0) return -EINVAL;
      memcpy(opt__field(cfg, d), &v, sizeof v);
      return 0;
    }
    case OPT_SECONDS: {
      double v;
      if (opt_parse_seconds(text, &v) < 0) {
        opt__value_error(err, errlen, d, src, "not a number of seconds: %s (use e.g. 0.5 or 60)", shown);
        return -EINVAL;
      }
      if (check_bounds(d, src, v, err, errlen) < 0) return -EINVAL;
      memcpy(opt__field(cfg, d), &v, sizeof v);
      return 0;
    }
    case OPT_BOOL: {
      bool v;
      if (opt_parse_bool(text, &v) < 0) {
        opt__value_error(err, errlen, d, src, "not a boolean: %s (use true or false)", shown);
        return -EINVAL;
      }
      memcpy(opt__field(cfg, d), &v, sizeof v);
      return 0;
    }
    case OPT_ENUM: {
      int v = enum_index(d->choices, text);
      if (v < 0) {
        opt__value_error(err, errlen, d, src, "must be one of %s, not %s", d->choices ? d->choices : "(none)",
                         shown);
        return -EINVAL;
      }
      memcpy(opt__field(cfg, d), &v, sizeof v);
      return 0;
    }
  }
  opt__value_error(err, errlen, d, src, "option has an unknown type");
  return -EINVAL;
}

/* A JSON number for an integer-valued option: whole and exactly representable. */
static int json_whole_number(const opt_def *d, const opt_src *src, const cJSON *item, char *text, size_t len,
                             char *err, size_t errlen) {
  double v = item->valuedouble;
  if (!isfinite(v) || floor(v) != v) {
    opt__value_error(err, errlen, d, src, "not a whole number: %g", v);
    return -EINVAL;
  }
  if (fabs(v) > OPT_JSON_INT_MAX) {
    opt__value_error(err, errlen, d, src, "number too large to be exact in JSON, write it as a string");
    return -EINVAL;
  }
  snprintf(text, len, "%.0f", v);
  return 0;
}

const char *opt__json_type_name(const cJSON *item) {
  if (cJSON_IsBool(item)) return "a boolean";
  if (cJSON_IsNumber(item)) return "a number";
  if (cJSON_IsString(item)) return "a string";
  if (cJSON_IsArray(item)) return "an array";
  if (cJSON_IsObject(item)) return "an object";
  if (cJSON_IsNull(item)) return "null";
  return "an unknown JSON value";
}

/* Append one item to an OPT_F_LIST string ("a\nb"). */
int opt__append_list_item(const opt_def *d, void *cfg, const char *item, const opt_src *src, char *err,
                          size_t errlen) {
  if (!*item || strchr(item, '\n')) {
    opt__value_error(err, errlen, d, src, "an item is empty or holds a line break");
    return -EINVAL;
  }
  char **slot = opt__field(cfg, d);
  size_t old = *slot ? strlen(*slot) : 0, n = strlen(item);
  char *s = malloc(old + 1 + n + 1);
  if (!s) {
    opt__value_error(err, errlen, d, src, "out of memory");
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
  char **slot = opt__field(cfg, d);
  char *saved = *slot;
  *slot = NULL;
  for (const cJSON *it = arr->child; it; it = it->next) {
    int r = cJSON_IsString(it) ? opt__append_list_item(d, cfg, it->valuestring, src, err, errlen) : -EINVAL;
    if (r < 0) {
      if (!cJSON_IsString(it))
        opt__value_error(err, errlen, d, src, "wrong type: expected an array of strings, got %s in it",
                         opt__json_type_name(it));
      free(*slot);
      *slot = saved;
      return r;
    }
  }
  free(saved);
  return 0;
}

/* Apply one config-file member. */
int opt__apply_json(const opt_def *d, void *cfg, const cJSON *item, const opt_src *src, char *err,
                    size_t errlen) {
  char num[64];
  const char *want;
  switch (d->type) {
    case OPT_STR:
    case OPT_ENUM:
      if (cJSON_IsString(item)) return opt__apply_text(d, cfg, item->valuestring, src, err, errlen);
      if (d->type == OPT_STR && (d->flags & OPT_F_LIST) && cJSON_IsArray(item))
        return apply_json_list(d, cfg, item, src, err, errlen);
      want = (d->flags & OPT_F_LIST) ? "a string or an array of strings" : "a string";
      break;
    case OPT_BOOL:
      if (cJSON_IsBool(item))
        return opt__apply_text(d, cfg, cJSON_IsTrue(item) ? "true" : "false", src, err, errlen);
      want = "true or false";
      break;
    case OPT_INT:
    case OPT_SIZE:
      if (cJSON_IsString(item)) return opt__apply_text(d, cfg, item->valuestring, src, err, errlen);
      if (cJSON_IsNumber(item)) {
        if (json_whole_number(d, src, item, num, sizeof num, err, errlen) < 0) return -EINVAL;
        if (d->type == OPT_SIZE && item->valuedouble < 0) {
          opt__value_error(err, errlen, d, src, "not a size: %s (must not be negative)", num);
          return -EINVAL;
        }
        return opt__apply_text(d, cfg, num, src, err, errlen);
      }
      want = d->type == OPT_SIZE ? "a number or a size string like \"64MiB\"" : "a number";
      break;
    case OPT_SECONDS:
      if (cJSON_IsString(item)) return opt__apply_text(d, cfg, item->valuestring, src, err, errlen);
      if (cJSON_IsNumber(item)) {
        double v = item->valuedouble;
        if (!isfinite(v) || v < 0) {
          opt__value_error(err, errlen, d, src, "not a number of seconds: %g (must be 0 or more)", v);
          return -EINVAL;
        }
        if (check_bounds(d, src, v, err, errlen) < 0) return -EINVAL;
        memcpy(opt__field(cfg, d), &v, sizeof v);
        return 0;
      }
      want = "a number of seconds";
      break;
    default: want = "a value"; break;
  }
  opt__value_error(err, errlen, d, src, "wrong type: expected %s, got %s", want, opt__json_type_name(item));
  return -EINVAL;
}
