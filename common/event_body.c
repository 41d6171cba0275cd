/* event_body: whole ingest bodies — one object, an array (split into its
 * elements' raw text without parsing it whole) or NDJSON lines — run through
 * the per-event gates, and the batch they fill: its events' strings share one
 * block per request. */
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

/* ---- array splitting --------------------------------------------------------- */

/* Walks the text of a JSON array (s[0] == '[', s[n-1] the last non-blank
 * byte of the body) one top-level element at a time. ev_parse_body finds an
 * element's end tracking only string, escape and bracket state, and the
 * element's text is checked by ev__scan_event and cJSON afterwards.
 * ev_parse_body_raw (the agent's ingest) has the strict scan find the end in
 * the same pass (ev__scan_element) and goes the first way only for an
 * element that scan does not pass, so messages stay those of the first way. */
typedef struct splitter {
  const char *s;
  size_t n, p, count;
  bool done;
  size_t base; /* offset of s[0] in the body, for the scan's messages */
} splitter;

/* Up to an element's first byte: 1 (it is at sp->p), 0 (the array ended
 * well) or -1 (malformed near *ret_err). */
static int split_open(splitter *sp, size_t *ret_err, const char **ret_why) {
  const char *s = sp->s;
  size_t n = sp->n, p = sp->p;
  if (sp->done) return 0;
  while (p < n && is_ws(s[p])) p++;
  sp->p = p;
  if (p >= n) {
    *ret_err = n, *ret_why = "the array is not closed";
    return -1;
  }
  if (s[p] == ']') {
    if (sp->count > 0) {
      *ret_err = p, *ret_why = "a ',' is followed by ']'";
      return -1;
    }
    sp->done = true;
    if (p + 1 != n) {
      *ret_err = p + 1, *ret_why = "data after the array";
      return -1;
    }
    return 0;
  }
  return 1;
}

/* Where the element starting at `start` ends: the offset of the ',', ']' or
 * '}' outside a string at depth 0, or n. */
static size_t split_end(const splitter *sp, size_t start) {
  const char *s = sp->s;
  size_t n = sp->n, p = start, depth = 0;
  for (; p < n; p++) {
    char c = s[p];
    if (c == '"') {
      for (p++; p < n; p++) {
        while (p < n && s[p] != '"' && s[p] != '\\') p++;
        if (p >= n || s[p] == '"') break;
        p++; /* the escaped byte */
      }
      if (p >= n) break;
    } else if (c == '{' || c == '[') {
      depth++;
    } else if (c == '}' || c == ']') {
      if (depth == 0) break;
      depth--;
    } else if (c == ',' && depth == 0) {
      break;
    }
  }
  return p < n ? p : n;
}

/* The element from `start` ended at p (split_end): 1 with it at
 * [*ret_start, *ret_start + *ret_len), or -1 malformed near *ret_err. */
static int split_close(splitter *sp, size_t start, size_t p, size_t *ret_start, size_t *ret_len,
                       size_t *ret_err, const char **ret_why) {
  const char *s = sp->s;
  size_t n = sp->n;
  if (p >= n) {
    *ret_err = n, *ret_why = "the array is not closed";
    return -1;
  }
  size_t end = p;
  while (end > start && is_ws(s[end - 1])) end--;
  if (end == start || s[p] == '}') {
    *ret_err = p, *ret_why = end == start ? "an array element is missing" : "unexpected '}'";
    return -1;
  }
  if (s[p] == ']') {
    sp->done = true;
    if (p + 1 != n) {
      *ret_err = p + 1, *ret_why = "data after the array";
      return -1;
    }
  }
  sp->p = p + 1;
  sp->count++;
  *ret_start = start;
  *ret_len = end - start;
  return 1;
}

/* 1: element at [*ret_start, *ret_start + *ret_len); 0: no more; -1: the
 * array itself is malformed near *ret_err. With cn (ev_parse_body_raw),
 * *ret_scanned tells whether the element passed the strict scan on the way,
 * cn then holding what it learnt; when it did not, its end was found
 * without the scan and the element is scanned apart. */
static int split_next(splitter *sp, size_t *ret_start, size_t *ret_len, size_t *ret_err, const char **ret_why,
                      scan_canon *cn, bool *ret_scanned) {
  int r = split_open(sp, ret_err, ret_why);
  if (r <= 0) return r;
  size_t start = sp->p, stop;
  *ret_scanned = cn && ev__scan_element(sp->s + start, sp->n - start, sp->base + start, &stop, cn) == 0;
  stop = *ret_scanned ? start + stop : split_end(sp, start);
  return split_close(sp, start, stop, ret_start, ret_len, ret_err, ret_why);
}

/* A copy of s[0..n) and a NUL in the batch's block, or malloc'd when the
 * block is full (ev_batch_clear tells them apart). Never from the cJSON
 * hooks: it outlives the event's arena. */
static char *block_dup(ev_batch *b, const char *s, size_t n) {
  char *d;
  if (b->block && b->block_cap - b->block_used > n) {
    d = b->block + b->block_used;
    b->block_used += n + 1;
  } else if (!(d = malloc(n + 1))) {
    return NULL;
  }
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

static void block_free(const ev_batch *b, void *p) {
  char *c = p;
  if (!(b->block && c >= b->block && c < b->block + b->block_cap)) cJSON_free(p);
}

void ev_batch_clear(ev_batch *b) {
  if (!b) return;
  for (size_t i = 0; i < b->n; i++) {
    ev_event *e = &b->items[i];
    if (!b->block) {
      ev_event_clear(e);
      continue;
    }
    block_free(b, e->event_id);
    block_free(b, e->worker_id);
    block_free(b, e->workstation_id);
    block_free(b, e->json);
  }
  free(b->items);
  free(b->block);
  memset(b, 0, sizeof *b);
}

/* ---- bodies ------------------------------------------------------------------ */

typedef struct body_ctx {
  const char *body;
  unsigned flags;
  bool keep_raw; /* ev_parse_body_raw: received text as the normal form where it is one */
  ev_errors *errs;
  ev_batch out;
  size_t cap;
  int nomem;
} body_ctx;

/* The event whose text s[0..len) is its own print (scan_canon.ok) and that
 * needs no edit for its normal form: no EV_FROM_AGENT fields to drop, the
 * timestamp already in normal spelling, a product_count's count present
 * (nulls were ruled out by the scan). Then the normal form is the text as
 * received and nothing is printed. Returns 0 (ret filled), 1 (not such an
 * event: build it the general way) or -ENOMEM. */
static int raw_event(body_ctx *cx, const cJSON *obj, const checked *ck, const scan_canon *cn, const char *s,
                     size_t len, ev_event *ret) {
  unsigned flags = cx->flags;
  ev_batch *b = &cx->out;
  const fields f = ck->f;
  if (flags & EV_FROM_AGENT) return 1;
  if (ck->type == EV_PRODUCT_COUNT && !f.count) return 1;
  if (f.attributes && !cn->attr_seen) return 1;
  if (len < 2 || s[0] != '{' || s[len - 1] != '}' || !cJSON_IsObject(obj)) return 1;
  char ts[TF_RFC3339_LEN];
  tf_format_ms(ck->ts_ms, ts);
  if (strcmp(f.timestamp->valuestring, ts) != 0) return 1;
  ev_event e = {0};
  e.ts_ms = ck->ts_ms;
  e.type = ck->type;
  e.count = ck->type == EV_PRODUCT_COUNT ? ck->count : 0;
  if ((f.event_id &&
       !(e.event_id = block_dup(b, f.event_id->valuestring, strlen(f.event_id->valuestring)))) ||
      (f.worker_id &&
       !(e.worker_id = block_dup(b, f.worker_id->valuestring, strlen(f.worker_id->valuestring)))) ||
      !(e.workstation_id =
            block_dup(b, f.workstation_id->valuestring, strlen(f.workstation_id->valuestring))) ||
      !(e.json = block_dup(b, s, len))) {
    block_free(b, e.event_id);
    block_free(b, e.worker_id);
    block_free(b, e.workstation_id);
    return -ENOMEM;
  }
  e.json_len = len;
  *ret = e;
  return 0;
}

/* One event's raw text body[start .. start+len): size, scan, parse, check,
 * and (while the request is still clean) build. Its tree lives in this
 * thread's JSON arena, reset when the event is done: what the event keeps
 * is copied out with malloc or printed while the arena is paused. */
static void one_event_in(body_ctx *cx, size_t start, size_t len, int index, int body_index,
                         const scan_canon *scanned) {
  const char *s = cx->body + start;
  if (len > EV_MAX_BYTES) {
    ev_errors_add(cx->errs, index, "", "the event is %zu bytes; the limit is %d bytes as received", len,
                  EV_MAX_BYTES);
    return;
  }
  scan_canon cn, *cnp = cx->keep_raw ? &cn : NULL;
  if (scanned) cn = *scanned; /* the splitter's pass scanned it: clean */
  else if (ev__scan_event(s, len, index, body_index, start, cx->errs, cnp) < 0) return;
  const char *end = NULL;
  cJSON *obj = cJSON_ParseWithLengthOpts(s, len, &end, 0);
  if (!obj || end != s + len) {
    size_t at = end && end >= s && end <= s + len ? (size_t)(end - s) : 0;
    ev_errors_add(cx->errs, body_index, "", "malformed JSON at byte %zu", start + at);
    cJSON_Delete(obj);
    return;
  }
  checked ck;
  if (ev__check_event_cn(obj, len, index, cx->flags, cx->errs, &ck, cnp) == 0 && cx->errs->total == 0 &&
      !cx->nomem) {
    /* All or nothing: once anything failed, no normal form is worth building. */
    if (cx->out.n == cx->cap) {
      size_t ncap = cx->cap ? cx->cap * 2 : 16;
      ev_event *items = realloc(cx->out.items, ncap * sizeof *items);
      if (!items) {
        cx->nomem = 1;
        ev__checked_done(&ck);
        cJSON_Delete(obj);
        return;
      }
      cx->out.items = items;
      cx->cap = ncap;
    }
    ev_event *e = &cx->out.items[cx->out.n];
    int br = cnp && cn.ok ? raw_event(cx, obj, &ck, &cn, s, len, e) : 1;
    if (br > 0) br = ev__build_event(obj, &ck, len, cx->flags, e);
    if (br < 0) cx->nomem = 1;
    else cx->out.n++;
  }
  ev__checked_done(&ck);
  /* A tree wholly in the arena goes with its reset: walking it to free
   * nothing cost about 3 % of the parse. */
  if (!ja_whole()) cJSON_Delete(obj);
}

/* scanned: what the strict scan learnt of the text when it ran already, else
 * NULL (it runs here). */
static void one_event(body_ctx *cx, size_t start, size_t len, int index, int body_index,
                      const scan_canon *scanned) {
  ja_enter();
  one_event_in(cx, start, len, index, body_index, scanned);
  ja_leave();
}

static void parse_json_body(body_ctx *cx, size_t len) {
  const char *b = cx->body;
  size_t bad = ev__utf8_first_bad(b, len);
  if (bad != len) {
    ev_errors_add(cx->errs, -1, "", "the body is not valid UTF-8 (byte %zu)", bad);
    return;
  }
  size_t a = 0, z = len;
  while (a < z && is_ws(b[a])) a++;
  while (z > a && is_ws(b[z - 1])) z--;
  if (a == z) {
    ev_errors_add(cx->errs, -1, "", "the body is empty: send an event object or an array of them");
    return;
  }
  if (b[a] == '{') {
    one_event(cx, a, z - a, 0, -1, NULL);
    return;
  }
  if (b[a] != '[') {
    if (ev__scan_event(b + a, z - a, -1, -1, a, cx->errs, NULL) < 0) return;
    cJSON *v = cJSON_ParseWithLengthOpts(b + a, z - a, NULL, 0);
    if (v)
      ev_errors_add(cx->errs, -1, "", "the body must be an event object or an array of them, not %s",
                    ev__json_type(v));
    else ev_errors_add(cx->errs, -1, "", "malformed JSON at byte %zu", a);
    cJSON_Delete(v);
    return;
  }
  splitter sp = {.s = b + a, .n = z - a, .p = 1, .base = a};
  for (int i = 0;; i++) {
    size_t es, el, err;
    const char *why = "";
    scan_canon cn;
    bool scanned = false;
    int r = split_next(&sp, &es, &el, &err, &why, cx->keep_raw ? &cn : NULL, &scanned);
    if (r == 0) break;
    if (r < 0) {
      ev_errors_add(cx->errs, -1, "", "malformed JSON: %s (byte %zu)", why, a + err);
      break;
    }
    if (i == INT_MAX) break; /* unreachable for any body that fits in memory */
    one_event(cx, a + es, el, i, i, scanned ? &cn : NULL);
  }
}

static void parse_ndjson_body(body_ctx *cx, size_t len) {
  const char *b = cx->body;
  size_t p = 0;
  for (int line = 0; p < len && line >= 0; line++) {
    const char *nl = memchr(b + p, '\n', len - p);
    size_t end = nl ? (size_t)(nl - b) : len;
    size_t a = p, z = end;
    while (a < z && is_ws(b[a])) a++;
    while (z > a && is_ws(b[z - 1])) z--; /* also drops the '\r' of "\r\n" */
    p = end + 1;
    if (a == z) continue; /* blank line: skipped, still counted */
    size_t bad = ev__utf8_first_bad(b + a, z - a);
    if (bad != z - a) {
      ev_errors_add(cx->errs, line, "", "line %d is not valid UTF-8 (byte %zu)", line, a + bad);
      continue;
    }
    if (b[a] != '{') {
      if (ev__scan_event(b + a, z - a, line, line, a, cx->errs, NULL) < 0) continue;
      cJSON *v = cJSON_ParseWithLengthOpts(b + a, z - a, NULL, 0);
      if (v)
        ev_errors_add(cx->errs, line, "", "each NDJSON line must be one event object, not %s",
                      ev__json_type(v));
      else ev_errors_add(cx->errs, line, "", "malformed JSON at byte %zu", a);
      cJSON_Delete(v);
      continue;
    }
    one_event(cx, a, z - a, line, line, NULL);
  }
}

static int parse_body(const char *body, size_t len, ev_body_kind kind, unsigned flags, bool keep_raw,
                      ev_batch *ret, ev_errors *errs) {
  if (!errs || !ret || (!body && len)) return -EINVAL;
  errs->n = errs->total = 0;
  body_ctx cx = {.body = body ? body : "", .flags = flags, .keep_raw = keep_raw, .errs = errs};
  /* Kept events' strings are parts of their text (an event's ids lie inside
   * it): twice the body holds them all, bar the NULs of many tiny events,
   * which then get their own allocations. Untouched pages cost nothing. */
  if (keep_raw && len && (cx.out.block = malloc(2 * len + 256))) cx.out.block_cap = 2 * len + 256;
  if (kind == EV_BODY_NDJSON) parse_ndjson_body(&cx, len);
  else parse_json_body(&cx, len);
  if (cx.out.block && !cx.out.block_used) {
    free(cx.out.block);
    cx.out.block = NULL;
    cx.out.block_cap = 0;
  }
  if (errs->total || cx.nomem) {
    ev_batch_clear(&cx.out);
    return errs->total ? -EINVAL : -ENOMEM;
  }
  *ret = cx.out;
  return 0;
}

int ev_parse_body(const char *body, size_t len, ev_body_kind kind, unsigned flags, ev_batch *ret,
                  ev_errors *errs) {
  return parse_body(body, len, kind, flags, false, ret, errs);
}

int ev_parse_body_raw(const char *body, size_t len, ev_body_kind kind, unsigned flags, ev_batch *ret,
                      ev_errors *errs) {
  return parse_body(body, len, kind, flags, true, ret, errs);
}
