/* mapping_rules: reading and checking a mapping file into the model of
 * mapping.h. Everything a rule could get wrong is caught here, at start or
 * --check-config, so applying a mapping only meets bad payloads, never bad
 * rules. Every error names the rule it is about. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mapping.h"
#include "options.h"
#include "pointer.h"

static const char *const event_fields[] = {"event_id",       "timestamp", "event_type", "worker_id",
                                           "workstation_id", "count",     "confidence", "camera_id",
                                           "model_version",  NULL};

static int fail(char *err, size_t errlen, const char *origin, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, const char *origin, const char *fmt, ...) {
  char msg[300];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  /* names quoted from the file may hold escaped control characters: the
   * message stays one line */
  for (char *p = msg; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
  snprintf(err, errlen, "mapping %s: %s", origin, msg);
  return -EINVAL;
}

static void source_free(map_source *s) {
  if (!s) return;
  free(s->ptr);
  cJSON_Delete(s->konst);
  for (size_t i = 0; i < s->n_parts; i++) source_free(&s->parts[i]);
  free(s->parts);
  free(s->split);
  memset(s, 0, sizeof(*s));
}

void mapping_free(mapping *m) {
  if (!m) return;
  for (size_t i = 0; i < m->n; i++) {
    map_entry *e = &m->entries[i];
    free(e->filter);
    free(e->iterate);
    for (size_t k = 0; k < e->n_fields; k++) {
      free(e->fields[k].target);
      source_free(&e->fields[k].src);
      cJSON_Delete(e->fields[k].map);
      cJSON_Delete(e->fields[k].def);
    }
    free(e->fields);
    for (size_t k = 0; k < e->n_skips; k++) {
      source_free(&e->skips[k].src);
      cJSON_Delete(e->skips[k].in);
      cJSON_Delete(e->skips[k].not_in);
    }
    free(e->skips);
  }
  free(m->entries);
  free(m);
}

static bool in_list(const char *s, const char *const *list) {
  for (; *list; list++)
    if (strcmp(s, *list) == 0) return true;
  return false;
}

typedef struct ctx {
  const char *origin;
  char *err;
  size_t errlen;
  bool iterating; /* the entry has "iterate": "item" sources are allowed */
} ctx;

#define SOURCE_KEYS "pointer", "item", "const", "topic", "topic_level", "concat", "first_of"

static int parse_source(ctx *c, const cJSON *o, const char *rule, map_source *s, int depth);

/* One member of concat / first_of: a literal string (concat only) or a source object. */
static int parse_part(ctx *c, const cJSON *p, const char *rule, map_source *s, bool literal_ok, int depth) {
  if (cJSON_IsString(p) && literal_ok) {
    s->kind = MS_CONST;
    s->konst = cJSON_CreateString(p->valuestring);
    return s->konst ? 0 : -ENOMEM;
  }
  if (!cJSON_IsObject(p))
    return fail(c->err, c->errlen, c->origin, "%s: each member must be %s", rule,
                literal_ok ? "a string or a source object" : "a source object");
  static const char *const keys[] = {SOURCE_KEYS, "split", "index", NULL};
  for (const cJSON *k = p->child; k; k = k->next)
    if (!in_list(k->string, keys))
      return fail(c->err, c->errlen, c->origin, "%s: unknown key \"%.40s\" in a source", rule, k->string);
  return parse_source(c, p, rule, s, depth + 1);
}

/* The source keys of object o (a field rule, a skip rule or a part). */
static int parse_source(ctx *c, const cJSON *o, const char *rule, map_source *s, int depth) {
  const char *found = NULL;
  int n = 0;
  static const char *const kinds[] = {SOURCE_KEYS, NULL};
  for (const char *const *k = kinds; *k; k++)
    if (cJSON_GetObjectItemCaseSensitive(o, *k)) {
      found = *k;
      n++;
    }
  if (n != 1)
    return fail(c->err, c->errlen, c->origin,
                "%s: needs exactly one source (pointer, item, const, topic, topic_level, concat or "
                "first_of), found %d",
                rule, n);
  if (depth > 4) return fail(c->err, c->errlen, c->origin, "%s: sources nested too deep", rule);
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, found);
  if (strcmp(found, "pointer") == 0 || strcmp(found, "item") == 0) {
    if (!cJSON_IsString(v) || !jp_valid(v->valuestring))
      return fail(c->err, c->errlen, c->origin,
                  "%s.%s: not a JSON Pointer (RFC 6901: \"\" or \"/a/b\", ~0 and ~1 escapes, at most %d "
                  "bytes)",
                  rule, found, JP_MAX_LEN);
    if (found[0] == 'i' && !c->iterating)
      return fail(c->err, c->errlen, c->origin, "%s.item: only an entry with \"iterate\" has items", rule);
    s->kind = found[0] == 'p' ? MS_POINTER : MS_ITEM;
    s->ptr = strdup(v->valuestring);
    if (!s->ptr) return -ENOMEM;
  } else if (strcmp(found, "const") == 0) {
    if (cJSON_IsNull(v)) return fail(c->err, c->errlen, c->origin, "%s.const: null is no value", rule);
    s->kind = MS_CONST;
    s->konst = cJSON_Duplicate(v, 1);
    if (!s->konst) return -ENOMEM;
  } else if (strcmp(found, "topic") == 0) {
    if (!cJSON_IsTrue(v)) return fail(c->err, c->errlen, c->origin, "%s.topic: must be true", rule);
    s->kind = MS_TOPIC;
  } else if (strcmp(found, "topic_level") == 0) {
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int)v->valuedouble || v->valuedouble < -64 ||
        v->valuedouble > 64)
      return fail(c->err, c->errlen, c->origin, "%s.topic_level: an integer from -64 to 64 (-1 = last level)",
                  rule);
    s->kind = MS_TOPIC_LEVEL;
    s->level = (int)v->valuedouble;
  } else { /* concat, first_of */
    bool concat = found[0] == 'c';
    int nparts = cJSON_GetArraySize(v);
    if (!cJSON_IsArray(v) || nparts < 1 || nparts > MAPPING_MAX_PARTS)
      return fail(c->err, c->errlen, c->origin, "%s.%s: an array of 1 to %d members", rule, found,
                  MAPPING_MAX_PARTS);
    s->kind = concat ? MS_CONCAT : MS_FIRST_OF;
    s->parts = calloc((size_t)nparts, sizeof(*s->parts));
    if (!s->parts) return -ENOMEM;
    int i = 0;
    for (const cJSON *p = v->child; p; p = p->next, i++) {
      char sub[128];
      snprintf(sub, sizeof(sub), "%.90s.%s[%d]", rule, found, i);
      s->n_parts = (size_t)i + 1;
      int r = parse_part(c, p, sub, &s->parts[i], concat, depth);
      if (r < 0) return r;
    }
  }
  const cJSON *split = cJSON_GetObjectItemCaseSensitive(o, "split");
  const cJSON *index = cJSON_GetObjectItemCaseSensitive(o, "index");
  if (split) {
    if (!cJSON_IsString(split) || !*split->valuestring || strlen(split->valuestring) > 8)
      return fail(c->err, c->errlen, c->origin, "%s.split: a separator of 1 to 8 bytes", rule);
    if (!cJSON_IsNumber(index) || index->valuedouble != (double)(int)index->valuedouble ||
        index->valuedouble < -1 || index->valuedouble > 1000)
      return fail(c->err, c->errlen, c->origin,
                  "%s.index: with split, the piece to take (0-based, -1 = last)", rule);
    s->split = strdup(split->valuestring);
    if (!s->split) return -ENOMEM;
    s->split_index = (int)index->valuedouble;
  } else if (index) {
    return fail(c->err, c->errlen, c->origin, "%s.index: only with split", rule);
  }
  return 0;
}

static int parse_field(ctx *c, const char *entry_rule, const cJSON *f, map_field *out) {
  snprintf(out->rule, sizeof(out->rule), "%.40s.fields.%.40s", entry_rule, f->string);
  const char *t = f->string;
  bool attr = strncmp(t, "attributes.", 11) == 0 && t[11] && strlen(t) <= 11 + 64;
  if (!attr && !in_list(t, event_fields))
    return fail(c->err, c->errlen, c->origin,
                "%s: not an event field (event_id, timestamp, event_type, worker_id, workstation_id, count, "
                "confidence, camera_id, model_version, or attributes.NAME)",
                out->rule);
  out->target = strdup(t);
  if (!out->target) return -ENOMEM;
  if (cJSON_IsString(f)) { /* shorthand: "field": "/pointer" */
    if (!jp_valid(f->valuestring) || !f->valuestring[0])
      return fail(c->err, c->errlen, c->origin, "%s: a string here is a JSON Pointer (\"/a/b\")", out->rule);
    out->src.kind = MS_POINTER;
    out->src.ptr = strdup(f->valuestring);
    return out->src.ptr ? 0 : -ENOMEM;
  }
  if (!cJSON_IsObject(f))
    return fail(c->err, c->errlen, c->origin, "%s: a rule object (or a JSON Pointer string)", out->rule);
  static const char *const keys[] = {SOURCE_KEYS, "split",   "index",    "as",      "map",
                                     "unmapped",  "default", "optional", "comment", NULL};
  for (const cJSON *k = f->child; k; k = k->next)
    if (!in_list(k->string, keys))
      return fail(c->err, c->errlen, c->origin, "%s: unknown key \"%.40s\"", out->rule, k->string);
  int r = parse_source(c, f, out->rule, &out->src, 0);
  if (r < 0) return r;
  const cJSON *as = cJSON_GetObjectItemCaseSensitive(f, "as");
  if (as) {
    static const char *const names[] = {"auto", "string", "number", "integer", "epoch_s", "epoch_ms", NULL};
    int k = -1;
    for (int i = 0; cJSON_IsString(as) && names[i]; i++)
      if (strcmp(as->valuestring, names[i]) == 0) k = i;
    if (k < 0)
      return fail(c->err, c->errlen, c->origin,
                  "%s.as: one of auto, string, number, integer, epoch_s, epoch_ms", out->rule);
    out->as = (map_as)k;
  }
  const cJSON *map = cJSON_GetObjectItemCaseSensitive(f, "map");
  if (map) {
    if (!cJSON_IsObject(map) || !map->child)
      return fail(c->err, c->errlen, c->origin, "%s.map: an object of source value → event value", out->rule);
    for (const cJSON *m = map->child; m; m = m->next)
      if (cJSON_IsNull(m) || cJSON_IsObject(m) || cJSON_IsArray(m))
        return fail(c->err, c->errlen, c->origin, "%s.map.%.40s: maps to a string, number or boolean",
                    out->rule, m->string);
    out->map = cJSON_Duplicate(map, 1);
    if (!out->map) return -ENOMEM;
  }
  const cJSON *um = cJSON_GetObjectItemCaseSensitive(f, "unmapped");
  if (um) {
    if (!map) return fail(c->err, c->errlen, c->origin, "%s.unmapped: only with map", out->rule);
    if (cJSON_IsString(um) && strcmp(um->valuestring, "error") == 0) out->unmapped = MAP_UNMAPPED_ERROR;
    else if (cJSON_IsString(um) && strcmp(um->valuestring, "skip") == 0) out->unmapped = MAP_UNMAPPED_SKIP;
    else if (cJSON_IsString(um) && strcmp(um->valuestring, "keep") == 0) out->unmapped = MAP_UNMAPPED_KEEP;
    else return fail(c->err, c->errlen, c->origin, "%s.unmapped: one of error, skip, keep", out->rule);
  }
  const cJSON *def = cJSON_GetObjectItemCaseSensitive(f, "default");
  if (def && !cJSON_IsNull(def)) {
    out->def = cJSON_Duplicate(def, 1);
    if (!out->def) return -ENOMEM;
  }
  const cJSON *opt = cJSON_GetObjectItemCaseSensitive(f, "optional");
  if (opt) {
    if (!cJSON_IsBool(opt))
      return fail(c->err, c->errlen, c->origin, "%s.optional: true or false", out->rule);
    out->optional = cJSON_IsTrue(opt);
  }
  if (strcmp(t, "event_id") == 0 && (out->optional || out->def || out->src.kind == MS_CONST))
    return fail(c->err, c->errlen, c->origin,
                "%s: event_id must come from the source's own ids (no const, default or optional), so "
                "a redelivered message is recognised",
                out->rule);
  return 0;
}

static int parse_values(ctx *c, const cJSON *v, const char *rule, const char *key, cJSON **out) {
  if (!v) return 0;
  if (!cJSON_IsArray(v)) return fail(c->err, c->errlen, c->origin, "%s.%s: an array of values", rule, key);
  *out = cJSON_Duplicate(v, 1);
  return *out ? 0 : -ENOMEM;
}

static int parse_skip(ctx *c, const cJSON *s, map_skip *out) {
  if (!cJSON_IsObject(s)) return fail(c->err, c->errlen, c->origin, "%s: a skip rule object", out->rule);
  static const char *const keys[] = {SOURCE_KEYS, "split",   "index",   "in",
                                     "not_in",    "missing", "comment", NULL};
  for (const cJSON *k = s->child; k; k = k->next)
    if (!in_list(k->string, keys))
      return fail(c->err, c->errlen, c->origin, "%s: unknown key \"%.40s\"", out->rule, k->string);
  int r = parse_source(c, s, out->rule, &out->src, 0);
  if (r < 0) return r;
  if ((r = parse_values(c, cJSON_GetObjectItemCaseSensitive(s, "in"), out->rule, "in", &out->in)) < 0 ||
      (r = parse_values(c, cJSON_GetObjectItemCaseSensitive(s, "not_in"), out->rule, "not_in",
                        &out->not_in)) < 0)
    return r;
  const cJSON *miss = cJSON_GetObjectItemCaseSensitive(s, "missing");
  if (miss && !cJSON_IsBool(miss))
    return fail(c->err, c->errlen, c->origin, "%s.missing: true or false", out->rule);
  out->missing = cJSON_IsTrue(miss);
  if (!out->in && !out->not_in && !out->missing)
    return fail(c->err, c->errlen, c->origin, "%s: says when to skip with in, not_in or missing", out->rule);
  return 0;
}

static int parse_entry(ctx *c, const cJSON *o, int idx, map_entry *e) {
  char rule[32];
  snprintf(rule, sizeof(rule), "topics[%d]", idx);
  if (!cJSON_IsObject(o)) return fail(c->err, c->errlen, c->origin, "%s: an object", rule);
  static const char *const keys[] = {"filter", "format", "iterate", "skip", "fields", "comment", NULL};
  for (const cJSON *k = o->child; k; k = k->next)
    if (!in_list(k->string, keys))
      return fail(c->err, c->errlen, c->origin, "%s: unknown key \"%.40s\"", rule, k->string);
  const cJSON *filter = cJSON_GetObjectItemCaseSensitive(o, "filter");
  if (!cJSON_IsString(filter) || !*filter->valuestring || strlen(filter->valuestring) > 1024)
    return fail(c->err, c->errlen, c->origin, "%s.filter: an MQTT topic filter (1-1024 bytes)", rule);
  const char *fs = filter->valuestring;
  for (const char *p = fs; *p; p++) { /* MQTT's wildcard rules: '+' a whole level, '#' the last */
    bool starts = p == fs || p[-1] == '/';
    bool ends = !p[1] || p[1] == '/';
    if ((*p == '+' && !(starts && ends)) || (*p == '#' && !(starts && !p[1])))
      return fail(c->err, c->errlen, c->origin, "%s.filter: \"%.100s\": misplaced wildcard", rule, fs);
  }
  e->filter = strdup(fs);
  if (!e->filter) return -ENOMEM;
  const cJSON *format = cJSON_GetObjectItemCaseSensitive(o, "format");
  if (format && !(cJSON_IsString(format) &&
                  (strcmp(format->valuestring, "ferry") == 0 || strcmp(format->valuestring, "mapped") == 0)))
    return fail(c->err, c->errlen, c->origin, "%s.format: \"ferry\" or \"mapped\"", rule);
  e->ferry = format && strcmp(format->valuestring, "ferry") == 0;
  const cJSON *fields = cJSON_GetObjectItemCaseSensitive(o, "fields");
  if (e->ferry) {
    if (fields || cJSON_GetObjectItemCaseSensitive(o, "iterate") ||
        cJSON_GetObjectItemCaseSensitive(o, "skip"))
      return fail(c->err, c->errlen, c->origin, "%s: a ferry entry takes no fields, iterate or skip", rule);
    return 0;
  }
  const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, "iterate");
  if (it) {
    if (!cJSON_IsString(it) || !jp_valid(it->valuestring))
      return fail(c->err, c->errlen, c->origin, "%s.iterate: a JSON Pointer to an array", rule);
    e->iterate = strdup(it->valuestring);
    if (!e->iterate) return -ENOMEM;
    c->iterating = true;
  } else {
    c->iterating = false;
  }
  int nf = cJSON_GetArraySize(fields);
  if (!cJSON_IsObject(fields) || nf < 1 || nf > MAPPING_MAX_FIELDS)
    return fail(c->err, c->errlen, c->origin, "%s.fields: an object with 1 to %d field rules", rule,
                MAPPING_MAX_FIELDS);
  e->fields = calloc((size_t)nf, sizeof(*e->fields));
  if (!e->fields) return -ENOMEM;
  bool has[16] = {0};
  for (const cJSON *f = fields->child; f; f = f->next) {
    int r = parse_field(c, rule, f, &e->fields[e->n_fields++]);
    if (r < 0) return r;
    for (int k = 0; event_fields[k]; k++)
      if (strcmp(f->string, event_fields[k]) == 0) has[k] = true;
  }
  if (!has[0])
    return fail(c->err, c->errlen, c->origin, "%s.fields.event_id: required (from the source's own ids)",
                rule);
  if (!has[1]) return fail(c->err, c->errlen, c->origin, "%s.fields.timestamp: required", rule);
  if (!has[2]) return fail(c->err, c->errlen, c->origin, "%s.fields.event_type: required", rule);
  if (!has[4]) return fail(c->err, c->errlen, c->origin, "%s.fields.workstation_id: required", rule);
  const cJSON *skip = cJSON_GetObjectItemCaseSensitive(o, "skip");
  if (skip) {
    int ns = cJSON_GetArraySize(skip);
    if (!cJSON_IsArray(skip) || ns > MAPPING_MAX_FIELDS)
      return fail(c->err, c->errlen, c->origin, "%s.skip: an array of at most %d skip rules", rule,
                  MAPPING_MAX_FIELDS);
    e->skips = calloc((size_t)(ns ? ns : 1), sizeof(*e->skips));
    if (!e->skips) return -ENOMEM;
    int i = 0;
    for (const cJSON *s = skip->child; s; s = s->next, i++) {
      map_skip *k = &e->skips[e->n_skips++];
      snprintf(k->rule, sizeof(k->rule), "%s.skip[%d]", rule, i);
      int r = parse_skip(c, s, k);
      if (r < 0) return r;
    }
  }
  return 0;
}

int mapping_load_text(const char *text, size_t len, const char *origin, mapping **ret, char *err,
                      size_t errlen) {
  if (len > MAPPING_FILE_MAX) return fail(err, errlen, origin, "larger than %d bytes", MAPPING_FILE_MAX);
  char *buf = malloc(len + 1);
  if (!buf) return -ENOMEM;
  memcpy(buf, text, len);
  buf[len] = '\0';
  int r;
  cJSON *root = NULL;
  mapping *m = NULL;
  if (strlen(buf) != len) {
    r = fail(err, errlen, origin, "holds a NUL byte");
    goto out;
  }
  if (opt_strip_json_comments(buf) < 0) {
    r = fail(err, errlen, origin, "unterminated /* comment");
    goto out;
  }
  char why[160];
  if (ev_json_check_text(buf, strlen(buf), 32, why, sizeof(why)) < 0) {
    r = fail(err, errlen, origin, "not JSON: %s", why);
    goto out;
  }
  root = cJSON_Parse(buf);
  if (!root) {
    r = fail(err, errlen, origin, "not JSON (with comments)");
    goto out;
  }
  if (ev_json_check_tree(root, 32, why, sizeof(why)) < 0) {
    r = fail(err, errlen, origin, "%s", why);
    goto out;
  }
  if (!cJSON_IsObject(root)) {
    r = fail(err, errlen, origin, "must hold one object with a \"topics\" array");
    goto out;
  }
  for (const cJSON *k = root->child; k; k = k->next)
    if (strcmp(k->string, "topics") != 0 && strcmp(k->string, "comment") != 0) {
      r = fail(err, errlen, origin, "unknown key \"%.40s\" (expected \"topics\")", k->string);
      goto out;
    }
  const cJSON *topics = cJSON_GetObjectItemCaseSensitive(root, "topics");
  int n = cJSON_GetArraySize(topics);
  if (!cJSON_IsArray(topics) || n < 1 || n > MAPPING_MAX_ENTRIES) {
    r = fail(err, errlen, origin, "topics: an array of 1 to %d entries", MAPPING_MAX_ENTRIES);
    goto out;
  }
  m = calloc(1, sizeof(*m));
  if (!m || !(m->entries = calloc((size_t)n, sizeof(*m->entries)))) {
    r = -ENOMEM;
    goto out;
  }
  ctx c = {.origin = origin, .err = err, .errlen = errlen};
  int i = 0;
  for (const cJSON *o = topics->child; o; o = o->next, i++) {
    m->n = (size_t)i + 1;
    r = parse_entry(&c, o, i, &m->entries[i]);
    if (r == -ENOMEM) fail(err, errlen, origin, "out of memory");
    if (r < 0) goto out;
  }
  *ret = m;
  m = NULL;
  r = 0;
out:
  mapping_free(m);
  cJSON_Delete(root);
  free(buf);
  return r;
}

int mapping_load_file(const char *path, mapping **ret, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) return fail(err, errlen, path, "cannot open: %s", strerror(errno));
  char *text = malloc(MAPPING_FILE_MAX + 1);
  if (!text) {
    fclose(f);
    return -ENOMEM;
  }
  size_t n = fread(text, 1, MAPPING_FILE_MAX + 1, f);
  int bad = ferror(f);
  fclose(f);
  int r = bad ? fail(err, errlen, path, "read error") : mapping_load_text(text, n, path, ret, err, errlen);
  free(text);
  return r;
}
