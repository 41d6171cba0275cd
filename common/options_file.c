/* options_file: the config file reader — JSON with comments (stripped so
 * line numbers still match), unknown and duplicate keys refused with the line
 * they are on, a size cap, each member stored through options_value.c. */
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

static const opt_def *find_by_key(const opt_def *defs, size_t ndefs, const char *key) {
  char spelled[OPT_NAME_MAX + 1];
  for (size_t i = 0; i < ndefs; i++) {
    if (defs[i].flags & OPT_F_CLI) continue; /* a flag only */
    if (opt__spell(defs[i].name, spelled, sizeof spelled, false) && strcmp(spelled, key) == 0)
      return &defs[i];
    const char *al = opt__alias_of(defs, &defs[i]);
    if (al && opt__spell(al, spelled, sizeof spelled, false) && strcmp(spelled, key) == 0) return &defs[i];
  }
  return NULL;
}

static int load_text(const opt_def *defs, size_t ndefs, void *cfg, const char *text, size_t len,
                     const char *origin, unsigned char *record, char *err, size_t errlen) {
  char shown[OPT_ECHO_MAX * 4 + 16];
  int r = -EINVAL;
  cJSON *root = NULL;
  if (memchr(text, '\0', len)) {
    opt__set_error(err, errlen, "config file %s: contains a NUL byte", origin);
    return -EINVAL;
  }
  char *buf = malloc(len + 1);
  if (!buf) {
    opt__set_error(err, errlen, "config file %s: out of memory", origin);
    return -ENOMEM;
  }
  memcpy(buf, text, len);
  buf[len] = '\0';
  if (opt_strip_json_comments(buf) < 0) {
    opt__set_error(err, errlen, "config file %s: unterminated /* comment", origin);
    goto out;
  }
  const char *end = NULL;
  root = cJSON_ParseWithOpts(buf, &end, 1);
  if (!root) {
    if (end && end >= buf && end <= buf + len)
      opt__set_error(err, errlen, "config file %s: line %d: malformed JSON", origin, line_of(buf, end));
    else opt__set_error(err, errlen, "config file %s: malformed JSON", origin);
    goto out;
  }
  if (!cJSON_IsObject(root)) {
    opt__set_error(err, errlen, "config file %s: must hold one JSON object, got %s", origin,
                   opt__json_type_name(root));
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
      opt__quote(shown, sizeof shown, key);
      opt__set_error(err, errlen, "config file %s:%s unknown key %s", origin, where, shown);
      r = -EINVAL;
      goto out;
    }
    for (const cJSON *prev = root->child; !seen && prev != item; prev = prev->next)
      if (prev->string && find_by_key(defs, ndefs, prev->string) == d) seen++; /* the other spelling */
    if (seen) {
      opt__set_error(err, errlen, "config file %s:%s %s: duplicate key", origin, where, key);
      r = -EINVAL;
      goto out;
    }
    if (cJSON_IsNull(item)) continue; /* null = not set here, keep what is below */
    r = opt__apply_json(d, cfg, item, &src, err, errlen);
    if (r < 0) goto out;
    opt__record_source(record, defs, d, OPT_SOURCE_FILE);
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

int opt__load_config_file(const opt_def *defs, size_t ndefs, void *cfg, const char *path,
                          unsigned char *record, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    opt__set_error(err, errlen, "config file %s: cannot open: %s", path, strerror(errno));
    return -EINVAL;
  }
  char *text = malloc(OPT_FILE_MAX + 1);
  if (!text) {
    fclose(f);
    opt__set_error(err, errlen, "config file %s: out of memory", path);
    return -ENOMEM;
  }
  size_t n = fread(text, 1, OPT_FILE_MAX + 1, f);
  int rerr = ferror(f);
  fclose(f);
  int r;
  if (rerr) {
    opt__set_error(err, errlen, "config file %s: read error", path);
    r = -EINVAL;
  } else if (n > OPT_FILE_MAX) {
    opt__set_error(err, errlen, "config file %s: larger than %d bytes", path, OPT_FILE_MAX);
    r = -EINVAL;
  } else {
    r = load_text(defs, ndefs, cfg, text, n, path, record, err, errlen);
  }
  free(text);
  return r;
}
