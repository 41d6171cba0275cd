/* test_event_raw: ev_parse_body_raw (the agent's ingest path: one strict scan
 * that also tells whether an event's text is already its own normal form, and
 * then keeps the received bytes instead of printing) must give exactly what
 * ev_parse_body gives — the same return, the same errors in the same order,
 * the same events field for field and byte for byte — on hand-picked events
 * that take the shortcut, on every kind that must not (blanks, escapes,
 * numbers cJSON spells differently, nulls, a timestamp to rewrite, a count
 * to add) and on many generated and mutated bodies. ev_parse_body still
 * splits an array apart from the strict scan, while the raw path finds the
 * elements in the scan's own pass: arrays of hostile elements (the
 * splitter's bytes in strings and escapes, nesting, blanks, truncations,
 * elements over the limits) check that the two agree. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "event.h"
#include "json_arena.h"
#include "xorshift.h"

static ev_errors e1, e2; /* big: keep them off the stack */

static int same_str(const char *a, const char *b) {
  if (!a || !b) return a == b;
  return strcmp(a, b) == 0;
}

/* Parse `body` both ways and compare everything. Returns the old path's rc. */
static int both(const char *body, size_t len, ev_body_kind kind, unsigned flags) {
  ev_batch a = {0}, b = {0};
  int ra = ev_parse_body(body, len, kind, flags, &a, &e1);
  int rb = ev_parse_body_raw(body, len, kind, flags, &b, &e2);
  int bad = 0;
  bad |= ra != rb;
  bad |= e1.total != e2.total || e1.n != e2.n;
  for (size_t i = 0; !bad && i < e1.n; i++) {
    bad |= e1.items[i].index != e2.items[i].index;
    bad |= strcmp(e1.items[i].field, e2.items[i].field) != 0;
    bad |= strcmp(e1.items[i].message, e2.items[i].message) != 0;
  }
  bad |= a.n != b.n;
  for (size_t i = 0; !bad && i < a.n; i++) {
    const ev_event *x = &a.items[i], *y = &b.items[i];
    bad |= x->json_len != y->json_len || strcmp(x->json, y->json) != 0 || strlen(y->json) != y->json_len;
    bad |= x->ts_ms != y->ts_ms || x->type != y->type || x->count != y->count || x->seq != y->seq ||
           x->ingested_at_ms != y->ingested_at_ms;
    bad |= !same_str(x->event_id, y->event_id) || !same_str(x->worker_id, y->worker_id) ||
           !same_str(x->workstation_id, y->workstation_id);
  }
  if (bad) {
    fprintf(stderr, "paths differ (kind %d flags %u) on: %.*s\n", (int)kind, flags,
            (int)(len > 600 ? 600 : len), body);
    if (a.n && b.n) fprintf(stderr, "  old: %s\n  new: %s\n", a.items[0].json, b.items[0].json);
    if (e1.n) fprintf(stderr, "  old err: %s: %s\n", e1.items[0].field, e1.items[0].message);
    if (e2.n) fprintf(stderr, "  new err: %s: %s\n", e2.items[0].field, e2.items[0].message);
  }
  CHECK(!bad);
  ev_batch_clear(&a);
  ev_batch_clear(&b);
  return ra;
}

static int both_all(const char *body) {
  size_t len = strlen(body);
  int r = both(body, len, EV_BODY_JSON, 0);
  both(body, len, EV_BODY_JSON, EV_FROM_AGENT);
  both(body, len, EV_BODY_NDJSON, 0);
  return r;
}

#define TS "\"timestamp\":\"2026-03-01T08:00:00.000Z\""
#define WK "\"event_type\":\"working\",\"worker_id\":\"w1\",\"workstation_id\":\"s1\""
#define PC "\"event_type\":\"product_count\",\"workstation_id\":\"s1\""

static void test_cases(void) {
  static const char *const ok[] = {
      "{" TS "," WK "}",
      "{\"event_id\":\"e-1\"," TS "," WK ",\"confidence\":0.93,\"camera_id\":\"c\",\"model_version\":\"m\"}",
      "{" TS "," PC ",\"count\":3}",
      "{" TS "," PC "}",               /* count added: printed */
      "{" TS "," PC ",\"count\":3.0}", /* count re-spelt */
      "{" TS "," PC ",\"count\":null}",
      "{ " TS "," WK "}",
      "{" TS " ," WK "}",
      "{\"timestamp\":\"2026-03-01T08:00:00Z\"," WK "}",
      "{\"timestamp\":\"2026-03-01T09:00:00.000+01:00\"," WK "}",
      "{" TS "," WK ",\"x\":null}",
      "{" TS "," WK ",\"x\":[null,{\"a\":null}]}",
      "{" TS "," WK ",\"x\":\"a\\/b\"}",
      "{" TS "," WK ",\"x\":\"a\\u0041b\"}",
      "{" TS "," WK ",\"x\":\"\\u00e9\\ud83d\\ude00\"}",
      "{" TS "," WK ",\"x\":\"\\\"\\\\\\b\\f\\n\\r\\t\"}",
      "{" TS "," WK ",\"x\":\"\\u0001\"}",
      "{" TS "," WK ",\"x\":\"é😀\x7f\"}",
      "{" TS "," WK ",\"attributes\":{\"a\":[1,2.5,-0.0001,1e3,-0,0.00001,123456789012345,"
      "1234567890123456,0.1,0.10,1.5E2,2147483648,-2147483649,3.141592653589793]}}",
      "{" TS "," WK ",\"attributes\":{}}",
      "{" TS "," WK ",\"attributes\":{\"k\":{\"n\":[true,false,null,[],{}]}},\"u\":1}",
      "{" TS "," WK ",\"attributes\":{ \"k\":1}}",
      "{" TS "," WK ",\"attributes\":[1]}",
      "{" TS "," WK ",\"attributes\":null}",
      "{" TS "," WK ",\"n\":-0,\"m\":0,\"o\":-1,\"p\":0.5,\"q\":-0.5,\"r\":100000000000000000000}",
      "{" TS "," WK ",\"n\":1e-7,\"m\":12345678901234567890.5,\"o\":0.000100}",
      "[{" TS "," WK "},{" TS "," PC ",\"count\":2}, {" TS "," WK "}]",
      "[]",
      "{\"seq\":1,\"ingested_at\":\"2026-03-01T08:00:01.000Z\",\"event_id\":\"a\"," TS "," WK "}",
      "{\"event_id\":\"a\"," TS "," WK ",\"seq\":1,\"ingested_at\":\"2026-03-01T08:00:01.000Z\"}",
      "{" TS "," WK ",\"event_type\":\"idle\"}",
      "{" TS "," WK ",\"count\":1e400}",
      "{" TS "," WK ",\"confidence\":2}",
      "{" TS ",\"event_type\":\"working\",\"workstation_id\":\"s1\"}",
      "{" TS "," WK ",\"x\":\"\\u0000\"}",
      "{" TS "," WK ",\"x\":01}",
      "{" TS "," WK ",\"x\":\"\\ud800\"}",
      "{" TS "," WK ",\"x\":\"a\x01\"}",
      "{" TS "," WK ",}",
      "{" TS "," WK "",
      "{\"attributes\":{\"a\":1}," TS "," WK ",\"attributes\":{\"b\":2}}",
      "{\"att\\u0072ibutes\":{\"a\":1}," TS "," WK "}",
      /* duplicated top-level keys: plain, spelt with escapes, sharing the scan's bit or not */
      "{" TS "," WK ",\"x\":1,\"\\u0078\":2}",
      "{" TS "," WK ",\"x\\\"\":1,\"x\\u0022\":2}",
      "{" TS "," WK ",\"axb\":1,\"ayb\":2}",
      "{" TS "," WK ",\"axb\":1,\"axb\":2}",
      "{" TS "," WK ",\"\":1,\"\":2}",
      "{" TS "," WK ",\"\":1}",
      "{" TS "," WK ",\"worker_id\":\"w2\"}",
      "{\"times\\u0074amp\":\"2026-03-01T08:00:00.000Z\"," TS "," WK "}",
      "{\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,\"k9\":9," TS "," WK
      ",\"k5\":0}",
  };
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) both_all(ok[i]);
  CHECK_EQ_INT(both_all("{" TS "," WK ",\"attributes\":{\"a\":[1,2.5,0.0001]}}"), 0);
}

/* Attributes just under and over the 4096-byte limit, canonical or not. */
static void test_attr_limit(void) {
  static char body[8192];
  for (int pad = 4070; pad < 4100; pad++) {
    for (int blank = 0; blank < 2; blank++) {
      int n = snprintf(body, sizeof body, "{" TS "," WK ",\"attributes\":{%s\"s\":\"", blank ? " " : "");
      memset(body + n, 'x', (size_t)pad);
      n += pad;
      n += snprintf(body + n, sizeof body - (size_t)n, "\"}}");
      both(body, (size_t)n, EV_BODY_JSON, 0);
    }
  }
}

/* ---- generated bodies ---------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static unsigned rnd(unsigned n) { return (unsigned)(xorshift64(&rng) % n); }

static const char *const pieces[] = {
    "0",
    "-0",
    "1",
    "-1",
    "0.5",
    "0.50",
    "1.25e2",
    "1E-2",
    "0.0001",
    "0.00001",
    "12345678901234567",
    "123456789012345",
    "2147483647",
    "2147483648",
    "-2147483648",
    "3.14159265358979",
    "0.30000000000000004",
    "1.0",
    "true",
    "false",
    "null",
    "\"\"",
    "\"a b\"",
    "\"\\n\"",
    "\"\\/\"",
    "\"\\u00e9\"",
    "\"é\"",
    "[]",
    "{}",
    "[1,2]",
    "{\"k\":1}",
    "[null]",
    "\"\\\\\"",
    "\"\\t\"",
    "[ 1 ]",
};

static size_t gen_value(char *o, size_t cap, int depth) {
  if (depth < 3 && rnd(5) == 0) {
    size_t n = 0;
    bool obj = rnd(2);
    o[n++] = obj ? '{' : '[';
    unsigned k = rnd(4);
    for (unsigned i = 0; i < k && n + 64 < cap; i++) {
      if (i) o[n++] = ',';
      if (obj) n += (size_t)snprintf(o + n, cap - n, "\"k%u\":", rnd(3) == 0 ? 0 : i);
      n += gen_value(o + n, cap - n, depth + 1);
    }
    o[n++] = obj ? '}' : ']';
    return n;
  }
  const char *p = pieces[rnd(sizeof pieces / sizeof *pieces)];
  size_t l = strlen(p);
  if (l >= cap) return 0;
  memcpy(o, p, l);
  return l;
}

static size_t gen_event(char *o, size_t cap) {
  static const char *const ts[] = {"\"2026-03-01T08:00:00.000Z\"",
                                   "\"2026-03-01T08:00:00Z\"",
                                   "\"2026-03-01T08:00:00.123+02:00\"",
                                   "\"1999-01-01T00:00:00.000Z\"",
                                   "\"nope\"",
                                   "null",
                                   "5"};
  static const char *const types[] = {"\"working\"",       "\"idle\"", "\"absent\"",
                                      "\"product_count\"", "\"x\"",    "null"};
  size_t n = 0;
  const char *sep = rnd(8) == 0 ? ", " : ",";
  n += (size_t)snprintf(o + n, cap - n, "{");
  bool first = true;
#define FIELD(fmt, ...)                                                             \
  do {                                                                              \
    n += (size_t)snprintf(o + n, cap - n, "%s" fmt, first ? "" : sep, __VA_ARGS__); \
    first = false;                                                                  \
  } while (0)
  if (rnd(4)) FIELD("\"event_id\":\"ev-%u\"", rnd(1000000));
  if (rnd(10)) FIELD("\"timestamp\":%s", ts[rnd(10) < 7 ? 0 : rnd(sizeof ts / sizeof *ts)]);
  if (rnd(12)) FIELD("\"event_type\":%s", types[rnd(sizeof types / sizeof *types)]);
  if (rnd(3)) FIELD("\"worker_id\":\"W-%03u\"", rnd(50));
  if (rnd(12)) FIELD("\"workstation_id\":\"%s\"", rnd(20) ? "WS-1" : "");
  if (rnd(2)) {
    char v[256];
    size_t l = gen_value(v, sizeof v - 1, 1);
    v[l] = '\0';
    FIELD("\"count\":%s", rnd(2) ? "2" : v);
  }
  if (rnd(2)) FIELD("\"confidence\":%s", rnd(2) ? "0.93" : "0.5");
  if (rnd(3)) FIELD("\"camera_id\":\"cam-%02u\"", rnd(12));
  for (unsigned extra = rnd(3); extra; extra--) {
    char v[512];
    size_t l = gen_value(v, sizeof v - 1, 1);
    v[l] = '\0';
    FIELD("\"%s\":%s", rnd(3) ? "attributes" : "u", v);
  }
#undef FIELD
  n += (size_t)snprintf(o + n, cap - n, "}");
  return n < cap ? n : cap - 1;
}

static void test_generated(void) {
  static char body[65536];
  for (int round = 0; round < 6000; round++) {
    size_t n = 0;
    bool arr = rnd(2);
    if (arr) body[n++] = '[';
    unsigned k = 1 + rnd(arr ? 5 : 1);
    for (unsigned i = 0; i < k; i++) {
      if (i) body[n++] = arr ? ',' : '\n';
      n += gen_event(body + n, sizeof body - n - 8);
    }
    if (arr) body[n++] = ']';
    body[n] = '\0';
    both(body, n, arr ? EV_BODY_JSON : (rnd(2) ? EV_BODY_NDJSON : EV_BODY_JSON), 0);
    both(body, n, arr ? EV_BODY_JSON : EV_BODY_NDJSON, EV_FROM_AGENT);
    /* hostile: flip, cut or insert a byte */
    for (int m = 0; m < 3; m++) {
      size_t at = rnd((unsigned)n);
      static const char bytes[] = " \t\\\"{}[],:-.0e\x01\x80\xff"
                                  "u";
      char keep = body[at];
      body[at] = bytes[rnd(sizeof bytes - 1)];
      both(body, n, EV_BODY_JSON, 0);
      both(body, at, EV_BODY_JSON, 0);
      body[at] = keep;
    }
  }
}

/* ---- arrays: the raw path finds elements in the strict scan's pass ------ */

/* Hand-picked arrays whose elements hide the splitter's bytes in strings,
 * escapes and nesting, or break the array around a clean element. */
static void test_array_cases(void) {
  static const char *const bodies[] = {
      "[{" TS "," WK ",\"x\":\"],}[{,\"}]",
      "[{" TS "," WK ",\"x\":\"\\\"],\"},{" TS "," WK "}]",
      "[{" TS "," WK ",\"x\":\"\\\\\"}]",
      "[{" TS "," WK ",\"x\":[[1,[2,{\"a\":\"]\"}]],[]]}]",
      "[{" TS "," WK ",\"x\":\"\\u005d\\u002c\"}, {" TS "," WK "}]",
      "[{" TS "," WK "} ,{" TS "," WK "}\t]",
      "[ {" TS "," WK "}\r\n, \n{" TS "," WK "} ]",
      "[{" TS "," WK "}   ]",
      "[{" TS "," WK "} {" TS "," WK "}]",
      "[{" TS "," WK "}{" TS "," WK "}]",
      "[{" TS "," WK "} x]",
      "[{" TS "," WK "}}",
      "[{" TS "," WK "}]]",
      "[{" TS "," WK "}] ",
      "[{" TS "," WK "}] x",
      "[{" TS "," WK "},]",
      "[{" TS "," WK "},,{" TS "," WK "}]",
      "[,{" TS "," WK "}]",
      "[{" TS "," WK "},",
      "[{" TS "," WK "}",
      "[{" TS "," WK ",\"x\":\"]",
      "[{" TS "," WK ",\"x\":\"\\",
      "[{" TS "," WK ",\"x\":\"\\u12\"}]",
      "[{" TS "," WK ",\"x\":\"\\ud800\"},{" TS "," WK "}",
      "[{" TS "," WK ",\"x\":01},{" TS "," WK "}]",
      "[{" TS "," WK ",\"x\":01}",
      "[{" TS "," WK ",\"x\":\"\x01\"}, 5]",
      "[{" TS "," WK ",\"x\":\"\x01\"}, 5",
      "[{" TS "," WK ",\"x\":[}]",
      "[{" TS "," WK ",\"x\":{]}]",
      "[{" TS "," WK ",\"x\":tru}]",
      "[{" TS "," WK ",\"x\":1-2}]",
      "[{" TS "," WK ",\"x\":1 2}]",
      "[{" TS "," WK ",\"x\":é}]",
      "[{" TS "," WK ",\"x\":1}2]",
      "[1, \"a\", null, [], {}, [{" TS "," WK "}]]",
      "[\"a,b\" ]",
      "[5 ]",
      "[-]",
      "[{" TS "," WK ",\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}]",
      "[{" TS "," WK ",\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
      "[{" TS "," WK ",\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}]",
  };
  for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
    const char *b = bodies[i];
    size_t len = strlen(b);
    both(b, len, EV_BODY_JSON, 0);
    both(b, len, EV_BODY_JSON, EV_FROM_AGENT);
    for (size_t cut = 0; cut < len; cut++) both(b, cut, EV_BODY_JSON, 0); /* every truncation */
  }
  CHECK_EQ_INT(both("[{" TS "," WK ",\"x\":\"],}[{,\"}, {" TS "," WK "} ]", 0, EV_BODY_JSON, 0), -EINVAL);
  const char *ok = "[{" TS "," WK ",\"x\":\"],}[{,\\\"\"}, {" TS "," WK "} ]";
  CHECK_EQ_INT(both(ok, strlen(ok), EV_BODY_JSON, 0), 0);
}

/* Elements just under and over the per-event byte limit, with clean and
 * broken neighbours, and a long run of blanks after an element. */
static void test_array_limits(void) {
  static char body[3 * EV_MAX_BYTES];
  for (int d = -3; d <= 3; d++) {
    for (int tail = 0; tail < 3; tail++) {
      size_t n = 0;
      n += (size_t)snprintf(body + n, sizeof body - n, "[{" TS "," WK ",\"s\":\"");
      size_t want = (size_t)(EV_MAX_BYTES + d) - (n - 1) - 2; /* element text is EV_MAX_BYTES + d */
      memset(body + n, 'y', want);
      n += want;
      n += (size_t)snprintf(body + n, sizeof body - n, "\"}");
      static const char *const tails[] = {"]", ",{" TS "," WK "}]", ",{" TS "," WK ",\"x\":01}"};
      n += (size_t)snprintf(body + n, sizeof body - n, "%s", tails[tail]);
      both(body, n, EV_BODY_JSON, 0);
    }
  }
  size_t n = (size_t)snprintf(body, sizeof body, "[{" TS "," WK "}");
  memset(body + n, ' ', 2 * EV_MAX_BYTES);
  n += 2 * EV_MAX_BYTES;
  body[n++] = ']';
  CHECK_EQ_INT(both(body, n, EV_BODY_JSON, 0), 0);
}

/* Generated arrays of hostile elements: strings full of the splitter's
 * bytes and escapes, nested containers, blanks everywhere, then mutated. */
static size_t gen_hostile_value(char *o, size_t cap, int depth) {
  static const char *const strs[] = {"\"]\"",    "\",\"",     "\"}{\"",      "\"[\"",       "\"\\\"\"",
                                     "\"\\\\\"", "\"\\\\]\"", "\"\\u005d\"", "\"a\\\",b\"", "\"\\/\""};
  static const char *const blanks[] = {"", "", "", " ", "\n", "\t ", "\r\n"};
  size_t n = 0;
  if (cap < 96) return 0;
  n += (size_t)snprintf(o + n, cap - n, "%s", blanks[rnd(7)]);
  unsigned pick = rnd(depth < 4 ? 6 : 3);
  if (pick == 0) {
    n += (size_t)snprintf(o + n, cap - n, "%s", strs[rnd(10)]);
  } else if (pick == 1) {
    n += (size_t)snprintf(o + n, cap - n, "%s", pieces[rnd(sizeof pieces / sizeof *pieces)]);
  } else if (pick == 2) {
    n += (size_t)snprintf(o + n, cap - n, "\"%s\"", rnd(2) ? "x" : "],[");
  } else {
    bool obj = pick == 3;
    o[n++] = obj ? '{' : '[';
    unsigned k = rnd(4);
    for (unsigned i = 0; i < k && n + 128 < cap; i++) {
      if (i) o[n++] = ',';
      if (obj) n += (size_t)snprintf(o + n, cap - n, "%s\"k%u\"%s:", blanks[rnd(7)], i, blanks[rnd(7)]);
      n += gen_hostile_value(o + n, cap - n, depth + 1);
    }
    n += (size_t)snprintf(o + n, cap - n, "%s%c", blanks[rnd(7)], obj ? '}' : ']');
  }
  n += (size_t)snprintf(o + n, cap - n, "%s", blanks[rnd(7)]);
  return n < cap ? n : cap - 1;
}

static void test_array_generated(void) {
  static char body[65536];
  for (int round = 0; round < 4000; round++) {
    size_t n = 0;
    body[n++] = '[';
    unsigned k = rnd(6);
    for (unsigned i = 0; i < k; i++) {
      if (i) n += (size_t)snprintf(body + n, sizeof body - n, "%s,", rnd(4) ? "" : " ");
      if (rnd(3)) {
        size_t e = gen_event(body + n, sizeof body - n - 1024);
        /* an extra field with a hostile value, before the closing brace */
        if (rnd(2) && e > 1) {
          n += e - 1;
          n += (size_t)snprintf(body + n, sizeof body - n, ",\"h\":");
          n += gen_hostile_value(body + n, 900, 1);
          body[n++] = '}';
        } else {
          n += e;
        }
      } else {
        n += gen_hostile_value(body + n, 900, 1);
      }
    }
    n += (size_t)snprintf(body + n, sizeof body - n, "%s]%s", rnd(4) ? "" : "\n", rnd(8) ? "" : " ");
    body[n] = '\0';
    both(body, n, EV_BODY_JSON, 0);
    both(body, n, EV_BODY_JSON, EV_FROM_AGENT);
    both(body, rnd((unsigned)n + 1), EV_BODY_JSON, 0);
    for (int m = 0; m < 4; m++) {
      size_t at = rnd((unsigned)n);
      static const char bytes[] = " \t\\\"{}[],:-.0eu\x01\x7f";
      char keep = body[at];
      body[at] = bytes[rnd(sizeof bytes - 1)];
      both(body, n, EV_BODY_JSON, 0);
      body[at] = keep;
    }
  }
}

int main(void) {
  ja_install(); /* both paths with their trees in JSON arenas, as the agent runs them */
  test_cases();
  test_attr_limit();
  test_generated();
  test_array_cases();
  test_array_limits();
  test_array_generated();
  return check_finish("test_event_raw");
}
