/* event: turns untrusted ingest bodies into validated events (SPEC §1, §4).
 *
 * cJSON builds the trees, but it is lenient where the contract is strict, so
 * every event passes four gates:
 *   1. ev_utf8_valid over the raw bytes (cJSON does not check UTF-8);
 *   2. a lexical scan of the event's raw text (scan_json) that refuses what
 *      cJSON lets slide: leading zeros and "1." in numbers, raw control bytes,
 *      non-JSON whitespace, "\u" without 4 hex digits (cJSON reads U+0000),
 *      and — with the field named — "\u0000" (cJSON would silently cut the
 *      string there), lone surrogate escapes and nesting deeper than
 *      EV_MAX_DEPTH (before cJSON recurses into it);
 *   3. cJSON_ParseWithLengthOpts on exactly the event's bytes, then the
 *      duplicate-key walk behind ev_json_check_tree (sorted keys for big
 *      objects, so it stays O(n log n));
 *   4. check_event: the field rules, collecting every error.
 * UTF-8 lives in event_text.c, the scan and the duplicate-key walk in
 * event_json.c, the bodies in event_body.c; this file keeps the field rules
 * and the normal form.
 * An array body is never parsed as a whole: split_next finds each element's
 * raw span, which gives the per-event size "as received" and lets one bad
 * element be reported with its index while the others are still checked.
 *
 * The normal form (ev_event.json) is the parsed tree, edited in place
 * (top-level nulls, seq and ingested_at removed, timestamp rewritten, count defaulted)
 * and printed once by cJSON. On state events `count` is ignored: it is not
 * validated and is passed through as received, like an unknown field. */
#include "event.h"
#include "event_int.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_arena.h"
#include "timefmt.h"

#define EV_MAX_SEQ 9007199254740991LL /* 2^53 - 1: exact in a JSON number */

static const char *const type_names[] = {"working", "idle", "absent", "product_count"};

const char *ev_type_name(ev_type t) {
  return (unsigned)t < sizeof type_names / sizeof *type_names ? type_names[t] : "unknown";
}

int ev_type_parse(const char *s, ev_type *ret) {
  if (!s) return -EINVAL;
  for (size_t i = 0; i < sizeof type_names / sizeof *type_names; i++)
    if (strcmp(s, type_names[i]) == 0) {
      *ret = (ev_type)i;
      return 0;
    }
  return -EINVAL;
}

/* ---- field rules ------------------------------------------------------------- */

const char *ev__json_type(const cJSON *v) {
  if (cJSON_IsNull(v)) return "null";
  if (cJSON_IsBool(v)) return "a boolean";
  if (cJSON_IsNumber(v)) return "a number";
  if (cJSON_IsString(v)) return "a string";
  if (cJSON_IsArray(v)) return "an array";
  if (cJSON_IsObject(v)) return "an object";
  return "an invalid value";
}

/* A number that is whole and within [lo, hi]; 1.0 counts, 1.5 and 1e300 do not. */
static bool get_int(const cJSON *v, int64_t lo, int64_t hi, int64_t *ret) {
  if (!cJSON_IsNumber(v)) return false;
  double d = v->valuedouble;
  if (!(d >= (double)lo && d <= (double)hi)) return false; /* NaN fails too */
  int64_t i = (int64_t)d;
  if ((double)i != d) return false;
  *ret = i;
  return true;
}

/* Unicode general category Cf (format characters), as listed in the brief of
 * SPEC §1's "id": invisible characters that would make two ids look equal. */
static bool is_format_cp(uint32_t cp) {
  static const uint32_t ranges[][2] = {
      {0x00AD, 0x00AD},   {0x0600, 0x0605},   {0x061C, 0x061C},   {0x06DD, 0x06DD},   {0x070F, 0x070F},
      {0x08E2, 0x08E2},   {0x180E, 0x180E},   {0x200B, 0x200F},   {0x202A, 0x202E},   {0x2060, 0x2064},
      {0x2066, 0x206F},   {0xFEFF, 0xFEFF},   {0xFFF9, 0xFFFB},   {0x110BD, 0x110BD}, {0x110CD, 0x110CD},
      {0x13430, 0x1343F}, {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A}, {0xE0001, 0xE0001}, {0xE0020, 0xE007F},
  };
  if (cp < 0xAD) return false;
  for (size_t i = 0; i < sizeof ranges / sizeof *ranges; i++) {
    if (cp < ranges[i][0]) return false;
    if (cp <= ranges[i][1]) return true;
  }
  return false;
}

/* The slot of a known top-level field named k, or NULL: dispatched on the
 * first byte so each key costs at most two comparisons. */
static const cJSON **field_slot(fields *f, const char *k) {
#define IS(name) (strcmp(k + 1, (name) + 1) == 0)
  switch (k[0]) {
    case 'e': return IS("event_id") ? &f->event_id : IS("event_type") ? &f->event_type : NULL;
    case 't': return IS("timestamp") ? &f->timestamp : NULL;
    case 'w': return IS("worker_id") ? &f->worker_id : IS("workstation_id") ? &f->workstation_id : NULL;
    case 'c':
      return IS("count")        ? &f->count
             : IS("confidence") ? &f->confidence
             : IS("camera_id")  ? &f->camera_id
                                : NULL;
    case 'm': return IS("model_version") ? &f->model_version : NULL;
    case 'a': return IS("attributes") ? &f->attributes : NULL;
    case 's': return IS("seq") ? &f->seq : NULL;
    case 'i': return IS("ingested_at") ? &f->ingested_at : NULL;
    default: return NULL;
  }
#undef IS
}

/* First occurrence of each known top-level field (duplicates are reported
 * separately). */
static void collect_fields(const cJSON *obj, fields *f) {
  memset(f, 0, sizeof *f);
  for (const cJSON *c = obj->child; c; c = c->next) {
    if (!c->string) continue;
    const cJSON **slot = field_slot(f, c->string);
    if (slot && !*slot) *slot = c;
  }
}

void ev__checked_done(checked *ck) {
  cJSON_free(ck->attributes);
  ck->attributes = NULL;
}

/* Present and not null. */
static bool given(const cJSON *v) { return v && !cJSON_IsNull(v); }

static void require(ev_errors *errs, int index, const char *name, const cJSON *v) {
  if (!v) ev_errors_add(errs, index, name, "%s is required", name);
  else ev_errors_add(errs, index, name, "%s is required; null is not a value for it", name);
}

/* SPEC §1 "id": 1–64 bytes of UTF-8 without control or format characters. */
static void check_id(ev_errors *errs, int index, const char *name, const cJSON *v) {
  if (!cJSON_IsString(v)) {
    ev_errors_add(errs, index, name, "%s must be a string, not %s", name, ev__json_type(v));
    return;
  }
  const unsigned char *s = (const unsigned char *)v->valuestring;
  size_t len = strlen(v->valuestring);
  if (len < 1 || len > EV_REF_MAX) {
    ev_errors_add(errs, index, name, "%s must be 1 to %d bytes of UTF-8, not %zu", name, EV_REF_MAX, len);
    return;
  }
  for (size_t i = 0; i < len;) {
    uint32_t cp;
    size_t l = ev__utf8_decode(s + i, len - i, &cp);
    if (!l) {
      ev_errors_add(errs, index, name, "%s is not valid UTF-8", name);
      return;
    }
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
      ev_errors_add(errs, index, name, "%s must not contain control characters (U+%04X at byte %zu)", name,
                    (unsigned)cp, i);
      return;
    }
    if (is_format_cp(cp)) {
      ev_errors_add(errs, index, name, "%s must not contain invisible format characters (U+%04X at byte %zu)",
                    name, (unsigned)cp, i);
      return;
    }
    i += l;
  }
}

/* Optional string of at most 64 characters (code points). */
static void check_short_string(ev_errors *errs, int index, const char *name, const cJSON *v) {
  if (!given(v)) return;
  if (!cJSON_IsString(v)) {
    ev_errors_add(errs, index, name, "%s must be a string, not %s", name, ev__json_type(v));
    return;
  }
  size_t chars = 0;
  for (const unsigned char *s = (const unsigned char *)v->valuestring; *s; s++) chars += (*s & 0xC0) != 0x80;
  if (chars > 64) ev_errors_add(errs, index, name, "%s must be at most 64 characters, not %zu", name, chars);
}

static bool event_id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '.' || c == '_' ||
         c == ':' || c == '-';
}

static void check_event_id(ev_errors *errs, int index, unsigned flags, const cJSON *v) {
  const char *name = "event_id";
  if (!given(v)) {
    if (flags & EV_FROM_AGENT) require(errs, index, name, v);
    return;
  }
  if (!cJSON_IsString(v)) {
    ev_errors_add(errs, index, name, "event_id must be a string, not %s", ev__json_type(v));
    return;
  }
  const char *s = v->valuestring;
  size_t len = strlen(s);
  if (len < 1 || len > EV_ID_MAX) {
    ev_errors_add(errs, index, name, "event_id must be 1 to %d characters, not %zu", EV_ID_MAX, len);
    return;
  }
  for (size_t i = 0; i < len; i++)
    if (!event_id_char(s[i])) {
      ev_errors_add(errs, index, name,
                    "event_id may only contain A-Z a-z 0-9 . _ : - (bad character at byte %zu)", i);
      return;
    }
  if (!(flags & EV_FROM_AGENT) && strncmp(s, "ferry:", 6) == 0)
    ev_errors_add(errs, index, name,
                  "event_id must not start with \"ferry:\" (reserved for ids the agent assigns)");
}

/* Parse an RFC 3339 field; false (and an error) when it is not one. */
static bool check_time(ev_errors *errs, int index, const char *name, const cJSON *v, int64_t *ret_ms) {
  if (!given(v)) {
    require(errs, index, name, v);
    return false;
  }
  if (!cJSON_IsString(v)) {
    ev_errors_add(errs, index, name, "%s must be an RFC 3339 string, not %s", name, ev__json_type(v));
    return false;
  }
  if (tf_parse_rfc3339(v->valuestring, strlen(v->valuestring), ret_ms) < 0) {
    ev_errors_add(errs, index, name,
                  "%s must be an RFC 3339 date-time with Z or an offset, such as "
                  "2026-03-01T08:00:00.000Z",
                  name);
    return false;
  }
  return true;
}

/* Every rule of SPEC §1 on one event object. Returns the number of errors
 * it added (all of them, not just the first). */
/* cn, when not NULL and ok, says the object's text is its own print: the
 * serialized size of "attributes" is then the length of its text; its
 * keys_distinct spares the search for a duplicated top-level key. */
size_t ev__check_event_cn(const cJSON *obj, size_t raw_len, int index, unsigned flags, ev_errors *errs,
                          checked *ck, const scan_canon *cn) {
  size_t before = errs->total;
  memset(ck, 0, sizeof *ck);
  if (!cJSON_IsObject(obj)) {
    ev_errors_add(errs, index, "", "an event must be a JSON object, not %s",
                  obj ? ev__json_type(obj) : "nothing");
    return errs->total - before;
  }
  if (raw_len > EV_MAX_BYTES)
    ev_errors_add(errs, index, "", "the event is %zu bytes; the limit is %d bytes as received", raw_len,
                  EV_MAX_BYTES);

  /* Duplicate keys and depth, attributed to the top-level field they are in. */
  const char *dup = NULL;
  if (cn && cn->keys_distinct) {
    /* the scan saw every top-level key and no two alike */
  } else if (ev__find_dup_key(obj, &dup) < 0)
    ev_errors_add(errs, index, "", "out of memory while checking keys");
  else if (dup) ev_errors_add(errs, index, dup, "duplicate key \"%.64s\"", dup);
  for (const cJSON *c = obj->child; c; c = c->next) {
    if (!c->child) continue;
    int r = ev__tree_walk(c, 2, EV_MAX_DEPTH, &dup);
    if (r == TREE_DUP)
      ev_errors_add(errs, index, c->string, "%.64s contains duplicate key \"%.64s\"", c->string, dup);
    else if (r == TREE_DEEP)
      ev_errors_add(errs, index, c->string, "nesting deeper than %d levels (the event object is level 1)",
                    EV_MAX_DEPTH);
    else if (r == TREE_NOMEM) ev_errors_add(errs, index, c->string, "out of memory while checking keys");
  }

  fields f;
  collect_fields(obj, &f);
  ck->f = f;

  check_event_id(errs, index, flags, f.event_id);

  if (check_time(errs, index, "timestamp", f.timestamp, &ck->ts_ms) && ck->ts_ms < EV_MIN_TS_MS) {
    ev_errors_add(errs, index, "timestamp", "timestamp must not be before 2000-01-01T00:00:00Z");
  }

  bool type_ok = false;
  if (!given(f.event_type)) require(errs, index, "event_type", f.event_type);
  else if (!cJSON_IsString(f.event_type) || ev_type_parse(f.event_type->valuestring, &ck->type) < 0)
    ev_errors_add(errs, index, "event_type",
                  "event_type must be one of \"working\", \"idle\", \"absent\", "
                  "\"product_count\" (case-sensitive)");
  else type_ok = true;

  if (given(f.worker_id)) check_id(errs, index, "worker_id", f.worker_id);
  else if (type_ok && ck->type != EV_PRODUCT_COUNT)
    ev_errors_add(errs, index, "worker_id", "worker_id is required for event_type \"%s\"%s",
                  ev_type_name(ck->type), f.worker_id ? "; null is not a value for it" : "");

  if (given(f.workstation_id)) check_id(errs, index, "workstation_id", f.workstation_id);
  else require(errs, index, "workstation_id", f.workstation_id);

  if (type_ok && ck->type == EV_PRODUCT_COUNT) {
    ck->count = 1;
    if (given(f.count) && !get_int(f.count, 1, 1000000, &ck->count))
      ev_errors_add(errs, index, "count", "count must be an integer from 1 to 1000000%s%s",
                    cJSON_IsNumber(f.count) ? "" : ", not ",
                    cJSON_IsNumber(f.count) ? "" : ev__json_type(f.count));
  }

  if (given(f.confidence) &&
      !(cJSON_IsNumber(f.confidence) && f.confidence->valuedouble >= 0 && f.confidence->valuedouble <= 1))
    ev_errors_add(errs, index, "confidence", "confidence must be a number from 0 to 1");

  check_short_string(errs, index, "camera_id", f.camera_id);
  check_short_string(errs, index, "model_version", f.model_version);

  if (given(f.attributes)) {
    if (!cJSON_IsObject(f.attributes)) {
      ev_errors_add(errs, index, "attributes", "attributes must be an object, not %s",
                    ev__json_type(f.attributes));
    } else {
      /* Printed once: the text is kept and reused verbatim in the normal
       * form (number printing is most of what cJSON spends on an event).
       * Text that is its own print needs no print to be measured. */
      size_t alen = 0;
      if (cn && cn->ok && cn->attr_seen) alen = cn->attr_len;
      else if (!(ck->attributes = cJSON_PrintUnformatted(f.attributes)))
        ev_errors_add(errs, index, "attributes", "out of memory while serializing attributes");
      else alen = strlen(ck->attributes);
      if (alen > EV_MAX_ATTR_BYTES)
        ev_errors_add(errs, index, "attributes", "attributes must be at most %d bytes serialized, not %zu",
                      EV_MAX_ATTR_BYTES, alen);
    }
  }

  if (flags & EV_FROM_AGENT) {
    if (!given(f.seq)) require(errs, index, "seq", f.seq);
    else if (!get_int(f.seq, 1, EV_MAX_SEQ, &ck->seq))
      ev_errors_add(errs, index, "seq", "seq must be an integer >= 1");
    check_time(errs, index, "ingested_at", f.ingested_at, &ck->ingested_at_ms);
  } else {
    if (f.seq) ev_errors_add(errs, index, "seq", "seq is reserved: the agent adds it");
    if (f.ingested_at)
      ev_errors_add(errs, index, "ingested_at", "ingested_at is reserved: the agent adds it");
  }
  return errs->total - before;
}

static size_t check_event(const cJSON *obj, size_t raw_len, int index, unsigned flags, ev_errors *errs,
                          checked *ck) {
  return ev__check_event_cn(obj, raw_len, index, flags, errs, ck, NULL);
}

/* ---- normal form ------------------------------------------------------------- */

static char *dup_str(const char *s) {
  size_t l = strlen(s) + 1;
  char *d = malloc(l);
  if (d) memcpy(d, s, l);
  return d;
}

/* Turn an object that passed check_event into its normal form, editing it in
 * place, and fill *ret. Returns 0 or -ENOMEM (ret untouched). */
int ev__build_event(cJSON *obj, const checked *ck, size_t raw_len, unsigned flags, ev_event *ret) {
  for (cJSON *c = obj->child, *next; c; c = next) {
    next = c->next;
    bool agent_field = (flags & EV_FROM_AGENT) && c->string &&
                       (strcmp(c->string, "seq") == 0 || strcmp(c->string, "ingested_at") == 0);
    if (cJSON_IsNull(c) || agent_field) cJSON_Delete(cJSON_DetachItemViaPointer(obj, c));
  }
  fields f;
  collect_fields(obj, &f);

  if (f.attributes && ck->attributes) {
    /* A raw item prints as the text already made by check_event. */
    cJSON *raw = cJSON_CreateRaw(ck->attributes), *old = (cJSON *)f.attributes;
    if (!raw) return -ENOMEM;
    raw->string = old->string; /* ReplaceItemViaPointer does not move the key */
    raw->type |= old->type & cJSON_StringIsConst;
    old->string = NULL;
    cJSON_ReplaceItemViaPointer(obj, old, raw);
    f.attributes = raw;
  }
  char ts[TF_RFC3339_LEN];
  tf_format_ms(ck->ts_ms, ts);
  if (!cJSON_SetValuestring((cJSON *)f.timestamp, ts)) return -ENOMEM;
  if (ck->type == EV_PRODUCT_COUNT) {
    if (f.count) cJSON_SetNumberValue((cJSON *)f.count, (double)ck->count);
    else if (!cJSON_AddNumberToObject(obj, "count", (double)ck->count)) return -ENOMEM;
  }

  ev_event e = {0};
  e.ts_ms = ck->ts_ms;
  e.type = ck->type;
  e.count = ck->type == EV_PRODUCT_COUNT ? ck->count : 0;
  if (flags & EV_FROM_AGENT) {
    e.seq = ck->seq;
    e.ingested_at_ms = ck->ingested_at_ms;
  }
  if (f.event_id && !(e.event_id = dup_str(f.event_id->valuestring))) goto oom;
  if (f.worker_id && !(e.worker_id = dup_str(f.worker_id->valuestring))) goto oom;
  if (!(e.workstation_id = dup_str(f.workstation_id->valuestring))) goto oom;
  /* The normal form is rarely longer than the text received; one buffer
   * of about that size usually suffices. It outlives the tree: malloc'd
   * even while the tree is in a JSON arena. */
  ja_pause();
  e.json = cJSON_PrintBuffered(obj, (int)raw_len + 64, 0);
  ja_resume();
  if (!e.json) goto oom;
  e.json_len = strlen(e.json);
  *ret = e;
  return 0;
oom:
  ev_event_clear(&e);
  return -ENOMEM;
}

int ev_validate(const cJSON *obj, size_t raw_len, int index, unsigned flags, ev_event *ret, ev_errors *errs) {
  ev_errors scratch; /* items left uninitialised: only n and total are read */
  if (!errs) {
    scratch.n = scratch.total = 0;
    errs = &scratch;
  }
  checked ck;
  int r = 0;
  if (check_event(obj, raw_len, index, flags, errs, &ck)) {
    r = -EINVAL;
  } else if (ret) {
    cJSON *copy = cJSON_Duplicate(obj, 1);
    r = copy ? ev__build_event(copy, &ck, raw_len, flags, ret) : -ENOMEM;
    cJSON_Delete(copy);
  }
  ev__checked_done(&ck);
  return r;
}

/* Number text as cJSON prints it: digits, sign, point, exponent. */
static bool num_char(char c) {
  return is_digit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/* The normal form cut out of `text`, cJSON's unformatted print of obj, when
 * obj needs no edit but dropping its agent fields: no top-level null, the
 * timestamp already in normal spelling, a product_count's count present and,
 * with EV_FROM_AGENT, "seq" and "ingested_at" as the last two members (how
 * agents send them). Member texts are concatenated in order in cJSON's print,
 * so the normal form is then text up to the comma before "seq", closed. The
 * tail is compared byte for byte, not assumed. Returns the length of the
 * normal form (text edited in place), or 0: build it the general way. */
static size_t normal_in_text(const cJSON *obj, const checked *ck, unsigned flags, char *text, size_t len) {
  const fields f = ck->f;
  const cJSON *last = NULL;
  for (const cJSON *c = obj->child; c; c = c->next) {
    if (cJSON_IsNull(c)) return 0;
    last = c;
  }
  if (ck->type == EV_PRODUCT_COUNT && !f.count) return 0;
  char ts[TF_RFC3339_LEN];
  tf_format_ms(ck->ts_ms, ts);
  if (strcmp(f.timestamp->valuestring, ts) != 0) return 0;
  if (!(flags & EV_FROM_AGENT)) return len;
  if (!last || last != f.ingested_at || !last->prev || last->prev != f.seq || f.seq == obj->child) return 0;
  /* ,"seq":N,"ingested_at":"S"} */
  const char *s = f.ingested_at->valuestring;
  size_t slen = strlen(s), tail = sizeof(",\"ingested_at\":\"") - 1 + slen + 2;
  if (len < tail + 16) return 0;
  char *t = text + len - tail;
  if (memcmp(t, ",\"ingested_at\":\"", 16) != 0 || memcmp(t + 16, s, slen) != 0 ||
      memcmp(t + 16 + slen, "\"}", 2) != 0)
    return 0;
  while (t > text && num_char(t[-1])) t--;
  static const char key[] = ",\"seq\":";
  size_t klen = sizeof(key) - 1;
  if ((size_t)(t - text) < klen + 1 || memcmp(t - klen, key, klen) != 0) return 0;
  t -= klen;
  *t = '}';
  t[1] = '\0';
  return (size_t)(t + 1 - text);
}

int ev_validate_inplace(cJSON *obj, char **text, size_t raw_len, int index, unsigned flags, ev_event *ret,
                        ev_errors *errs) {
  checked ck;
  if (check_event(obj, raw_len, index, flags, errs, &ck)) {
    ev__checked_done(&ck);
    return -EINVAL;
  }
  size_t n = text && *text ? normal_in_text(obj, &ck, flags, *text, strlen(*text)) : 0;
  int r;
  if (!n) {
    r = ev__build_event(obj, &ck, raw_len, flags, ret);
  } else {
    const fields f = ck.f;
    ev_event e = {0};
    e.ts_ms = ck.ts_ms;
    e.type = ck.type;
    e.count = ck.type == EV_PRODUCT_COUNT ? ck.count : 0;
    if (flags & EV_FROM_AGENT) {
      e.seq = ck.seq;
      e.ingested_at_ms = ck.ingested_at_ms;
    }
    r = 0;
    if ((f.event_id && !(e.event_id = dup_str(f.event_id->valuestring))) ||
        (f.worker_id && !(e.worker_id = dup_str(f.worker_id->valuestring))) ||
        !(e.workstation_id = dup_str(f.workstation_id->valuestring))) {
      ev_event_clear(&e);
      r = -ENOMEM;
    } else {
      e.json = *text;
      e.json_len = n;
      *text = NULL;
      *ret = e;
    }
  }
  ev__checked_done(&ck);
  return r;
}

void ev_event_clear(ev_event *e) {
  if (!e) return;
  free(e->event_id);
  free(e->worker_id);
  free(e->workstation_id);
  cJSON_free(e->json);
  memset(e, 0, sizeof *e);
}
