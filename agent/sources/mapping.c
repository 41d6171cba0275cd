/* mapping: applying a mapping to one MQTT message (see mapping.h). The
 * events it builds go through the same validator as the local API's
 * (ev_validate_inplace), so an event from MQTT and one from HTTP are held to
 * one rule book; a message is mapped all or nothing. */
#include "mapping.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mosquitto.h>
#include "pointer.h"
#include "timefmt.h"

typedef struct apply_ctx {
  const char *topic;
  const cJSON *root;
  const cJSON *item; /* element being iterated, or NULL */
  mapping_result *res;
} apply_ctx;

static void set_error(mapping_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(mapping_result *r, const char *fmt, ...) {
  if (r->error[0]) return; /* the first error is the one reported */
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->error, sizeof(r->error), fmt, ap);
  va_end(ap);
}

const map_entry *mapping_entry_for(const mapping *m, const char *topic) {
  if (!m) return NULL;
  for (size_t i = 0; i < m->n; i++) {
    bool match = false;
    if (mosquitto_topic_matches_sub(m->entries[i].filter, topic, &match) == MOSQ_ERR_SUCCESS && match)
      return &m->entries[i];
  }
  return NULL;
}

/* Topic level n (negative: from the end) as a new string node, or NULL. */
static cJSON *topic_level(const char *topic, int n) {
  int levels = 1;
  for (const char *p = topic; *p; p++) levels += *p == '/';
  if (n < 0) n += levels;
  if (n < 0 || n >= levels) return NULL;
  const char *p = topic;
  for (int i = 0; i < n; i++) p = strchr(p, '/') + 1;
  size_t len = strcspn(p, "/");
  char buf[MAPPING_VALUE_MAX];
  if (len >= sizeof(buf)) return NULL;
  memcpy(buf, p, len);
  buf[len] = '\0';
  return cJSON_CreateString(buf);
}

/* A scalar as text (for concat, split and map keys). 0 or -EINVAL. */
static int scalar_text(const cJSON *v, char *out, size_t len) {
  if (cJSON_IsString(v)) {
    if (strlen(v->valuestring) >= len) return -EINVAL;
    snprintf(out, len, "%s", v->valuestring);
  } else if (cJSON_IsNumber(v)) {
    double d = v->valuedouble;
    if (!isfinite(d)) return -EINVAL;
    if (d == floor(d) && fabs(d) < 9.0e15) snprintf(out, len, "%.0f", d);
    else snprintf(out, len, "%.17g", d);
  } else if (cJSON_IsBool(v)) {
    snprintf(out, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
  } else {
    return -EINVAL;
  }
  return 0;
}

static const char *kind_name(const map_source *s) {
  switch (s->kind) {
    case MS_POINTER: return "pointer";
    case MS_ITEM: return "item";
    case MS_CONST: return "const";
    case MS_TOPIC: return "topic";
    case MS_TOPIC_LEVEL: return "topic_level";
    case MS_CONCAT: return "concat";
    case MS_FIRST_OF: return "first_of";
    default: return "source";
  }
}

/* Evaluate a source: a new node (caller owns), or NULL when it does not exist
 * (*why says why, for the error) or is null. -ENOMEM is reported through
 * res->error as well (the message then dead-letters, which is safe). */
static cJSON *eval(apply_ctx *c, const map_source *s, const char *rule, char *why, size_t whylen) {
  cJSON *v = NULL;
  switch (s->kind) {
    case MS_POINTER:
    case MS_ITEM: {
      const cJSON *f = jp_get(s->kind == MS_POINTER ? c->root : c->item, s->ptr);
      if (!f || cJSON_IsNull(f)) {
        snprintf(why, whylen, "%s \"%.80s\" %s", kind_name(s), s->ptr, f ? "is null" : "not found");
        return NULL;
      }
      v = cJSON_Duplicate(f, 1);
      break;
    }
    case MS_CONST: v = cJSON_Duplicate(s->konst, 1); break;
    case MS_TOPIC: v = cJSON_CreateString(c->topic); break;
    case MS_TOPIC_LEVEL:
      v = topic_level(c->topic, s->level);
      if (!v) {
        snprintf(why, whylen, "topic \"%.80s\" has no level %d", c->topic, s->level);
        return NULL;
      }
      break;
    case MS_CONCAT: {
      char buf[MAPPING_VALUE_MAX] = "";
      size_t o = 0;
      for (size_t i = 0; i < s->n_parts; i++) {
        cJSON *p = eval(c, &s->parts[i], rule, why, whylen);
        if (!p) return NULL;
        char t[MAPPING_VALUE_MAX];
        int r = scalar_text(p, t, sizeof(t));
        cJSON_Delete(p);
        size_t tl = strlen(t);
        if (r < 0 || o + tl >= sizeof(buf)) {
          snprintf(why, whylen,
                   "concat[%zu] is not a string, number or boolean, or the result is over %d bytes", i,
                   MAPPING_VALUE_MAX);
          return NULL;
        }
        memcpy(buf + o, t, tl + 1);
        o += tl;
      }
      v = cJSON_CreateString(buf);
      break;
    }
    case MS_FIRST_OF:
      for (size_t i = 0; i < s->n_parts && !v; i++) v = eval(c, &s->parts[i], rule, why, whylen);
      if (!v) return NULL; /* why: the last member's */
      break;
    default: return NULL;
  }
  if (!v) {
    snprintf(why, whylen, "out of memory");
    return NULL;
  }
  if (s->split) {
    if (!cJSON_IsString(v)) {
      cJSON_Delete(v);
      snprintf(why, whylen, "split: the value is not a string");
      return NULL;
    }
    const char *str = v->valuestring, *sep = s->split;
    size_t sl = strlen(sep);
    int pieces = 1;
    for (const char *p = strstr(str, sep); p; p = strstr(p + sl, sep)) pieces++;
    int want = s->split_index < 0 ? pieces - 1 : s->split_index;
    if (want >= pieces) {
      cJSON_Delete(v);
      snprintf(why, whylen, "split: \"%.40s\" has %d piece(s), no index %d", sep, pieces, s->split_index);
      return NULL;
    }
    const char *p = str;
    for (int i = 0; i < want; i++) p = strstr(p, sep) + sl;
    const char *end = strstr(p, sep);
    size_t len = end ? (size_t)(end - p) : strlen(p);
    char buf[MAPPING_VALUE_MAX];
    if (len >= sizeof(buf)) len = sizeof(buf) - 1;
    memcpy(buf, p, len);
    buf[len] = '\0';
    cJSON_Delete(v);
    v = cJSON_CreateString(buf);
    if (!v) snprintf(why, whylen, "out of memory");
  }
  return v;
}

/* Apply "as". Returns the converted node (maybe v itself) or NULL with why. */
static cJSON *convert(cJSON *v, map_as as, char *why, size_t whylen) {
  switch (as) {
    case MAP_AS_AUTO: return v;
    case MAP_AS_STRING: {
      char t[MAPPING_VALUE_MAX];
      if (cJSON_IsString(v)) return v;
      if (scalar_text(v, t, sizeof(t)) < 0) break;
      cJSON_Delete(v);
      return cJSON_CreateString(t);
    }
    case MAP_AS_NUMBER:
    case MAP_AS_INTEGER:
    case MAP_AS_EPOCH_S:
    case MAP_AS_EPOCH_MS: {
      double d;
      if (cJSON_IsNumber(v)) d = v->valuedouble;
      else if (cJSON_IsString(v)) {
        char *end = NULL;
        d = strtod(v->valuestring, &end);
        if (!v->valuestring[0] || *end) break;
      } else break;
      if (!isfinite(d)) break;
      cJSON_Delete(v);
      if (as == MAP_AS_NUMBER) return cJSON_CreateNumber(d);
      if (as == MAP_AS_INTEGER) return cJSON_CreateNumber(trunc(d));
      double ms = as == MAP_AS_EPOCH_S ? d * 1000.0 : d;
      if (ms < 0 || ms > 253402300799999.0) { /* beyond 9999-12-31 */
        snprintf(why, whylen, "%g is not an epoch time", d);
        return NULL;
      }
      char ts[TF_RFC3339_LEN];
      tf_format_ms((int64_t)floor(ms), ts);
      return cJSON_CreateString(ts);
    }
  }
  snprintf(why, whylen, "cannot read the value as %s",
           as == MAP_AS_STRING                             ? "a string"
           : as == MAP_AS_EPOCH_S || as == MAP_AS_EPOCH_MS ? "an epoch time"
                                                           : "a number");
  cJSON_Delete(v);
  return NULL;
}

static bool value_in(const cJSON *v, const cJSON *list) {
  for (const cJSON *x = list ? list->child : NULL; x; x = x->next)
    if (v && cJSON_Compare(v, x, 1)) return true;
  return false;
}

static bool uses_item(const map_source *s) {
  if (s->kind == MS_ITEM) return true;
  for (size_t i = 0; i < s->n_parts; i++)
    if (uses_item(&s->parts[i])) return true;
  return false;
}

/* Whether a skip rule of e says to leave this message / item out. Rules that
 * read the item are checked per item; the others once per message. */
static bool skipped(apply_ctx *c, const map_entry *e, bool item_rules) {
  for (size_t i = 0; i < e->n_skips; i++) {
    const map_skip *k = &e->skips[i];
    if (uses_item(&k->src) != item_rules) continue;
    char why[200];
    cJSON *v = eval(c, &k->src, k->rule, why, sizeof(why));
    bool skip =
        (!v && k->missing) || (v && k->in && value_in(v, k->in)) || (k->not_in && !value_in(v, k->not_in));
    cJSON_Delete(v);
    if (skip) return true;
  }
  return false;
}

/* Build and validate one event. 1 = an event appended, 0 = skipped (by an
 * unmapped value), -1 = error (res->error set). */
static int one_event(apply_ctx *c, const map_entry *e, int index) {
  mapping_result *res = c->res;
  cJSON *ev = cJSON_CreateObject(), *attrs = NULL;
  char *text = NULL;
  int ret = -1;
  if (!ev) goto oom;
  for (size_t i = 0; i < e->n_fields; i++) {
    const map_field *f = &e->fields[i];
    char why[200] = "";
    cJSON *v = eval(c, &f->src, f->rule, why, sizeof(why));
    if (!v && f->def) v = cJSON_Duplicate(f->def, 1);
    if (!v) {
      if (f->optional) continue;
      set_error(res, "%s: %s", f->rule, why[0] ? why : "no value");
      goto out;
    }
    if (f->map) {
      char key[MAPPING_VALUE_MAX];
      const cJSON *to =
          scalar_text(v, key, sizeof(key)) == 0 ? cJSON_GetObjectItemCaseSensitive(f->map, key) : NULL;
      if (to) {
        cJSON_Delete(v);
        v = cJSON_Duplicate(to, 1);
        if (!v) goto oom;
      } else if (f->unmapped == MAP_UNMAPPED_SKIP) {
        cJSON_Delete(v);
        ret = 0;
        goto out;
      } else if (f->unmapped == MAP_UNMAPPED_ERROR) {
        char shown[80] = "(not a scalar)";
        if (scalar_text(v, key, sizeof(key)) == 0) snprintf(shown, sizeof(shown), "\"%.60s\"", key);
        cJSON_Delete(v);
        set_error(res, "%s.map: value %s is not in the map", f->rule, shown);
        goto out;
      }
    }
    v = convert(v, f->as, why, sizeof(why));
    if (!v) {
      set_error(res, "%s.as: %s", f->rule, why);
      goto out;
    }
    if (strncmp(f->target, "attributes.", 11) == 0) {
      if (!attrs && !(attrs = cJSON_AddObjectToObject(ev, "attributes"))) {
        cJSON_Delete(v);
        goto oom;
      }
      cJSON_AddItemToObject(attrs, f->target + 11, v);
    } else {
      cJSON_AddItemToObject(ev, f->target, v);
    }
  }
  if (res->n >= MAPPING_MAX_EVENTS) {
    set_error(res, "message yields more than %d events", MAPPING_MAX_EVENTS);
    goto out;
  }
  text = cJSON_PrintUnformatted(ev);
  if (!text) goto oom;
  size_t raw = strlen(text);
  ev_errors *errs = malloc(sizeof(*errs));
  if (!errs) goto oom;
  errs->n = errs->total = 0;
  ev_event out;
  memset(&out, 0, sizeof(out));
  if (ev_validate_inplace(ev, &text, raw, index, 0, &out, errs) < 0) {
    if (errs->n) {
      const char *rule = "the event";
      for (size_t i = 0; i < e->n_fields; i++)
        if (strcmp(e->fields[i].target, errs->items[0].field) == 0) rule = e->fields[i].rule;
      set_error(res, "%s: invalid %s: %s", rule, errs->items[0].field[0] ? errs->items[0].field : "event",
                errs->items[0].message);
    } else {
      set_error(res, "event %d: invalid", index);
    }
    free(errs);
    goto out;
  }
  free(errs);
  ev_event *grown = realloc(res->events, (res->n + 1) * sizeof(*grown));
  if (!grown) {
    ev_event_clear(&out);
    goto oom;
  }
  res->events = grown;
  res->events[res->n++] = out;
  ret = 1;
  goto out;
oom:
  set_error(res, "out of memory while mapping");
out:
  free(text);
  cJSON_Delete(ev);
  return ret;
}

static int apply_mapped(const map_entry *e, const char *topic, const char *payload, size_t len,
                        mapping_result *res) {
  if (len > MAPPING_MAX_PAYLOAD) {
    set_error(res, "payload: %zu bytes, over the %d-byte limit of a mapped payload", len,
              MAPPING_MAX_PAYLOAD);
    return 0;
  }
  char why[200];
  if (ev_json_check_text(payload, len, MAPPING_MAX_DEPTH, why, sizeof(why)) < 0 ||
      !ev_utf8_valid(payload, len)) {
    set_error(res, "payload: not JSON: %s", why[0] ? why : "invalid UTF-8");
    return 0;
  }
  cJSON *root = cJSON_ParseWithLength(payload, len);
  if (!root) {
    set_error(res, "payload: not JSON");
    return 0;
  }
  apply_ctx c = {.topic = topic, .root = root, .item = NULL, .res = res};
  if (skipped(&c, e, false)) {
    res->skipped++;
  } else if (e->iterate) {
    const cJSON *arr = jp_get(root, e->iterate);
    if (!cJSON_IsArray(arr)) {
      set_error(res, "iterate: \"%.80s\" is %s, not an array", e->iterate, arr ? "there" : "not found");
      goto done;
    }
    int i = 0;
    for (const cJSON *it = arr->child; it; it = it->next, i++) {
      c.item = it;
      if (skipped(&c, e, true)) {
        res->skipped++;
        continue;
      }
      int r = one_event(&c, e, i);
      if (r < 0) goto done;
      if (r == 0) res->skipped++;
    }
  } else if (one_event(&c, e, 0) == 0) {
    res->skipped++;
  }
done:
  cJSON_Delete(root);
  if (res->error[0]) {
    for (size_t i = 0; i < res->n; i++) ev_event_clear(&res->events[i]);
    free(res->events);
    res->events = NULL;
    res->n = 0;
  }
  return 0;
}

static int apply_ferry(const char *payload, size_t len, size_t max, mapping_result *res) {
  res->ferry = true;
  if (len > max) {
    set_error(res, "payload: %zu bytes, over the %zu-byte body limit", len, max);
    return 0;
  }
  ev_errors *errs = malloc(sizeof(*errs));
  if (!errs) return -ENOMEM;
  ev_batch b = {0};
  /* an object or an array is JSON; anything else (several lines of objects) NDJSON */
  int r = ev_parse_body(payload, len, EV_BODY_JSON, 0, &b, errs);
  if (r == -EINVAL) {
    ev_batch nb = {0};
    int r2 = ev_parse_body(payload, len, EV_BODY_NDJSON, 0, &nb, errs);
    if (r2 == 0) {
      b = nb;
      r = 0;
    } else if (r2 == -EINVAL) {
      /* report the JSON reading's first error unless NDJSON got further */
      errs->n = errs->total = 0;
      (void)ev_parse_body(payload, len, EV_BODY_JSON, 0, &nb, errs);
    }
  }
  if (r == -ENOMEM) {
    free(errs);
    return -ENOMEM;
  }
  if (r < 0) {
    if (errs->n)
      set_error(res, "invalid_event: event %d: %s: %s", errs->items[0].index,
                errs->items[0].field[0] ? errs->items[0].field : "body", errs->items[0].message);
    else set_error(res, "invalid_event");
  } else {
    res->events = b.items;
    res->n = b.n;
  }
  free(errs);
  return 0;
}

int mapping_apply(const mapping *m, const char *topic, const void *payload, size_t len,
                  size_t max_ferry_bytes, mapping_result *ret) {
  memset(ret, 0, sizeof(*ret));
  const map_entry *e = mapping_entry_for(m, topic);
  if (!e || e->ferry) return apply_ferry(payload, len, max_ferry_bytes, ret);
  return apply_mapped(e, topic, payload, len, ret);
}

void mapping_result_clear(mapping_result *r) {
  if (!r) return;
  for (size_t i = 0; i < r->n; i++) ev_event_clear(&r->events[i]);
  free(r->events);
  memset(r, 0, sizeof(*r));
}

cJSON *mapping_event_json(const ev_event *e) {
  cJSON *o = cJSON_ParseWithLength(e->json, e->json_len);
  if (o && e->event_id && !cJSON_GetObjectItemCaseSensitive(o, "event_id"))
    cJSON_AddStringToObject(o, "event_id", e->event_id);
  return o;
}
