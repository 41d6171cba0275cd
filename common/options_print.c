/* options_print: what is written from the option table — --help, the config
 * file template and the effective configuration (--print-config) — and the
 * helpers reload uses to compare, swap and show one option's value. */
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
    if (opt__has_bounds(d) && d->type != OPT_BOOL && d->type != OPT_ENUM && d->type != OPT_STR &&
        o < sizeof right) {
      char a[32], b[32];
      if (d->type == OPT_SIZE) {
        opt__format_size(a, sizeof a, d->min);
        opt__format_size(b, sizeof b, d->max);
      } else {
        snprintf(a, sizeof a, "%.15g", d->min);
        snprintf(b, sizeof b, "%.15g", d->max);
      }
      o += (size_t)snprintf(right + o, sizeof right - o, " [%s..%s]", a, b);
    }
    if ((d->flags & OPT_F_SECRET) && o < sizeof right)
      snprintf(right + o, sizeof right - o, " (a flag is visible in ps: prefer the environment or a file)");
    help_line(out, left, right);
    if (!(d->flags & OPT_F_CLI) && opt__spell(d->name, env, sizeof env, true))
      fprintf(out, "  %*senv FERRY_%s\n", HELP_COL - 2, "", env);
    const char *al = opt__alias_of(defs, d);
    if (al && opt__spell(al, env, sizeof env, true))
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

/* The comment lines above one option in both printouts: help, flag and
 * variable, choices or range, and an old spelling; key and env keep the
 * option's own spellings. */
static void option_header(FILE *out, const opt_def *defs, const opt_def *d, bool gap, char *key,
                          size_t keylen, char *env, size_t envlen) {
  fprintf(out, "%s  // %s\n", gap ? "\n" : "", d->help ? d->help : "");
  fprintf(out, "  // flag --%s, environment FERRY_%s", d->name, env);
  if (d->type == OPT_ENUM && d->choices) fprintf(out, "; one of %s", d->choices);
  if (opt__has_bounds(d) && (d->type == OPT_INT || d->type == OPT_SIZE || d->type == OPT_SECONDS)) {
    char a[32], b[32];
    if (d->type == OPT_SIZE) {
      opt__format_size(a, sizeof a, d->min);
      opt__format_size(b, sizeof b, d->max);
    } else {
      snprintf(a, sizeof a, "%.15g", d->min);
      snprintf(b, sizeof b, "%.15g", d->max);
    }
    fprintf(out, "; %s to %s", a, b);
  }
  fputc('\n', out);
  const char *al = opt__alias_of(defs, d);
  if (al && opt__spell(al, key, keylen, false) && opt__spell(al, env, envlen, true)) {
    fprintf(out, "  // old spelling also accepted: \"%s\", --%s, FERRY_%s\n", key, al, env);
    opt__spell(d->name, key, keylen, false);
    opt__spell(d->name, env, envlen, true);
  }
}

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
    if (!opt__spell(d->name, key, sizeof key, false) || !opt__spell(d->name, env, sizeof env, true)) continue;
    option_header(out, defs, d, i > 0, key, sizeof key, env, sizeof env);
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
    if (!opt__spell(d->name, key, sizeof key, false) || !opt__spell(d->name, env, sizeof env, true)) continue;
    int src = i < OPT_MAX_DEFS && cli ? cli->source[i] : OPT_SOURCE_DEFAULT;
    option_header(out, defs, d, i > 0, key, sizeof key, env, sizeof env);
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
  if (!opt__spell(d->name, buf, len, false)) snprintf(buf, len, "%s", d->name);
  return buf;
}

bool opt_field_equal(const opt_def *d, const void *a, const void *b) {
  const char *pa = (const char *)a + d->offset, *pb = (const char *)b + d->offset;
  if (d->type == OPT_STR) {
    const char *sa = *(char *const *)(const void *)pa, *sb = *(char *const *)(const void *)pb;
    if (!sa || !sb) return sa == sb;
    return strcmp(sa, sb) == 0;
  }
  return memcmp(pa, pb, opt__field_size(d->type)) == 0;
}

void opt_field_swap(const opt_def *d, void *a, void *b) {
  unsigned char tmp[sizeof(int64_t) > sizeof(double) ? sizeof(int64_t) : sizeof(double)];
  size_t n = opt__field_size(d->type);
  if (n > sizeof tmp) return;
  memcpy(tmp, opt__field(a, d), n);
  memcpy(opt__field(a, d), opt__field(b, d), n);
  memcpy(opt__field(b, d), tmp, n);
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
      opt__format_size(buf, len, (double)v);
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
