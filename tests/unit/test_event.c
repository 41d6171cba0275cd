/* test_event: proves every SPEC §1/§4 event rule in both directions (a valid
 * and an invalid case, with the index and field the error must name), the
 * three body shapes (object, array, NDJSON), the strictness cJSON alone lacks
 * (UTF-8, lone surrogates, duplicate keys, depth, number spelling), the
 * 16 KiB "as received" boundary, and the normal form the journal stores. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "event.h"

#define TS          "\"timestamp\":\"2026-03-01T08:00:00Z\""
#define WK          "\"event_type\":\"working\",\"worker_id\":\"w1\",\"workstation_id\":\"s1\""
#define PC          "\"event_type\":\"product_count\",\"workstation_id\":\"s1\""
#define EV(extra)   "{" TS "," WK extra "}"
#define PCEV(extra) "{" TS "," PC extra "}"
#define AG          ",\"event_id\":\"ferry:ab:1\",\"seq\":1,\"ingested_at\":\"2026-03-01T08:00:01Z\""

static ev_errors errs; /* big: keep it off the stack */

static int parse_n(const char *body, size_t len, ev_body_kind kind, unsigned flags, ev_batch *b) {
  memset(b, 0, sizeof *b);
  return ev_parse_body(body, len, kind, flags, b, &errs);
}

/* Number of events the body yields, or -1 when it is refused. */
static long n_events(const char *body, ev_body_kind kind, unsigned flags) {
  ev_batch b;
  int r = parse_n(body, strlen(body), kind, flags, &b);
  if (r != 0) return -1;
  long n = (long)b.n;
  ev_batch_clear(&b);
  return n;
}

static long ok_json(const char *body) { return n_events(body, EV_BODY_JSON, 0); }

/* Refused, and one of the errors has exactly this index and field. */
static int refused_len(const char *body, size_t len, ev_body_kind kind, unsigned flags, int index,
                       const char *field) {
  ev_batch b;
  int r = parse_n(body, len, kind, flags, &b);
  if (r != -EINVAL) {
    if (r == 0) ev_batch_clear(&b);
    fprintf(stderr, "  expected refusal, got %d for: %.200s\n", r, body);
    return 0;
  }
  if (b.items || b.n) return 0; /* *ret untouched on failure */
  for (size_t i = 0; i < errs.n; i++)
    if (errs.items[i].index == index && strcmp(errs.items[i].field, field) == 0) return 1;
  fprintf(stderr, "  no error at index %d field \"%s\" for: %.200s\n", index, field, body);
  for (size_t i = 0; i < errs.n; i++)
    fprintf(stderr, "    got index %d field \"%s\": %s\n", errs.items[i].index, errs.items[i].field,
            errs.items[i].message);
  return 0;
}

static int refused(const char *body, int index, const char *field) {
  return refused_len(body, strlen(body), EV_BODY_JSON, 0, index, field);
}

static int refused_agent(const char *body, int index, const char *field) {
  return refused_len(body, strlen(body), EV_BODY_JSON, EV_FROM_AGENT, index, field);
}

static int message_has(const char *needle) {
  for (size_t i = 0; i < errs.n; i++)
    if (strstr(errs.items[i].message, needle)) return 1;
  return 0;
}

/* The normal form of a one-event body ("" when refused; static storage). */
static const char *normal(const char *body, unsigned flags) {
  static char out[EV_MAX_BYTES * 2];
  ev_batch b;
  out[0] = '\0';
  if (parse_n(body, strlen(body), EV_BODY_JSON, flags, &b) != 0) return out;
  if (b.n == 1) snprintf(out, sizeof out, "%s", b.items[0].json);
  ev_batch_clear(&b);
  return out;
}

/* head + filler 'x' + tail, exactly total bytes long (malloc'd). */
static char *sized(size_t total, const char *head, const char *tail) {
  size_t h = strlen(head), t = strlen(tail);
  char *s = malloc(total + 1);
  memcpy(s, head, h);
  memset(s + h, 'x', total - h - t);
  memcpy(s + total - t, tail, t);
  s[total] = '\0';
  return s;
}

static char *repeat(const char *unit, int n) {
  size_t u = strlen(unit);
  char *s = malloc(u * (size_t)n + 1);
  for (int i = 0; i < n; i++) memcpy(s + u * (size_t)i, unit, u);
  s[u * (size_t)n] = '\0';
  return s;
}

/* ------------------------------------------------------------------------ */

static void test_bodies(void) {
  CHECK_EQ_INT(ok_json(EV("")), 1);
  CHECK_EQ_INT(ok_json("  \r\n" EV("") "\n"), 1);
  CHECK_EQ_INT(ok_json("[" EV("") "," PCEV("") "]"), 2);
  CHECK_EQ_INT(ok_json(" [ " EV("") " ,\n " PCEV("") " ] \n"), 2);
  CHECK_EQ_INT(ok_json("[]"), 0);
  CHECK_EQ_INT(ok_json(" [ \n ] "), 0);
  /* empty JSON body is an error, with index -1 and no field */
  CHECK(refused("", -1, ""));
  CHECK(refused(" \r\n\t", -1, ""));
  /* not an object or array */
  CHECK(refused("5", -1, ""));
  CHECK(refused("\"x\"", -1, ""));
  CHECK(refused("null", -1, ""));
  CHECK(refused("[" EV("") ",5]", 1, ""));
  CHECK(refused("[" EV("") ",[]]", 1, ""));
  CHECK(refused("[[" EV("") "]]", 0, ""));
  /* malformed */
  CHECK(refused("{", -1, ""));
  CHECK(refused("{\"a\":}", -1, ""));
  CHECK(refused(EV("") " " EV(""), -1, ""));
  CHECK(refused(EV("") "]", -1, ""));
  CHECK(refused("[" EV(""), -1, ""));
  CHECK(refused("[" EV("") ",]", -1, ""));
  CHECK(refused("[,]", -1, ""));
  CHECK(refused("[" EV("") "] x", -1, ""));
  CHECK(refused("[" EV("") "}", -1, ""));
  CHECK(refused("[" EV("") " " EV("") "]", 0, ""));
  CHECK(refused("[" EV("") ",{\"a\":tru}]", 1, ""));
  CHECK(refused("[\"unterminated]", -1, ""));
  CHECK(refused("nul", -1, ""));
  CHECK(refused("\xef\xbb\xbf" EV(""), -1, "")); /* byte order mark */
  CHECK(message_has("byte order mark"));

  /* NDJSON: CRLF, blank lines skipped but counted, empty body = 0 events */
  CHECK_EQ_INT(n_events(EV("") "\n" PCEV("") "\n", EV_BODY_NDJSON, 0), 2);
  CHECK_EQ_INT(n_events(EV("") "\r\n" PCEV("") "\r\n", EV_BODY_NDJSON, 0), 2);
  CHECK_EQ_INT(n_events(EV("") "\n\n  \r\n" PCEV(""), EV_BODY_NDJSON, 0), 2);
  CHECK_EQ_INT(n_events("", EV_BODY_NDJSON, 0), 0);
  CHECK_EQ_INT(n_events("\n\r\n \n", EV_BODY_NDJSON, 0), 0);
  const char *nd = EV("") "\n\n\r\n{\"timestamp\":1}\r\n" EV("") "\n[1]\n{bad\n";
  CHECK(refused_len(nd, strlen(nd), EV_BODY_NDJSON, 0, 3, "timestamp"));
  CHECK(refused_len(nd, strlen(nd), EV_BODY_NDJSON, 0, 5, ""));
  CHECK(refused_len(nd, strlen(nd), EV_BODY_NDJSON, 0, 6, ""));
  /* a JSON array is not an NDJSON line; an NDJSON body is not JSON */
  CHECK(refused_len("[" EV("") "]", 2 + strlen(EV("")), EV_BODY_NDJSON, 0, 0, ""));
  CHECK(refused(EV("") "\n" EV(""), -1, ""));
  /* values in order, ids and types parsed */
  ev_batch b;
  const char *two = "[{\"event_id\":\"a\"," TS "," WK "},{\"event_id\":\"b\"," TS "," PC ",\"count\":7}]";
  CHECK_EQ_INT(parse_n(two, strlen(two), EV_BODY_JSON, 0, &b), 0);
  CHECK_EQ_INT(b.n, 2);
  if (b.n == 2) {
    CHECK_EQ_STR(b.items[0].event_id, "a");
    CHECK_EQ_INT(b.items[0].type, EV_WORKING);
    CHECK_EQ_STR(b.items[0].worker_id, "w1");
    CHECK_EQ_STR(b.items[0].workstation_id, "s1");
    CHECK_EQ_INT(b.items[0].count, 0);
    CHECK_EQ_INT(b.items[0].ts_ms, 1772352000000LL);
    CHECK_EQ_STR(b.items[1].event_id, "b");
    CHECK_EQ_INT(b.items[1].type, EV_PRODUCT_COUNT);
    CHECK(b.items[1].worker_id == NULL);
    CHECK_EQ_INT(b.items[1].count, 7);
    CHECK_EQ_INT(b.items[1].seq, 0);
  }
  ev_batch_clear(&b);
  CHECK(b.items == NULL && b.n == 0);
  ev_batch_clear(&b); /* twice is harmless */
  ev_batch_clear(NULL);
  ev_event_clear(NULL);
  /* bad arguments */
  CHECK_EQ_INT(ev_parse_body(NULL, 3, EV_BODY_JSON, 0, &b, &errs), -EINVAL);
  CHECK_EQ_INT(ev_parse_body(NULL, 0, EV_BODY_NDJSON, 0, &b, &errs), 0);
  CHECK_EQ_INT(b.n, 0);
}

static void test_collect_all(void) {
  /* every bad event reported with its own index; several errors per event */
  const char *body = "[{\"timestamp\":\"x\"," WK "}," EV("") ",{" TS ",\"event_type\":\"Idle\"},"
                                                             "{" TS "," WK ",\"confidence\":2,\"seq\":1}]";
  CHECK(refused(body, 0, "timestamp"));
  CHECK(refused(body, 2, "event_type"));
  CHECK(refused(body, 2, "workstation_id"));
  CHECK(refused(body, 3, "confidence"));
  CHECK(refused(body, 3, "seq"));
  CHECK_EQ_INT(errs.total, 5);
  for (size_t i = 0; i < errs.n; i++) CHECK(errs.items[i].index != 1);
  /* more errors than are kept: all counted, EV_MAX_ERRORS stored */
  char *many = malloc(200 * 16 + 4);
  strcpy(many, "[");
  for (int i = 0; i < 150; i++) strcat(many, i ? ",{}" : "{}");
  strcat(many, "]");
  ev_batch b;
  CHECK_EQ_INT(parse_n(many, strlen(many), EV_BODY_JSON, 0, &b), -EINVAL);
  CHECK_EQ_INT(errs.n, EV_MAX_ERRORS);
  CHECK_EQ_INT(errs.total, 150 * 3); /* timestamp, event_type, workstation_id */
  CHECK_EQ_INT(errs.items[EV_MAX_ERRORS - 1].index, (EV_MAX_ERRORS - 1) / 3);
  free(many);
  /* ev_parse_body starts each request with a clean error list */
  CHECK_EQ_INT(ok_json(EV("")), 1);
  CHECK_EQ_INT(errs.total, 0);
  CHECK_EQ_INT(errs.n, 0);
}

static void test_event_id(void) {
  CHECK_EQ_INT(ok_json(EV(",\"event_id\":\"a.B_9:-x\"")), 1);
  char *id128 = sized(128 + 14, ",\"event_id\":\"", "\"");
  char *id129 = sized(129 + 14, ",\"event_id\":\"", "\"");
  char *b1 = malloc(strlen(id129) + 200), *b2 = malloc(strlen(id129) + 200);
  sprintf(b1, "{" TS "," WK "%s}", id128);
  sprintf(b2, "{" TS "," WK "%s}", id129);
  CHECK_EQ_INT(ok_json(b1), 1);
  CHECK(refused(b2, 0, "event_id"));
  free(id128), free(id129), free(b1), free(b2);
  CHECK(refused(EV(",\"event_id\":\"\""), 0, "event_id"));
  CHECK(refused(EV(",\"event_id\":\"a b\""), 0, "event_id"));
  CHECK(refused(EV(",\"event_id\":\"a/b\""), 0, "event_id"));
  CHECK(refused(EV(",\"event_id\":\"\xc3\xa9\""), 0, "event_id"));
  CHECK(refused(EV(",\"event_id\":5"), 0, "event_id"));
  CHECK(refused(EV(",\"event_id\":\"ferry:1:2\""), 0, "event_id"));
  CHECK(message_has("ferry:"));
  CHECK_EQ_INT(ok_json(EV(",\"event_id\":\"Ferry:1\"")), 1);
  CHECK_EQ_INT(ok_json(EV(",\"event_id\":null")), 1);
  /* agent side: required, and may be the agent's own */
  CHECK_EQ_INT(n_events(EV(AG), EV_BODY_JSON, EV_FROM_AGENT), 1);
  CHECK(refused_agent(EV(",\"seq\":1,\"ingested_at\":\"2026-03-01T08:00:01Z\""), 0, "event_id"));
  CHECK(refused_agent(EV(",\"event_id\":null,\"seq\":1,\"ingested_at\":\"2026-03-01T08:00:01Z\""), 0,
                      "event_id"));
}

static void test_timestamp(void) {
  CHECK_EQ_INT(ok_json("{\"timestamp\":\"2000-01-01T00:00:00Z\"," WK "}"), 1);
  CHECK_EQ_INT(ok_json("{\"timestamp\":\"2000-01-01T01:00:00+01:00\"," WK "}"), 1);
  CHECK(refused("{\"timestamp\":\"1999-12-31T23:59:59.999Z\"," WK "}", 0, "timestamp"));
  CHECK(refused("{\"timestamp\":\"2000-01-01T00:30:00+01:00\"," WK "}", 0, "timestamp"));
  CHECK(refused("{" WK "}", 0, "timestamp"));
  CHECK(refused("{\"timestamp\":null," WK "}", 0, "timestamp"));
  CHECK(message_has("required"));
  CHECK(refused("{\"timestamp\":1772352000000," WK "}", 0, "timestamp"));
  CHECK(refused("{\"timestamp\":\"2026-03-01T08:00:00\"," WK "}", 0, "timestamp"));
  CHECK(refused("{\"timestamp\":\"2023-02-29T08:00:00Z\"," WK "}", 0, "timestamp"));
  CHECK(refused("{\"timestamp\":\"2026-03-01T08:00:00Z \"," WK "}", 0, "timestamp"));
  CHECK(message_has("RFC 3339"));
}

static void test_event_type(void) {
  CHECK_EQ_INT(ok_json("{" TS ",\"event_type\":\"idle\",\"worker_id\":\"w\",\"workstation_id\":\"s\"}"), 1);
  CHECK_EQ_INT(ok_json("{" TS ",\"event_type\":\"absent\",\"worker_id\":\"w\",\"workstation_id\":\"s\"}"), 1);
  CHECK_EQ_INT(ok_json(PCEV("")), 1);
  CHECK(refused("{" TS ",\"event_type\":\"Working\",\"worker_id\":\"w\",\"workstation_id\":\"s\"}", 0,
                "event_type"));
  CHECK(refused("{" TS ",\"event_type\":\"break\",\"worker_id\":\"w\",\"workstation_id\":\"s\"}", 0,
                "event_type"));
  CHECK(refused("{" TS ",\"event_type\":1,\"worker_id\":\"w\",\"workstation_id\":\"s\"}", 0, "event_type"));
  CHECK(refused("{" TS ",\"worker_id\":\"w\",\"workstation_id\":\"s\"}", 0, "event_type"));
  CHECK(
      refused("{" TS ",\"event_type\":null,\"worker_id\":\"w\",\"workstation_id\":\"s\"}", 0, "event_type"));
  ev_type t;
  CHECK_EQ_INT(ev_type_parse("product_count", &t), 0);
  CHECK_EQ_INT(t, EV_PRODUCT_COUNT);
  CHECK_EQ_INT(ev_type_parse("IDLE", &t), -EINVAL);
  CHECK_EQ_STR(ev_type_name(EV_ABSENT), "absent");
  CHECK_EQ_STR(ev_type_name((ev_type)42), "unknown");
}

#define STATE(type, extra) "{" TS ",\"event_type\":\"" type "\",\"workstation_id\":\"s\"" extra "}"

static void test_ids(void) {
  /* worker_id required for state events, optional for product_count */
  CHECK(refused(STATE("working", ""), 0, "worker_id"));
  CHECK(refused(STATE("idle", ",\"worker_id\":null"), 0, "worker_id"));
  CHECK(refused(STATE("absent", ""), 0, "worker_id"));
  CHECK_EQ_INT(ok_json(STATE("product_count", "")), 1);
  CHECK_EQ_INT(ok_json(STATE("product_count", ",\"worker_id\":null")), 1);
  CHECK_EQ_INT(ok_json(STATE("product_count", ",\"worker_id\":\"w\"")), 1);
  CHECK(refused(STATE("product_count", ",\"worker_id\":\"\""), 0, "worker_id"));
  /* workstation_id required everywhere */
  CHECK(refused("{" TS ",\"event_type\":\"product_count\"}", 0, "workstation_id"));
  CHECK(refused("{" TS ",\"event_type\":\"product_count\",\"workstation_id\":null}", 0, "workstation_id"));
  CHECK(refused("{" TS ",\"event_type\":\"product_count\",\"workstation_id\":7}", 0, "workstation_id"));

  /* the id rule, on both fields */
  const char *fields[2] = {"worker_id", "workstation_id"};
  for (int f = 0; f < 2; f++) {
    const char *other = f == 0 ? "\"workstation_id\":\"s\"" : "\"worker_id\":\"w\"";
    char body[1024];
#define ID_BODY(val) \
  (snprintf(body, sizeof body, "{" TS ",\"event_type\":\"idle\",%s,\"%s\":%s}", other, fields[f], val), body)
    CHECK_EQ_INT(ok_json(ID_BODY("\"W-1 caf\xc3\xa9 \xe4\xb8\xad\"")), 1);
    CHECK_EQ_INT(ok_json(ID_BODY("\"\\u00e9\\ud83d\\ude00\"")), 1);
    char *b64 = sized(66, "\"", "\""), *b65 = sized(67, "\"", "\"");
    CHECK_EQ_INT(ok_json(ID_BODY(b64)), 1);
    CHECK(refused(ID_BODY(b65), 0, fields[f]));
    free(b64), free(b65);
    char *e32 = repeat("\xc3\xa9", 32), *e33 = repeat("\xc3\xa9", 33), q[200];
    snprintf(q, sizeof q, "\"%s\"", e32); /* 64 bytes, 32 characters */
    CHECK_EQ_INT(ok_json(ID_BODY(q)), 1);
    snprintf(q, sizeof q, "\"%s\"", e33);
    CHECK(refused(ID_BODY(q), 0, fields[f]));
    free(e32), free(e33);
    CHECK(refused(ID_BODY("\"\""), 0, fields[f]));
    CHECK(refused(ID_BODY("1"), 0, fields[f]));
    CHECK(refused(ID_BODY("[\"w\"]"), 0, fields[f]));
    CHECK(refused(ID_BODY("\"a\\u0001b\""), 0, fields[f]));
    CHECK(message_has("control"));
    CHECK(refused(ID_BODY("\"a\\tb\""), 0, fields[f]));
    CHECK(refused(ID_BODY("\"a\\u007fb\""), 0, fields[f])); /* DEL */
    CHECK(refused(ID_BODY("\"a\xc2\x85\""), 0, fields[f])); /* C1 NEL */
    CHECK(refused(ID_BODY("\"a\\u009f\""), 0, fields[f]));  /* C1 */
    CHECK_EQ_INT(ok_json(ID_BODY("\"a\\u00a0b\"")), 1);     /* NBSP is Zs, allowed */
    CHECK(refused(ID_BODY("\"a\\u00adb\""), 0, fields[f])); /* soft hyphen */
    CHECK(message_has("format"));
    CHECK(refused(ID_BODY("\"a\xe2\x80\x8b\""), 0, fields[f])); /* ZWSP, raw */
    CHECK(refused(ID_BODY("\"\\u200e\""), 0, fields[f]));
    CHECK(refused(ID_BODY("\"\\u202e\""), 0, fields[f]));
    CHECK(refused(ID_BODY("\"\\u2066\""), 0, fields[f]));
    CHECK(refused(ID_BODY("\"\\ufeffw\""), 0, fields[f]));
    CHECK(refused(ID_BODY("\"\\u0600\""), 0, fields[f]));
    CHECK(refused(ID_BODY("\"\\ufffb\""), 0, fields[f]));
    CHECK(refused(ID_BODY("\"\\udb40\\udc01\""), 0, fields[f])); /* U+E0001 */
    CHECK(refused(ID_BODY("\"\\udb40\\udc7f\""), 0, fields[f])); /* U+E007F */
    CHECK(refused(ID_BODY("\"\\ud834\\udd73\""), 0, fields[f])); /* U+1D173 */
    CHECK_EQ_INT(ok_json(ID_BODY("\"\\ufffc\"")), 1);            /* So, allowed */
    CHECK_EQ_INT(ok_json(ID_BODY("\"\\u2065\"")), 1);            /* unassigned, not Cf */
#undef ID_BODY
  }
}

static void test_count(void) {
  ev_batch b;
  const char *c1 = PCEV(",\"count\":1.0");
  CHECK_EQ_INT(parse_n(c1, strlen(c1), EV_BODY_JSON, 0, &b), 0);
  if (b.n == 1) {
    CHECK_EQ_INT(b.items[0].count, 1);
    CHECK(strstr(b.items[0].json, "\"count\":1}") != NULL);
  }
  ev_batch_clear(&b);
  CHECK_EQ_INT(ok_json(PCEV(",\"count\":1000000")), 1);
  CHECK_EQ_INT(ok_json(PCEV(",\"count\":1e6")), 1);
  CHECK_EQ_INT(ok_json(PCEV(",\"count\":null")), 1);
  CHECK(refused(PCEV(",\"count\":0"), 0, "count"));
  CHECK(refused(PCEV(",\"count\":-1"), 0, "count"));
  CHECK(refused(PCEV(",\"count\":1000001"), 0, "count"));
  CHECK(refused(PCEV(",\"count\":1.5"), 0, "count"));
  CHECK(refused(PCEV(",\"count\":1e300"), 0, "count"));
  CHECK(refused(PCEV(",\"count\":\"1\""), 0, "count"));
  CHECK(refused(PCEV(",\"count\":true"), 0, "count"));
  CHECK(refused(PCEV(",\"count\":[1]"), 0, "count"));
  CHECK(refused("[" PCEV("") "," PCEV(",\"count\":99999999999999999999") "]", 1, "count"));
  /* default 1 */
  CHECK_EQ_INT(parse_n(PCEV(""), strlen(PCEV("")), EV_BODY_JSON, 0, &b), 0);
  if (b.n == 1) CHECK_EQ_INT(b.items[0].count, 1);
  ev_batch_clear(&b);
  /* ignored on state events: not validated, passed through, struct says 0 */
  const char *st = EV(",\"count\":\"lots\"");
  CHECK_EQ_INT(parse_n(st, strlen(st), EV_BODY_JSON, 0, &b), 0);
  if (b.n == 1) {
    CHECK_EQ_INT(b.items[0].count, 0);
    CHECK(strstr(b.items[0].json, "\"count\":\"lots\"") != NULL);
  }
  ev_batch_clear(&b);
  CHECK_EQ_INT(ok_json(EV(",\"count\":0")), 1);
  CHECK_EQ_INT(ok_json(EV(",\"count\":1.5")), 1);
}

static void test_optional_fields(void) {
  CHECK_EQ_INT(ok_json(EV(",\"confidence\":0")), 1);
  CHECK_EQ_INT(ok_json(EV(",\"confidence\":1")), 1);
  CHECK_EQ_INT(ok_json(EV(",\"confidence\":0.93")), 1);
  CHECK_EQ_INT(ok_json(EV(",\"confidence\":1.0e0")), 1);
  CHECK_EQ_INT(ok_json(EV(",\"confidence\":null")), 1);
  CHECK(refused(EV(",\"confidence\":-0.01"), 0, "confidence"));
  CHECK(refused(EV(",\"confidence\":1.0001"), 0, "confidence"));
  CHECK(refused(EV(",\"confidence\":\"0.5\""), 0, "confidence"));
  CHECK(refused(EV(",\"confidence\":false"), 0, "confidence"));

  const char *names[2] = {"camera_id", "model_version"};
  for (int i = 0; i < 2; i++) {
    char body[1024], *v;
#define OPT_BODY(val) (snprintf(body, sizeof body, EV(",\"%s\":%s"), names[i], val), body)
    CHECK_EQ_INT(ok_json(OPT_BODY("\"cam-1\"")), 1);
    CHECK_EQ_INT(ok_json(OPT_BODY("\"\"")), 1);
    CHECK_EQ_INT(ok_json(OPT_BODY("null")), 1);
    v = sized(66, "\"", "\"");
    CHECK_EQ_INT(ok_json(OPT_BODY(v)), 1);
    free(v);
    v = sized(67, "\"", "\"");
    CHECK(refused(OPT_BODY(v), 0, names[i]));
    free(v);
    char *e = repeat("\xc3\xa9", 64), q[300]; /* 64 characters, 128 bytes */
    snprintf(q, sizeof q, "\"%s\"", e);
    CHECK_EQ_INT(ok_json(OPT_BODY(q)), 1);
    free(e);
    CHECK(refused(OPT_BODY("3"), 0, names[i]));
    CHECK(refused(OPT_BODY("{}"), 0, names[i]));
#undef OPT_BODY
  }

  CHECK_EQ_INT(ok_json(EV(",\"attributes\":{}")), 1);
  CHECK_EQ_INT(ok_json(EV(",\"attributes\":{\"zone\":\"A\",\"boxes\":[[1,2],[3,4]],\"ok\":true}")), 1);
  CHECK_EQ_INT(ok_json(EV(",\"attributes\":null")), 1);
  CHECK(refused(EV(",\"attributes\":[]"), 0, "attributes"));
  CHECK(refused(EV(",\"attributes\":\"x\""), 0, "attributes"));
  CHECK(refused(EV(",\"attributes\":1"), 0, "attributes"));
  /* 4 KiB serialized: {"k":"xxx..."} of exactly 4096 / 4097 bytes; the
   * whitespace received does not count, the serialized form does */
  char *a4096 = sized(4096, "{\"k\":\"", "\"}"), *a4097 = sized(4097, "{\"k\":\"", "\"}");
  char *x4088 = sized(4088, "", "");
  char *body = malloc(8192);
  snprintf(body, 8192, EV(",\"attributes\":%s"), a4096);
  CHECK_EQ_INT(ok_json(body), 1);
  snprintf(body, 8192, EV(",\"attributes\": { \"k\" :  \"%s\"  }"), x4088);
  CHECK_EQ_INT(ok_json(body), 1);
  free(x4088);
  snprintf(body, 8192, EV(",\"attributes\":%s"), a4097);
  CHECK(refused(body, 0, "attributes"));
  CHECK(message_has("4096"));
  free(a4096), free(a4097), free(body);
}

static void test_reserved_and_unknown(void) {
  CHECK(refused(EV(",\"seq\":1"), 0, "seq"));
  CHECK(refused(EV(",\"ingested_at\":\"2026-03-01T08:00:00Z\""), 0, "ingested_at"));
  CHECK(refused(EV(",\"seq\":null"), 0, "seq")); /* the name itself is reserved */
  CHECK(message_has("reserved"));
  /* agent side: both required and checked */
  CHECK_EQ_INT(n_events(EV(AG), EV_BODY_JSON, EV_FROM_AGENT), 1);
  CHECK(refused_agent(EV(",\"event_id\":\"e\",\"ingested_at\":\"2026-03-01T08:00:01Z\""), 0, "seq"));
  CHECK(refused_agent(EV(",\"event_id\":\"e\",\"seq\":1"), 0, "ingested_at"));
  CHECK(
      refused_agent(EV(",\"event_id\":\"e\",\"seq\":0,\"ingested_at\":\"2026-03-01T08:00:01Z\""), 0, "seq"));
  CHECK(refused_agent(EV(",\"event_id\":\"e\",\"seq\":1.5,\"ingested_at\":\"2026-03-01T08:00:01Z\""), 0,
                      "seq"));
  CHECK(refused_agent(EV(",\"event_id\":\"e\",\"seq\":\"1\",\"ingested_at\":\"2026-03-01T08:00:01Z\""), 0,
                      "seq"));
  CHECK(refused_agent(EV(",\"event_id\":\"e\",\"seq\":1,\"ingested_at\":\"yesterday\""), 0, "ingested_at"));
  CHECK(refused_agent(EV(",\"event_id\":\"e\",\"seq\":1,\"ingested_at\":null"), 0, "ingested_at"));
  CHECK_EQ_INT(
      n_events(EV(",\"event_id\":\"e\",\"seq\":9007199254740991,\"ingested_at\":\"2026-03-01T08:00:01Z\""),
               EV_BODY_JSON, EV_FROM_AGENT),
      1);
  CHECK(refused_agent(
      EV(",\"event_id\":\"e\",\"seq\":9007199254740993,\"ingested_at\":\"2026-03-01T08:00:01Z\""), 0, "seq"));
  /* unknown fields pass through, any JSON value */
  CHECK_EQ_INT(ok_json(EV(",\"zone\":{\"a\":[1,2,{\"b\":null}]},\"v2\":true")), 1);
  /* an event that is not an object */
  CHECK(refused("[1]", 0, ""));
  CHECK(refused("[\"e\",null]", 1, ""));
  CHECK(message_has("object"));
}

static void test_normal_form(void) {
  CHECK_EQ_STR(normal("{ \"event_id\" : \"e1\", \"timestamp\": \"2026-03-01T10:00:00.5+02:00\",\n"
                      "  \"event_type\":\"product_count\", \"workstation_id\":\"s1\",\n"
                      "  \"camera_id\":null, \"x\":[1, 2.0, 1E2, \"\\u00e9\\/\"], \"n\":null }",
                      0),
               "{\"event_id\":\"e1\",\"timestamp\":\"2026-03-01T08:00:00.500Z\","
               "\"event_type\":\"product_count\",\"workstation_id\":\"s1\","
               "\"x\":[1,2,100,\"\xc3\xa9/\"],\"count\":1}");
  /* fractions truncated, not rounded; nested nulls kept (attributes stored as is) */
  CHECK_EQ_STR(normal("{\"timestamp\":\"2026-03-01T08:00:00.9999Z\"," WK ",\"attributes\":{\"a\":null}}", 0),
               "{\"timestamp\":\"2026-03-01T08:00:00.999Z\"," WK ",\"attributes\":{\"a\":null}}");
  /* no event_id given: none in the normal form or the struct */
  ev_batch b;
  CHECK_EQ_INT(parse_n(EV(""), strlen(EV("")), EV_BODY_JSON, 0, &b), 0);
  if (b.n == 1) {
    CHECK(b.items[0].event_id == NULL);
    CHECK(strstr(b.items[0].json, "event_id") == NULL);
    CHECK_EQ_INT(b.items[0].json_len, strlen(b.items[0].json));
  }
  ev_batch_clear(&b);
  /* agent side: seq and ingested_at go to the struct, not the json */
  const char *ag =
      "{\"event_id\":\"ferry:ab:7\"," TS "," WK ",\"seq\":7,\"ingested_at\":\"2026-03-01T09:00:00+01:00\"}";
  CHECK_EQ_INT(parse_n(ag, strlen(ag), EV_BODY_JSON, EV_FROM_AGENT, &b), 0);
  if (b.n == 1) {
    CHECK_EQ_INT(b.items[0].seq, 7);
    CHECK_EQ_INT(b.items[0].ingested_at_ms, 1772352000000LL);
    CHECK_EQ_STR(b.items[0].event_id, "ferry:ab:7");
    CHECK_EQ_STR(b.items[0].json, "{\"event_id\":\"ferry:ab:7\","
                                  "\"timestamp\":\"2026-03-01T08:00:00.000Z\"," WK "}");
  }
  ev_batch_clear(&b);
  /* the normal form is itself a valid event: it parses to the same thing */
  const char *in = PCEV(",\"event_id\":\"r\",\"count\":3.0,\"attributes\":{\"q\":[true,false]}");
  char first[1024];
  snprintf(first, sizeof first, "%s", normal(in, 0));
  CHECK(first[0] != '\0');
  CHECK_EQ_STR(normal(first, 0), first);
}

static void test_duplicates(void) {
  CHECK(refused(EV(",\"a\":1,\"a\":2"), 0, "a"));
  CHECK(message_has("duplicate"));
  CHECK(refused("{" TS "," WK ",\"worker_id\":\"w2\"}", 0, "worker_id"));
  CHECK(refused(EV(",\"a\":1,\"\\u0061\":2"), 0, "a")); /* same key once unescaped */
  CHECK(refused(EV(",\"attributes\":{\"x\":1,\"y\":2,\"x\":3}"), 0, "attributes"));
  CHECK(refused(EV(",\"z\":[{\"q\":{\"k\":1,\"k\":1}}]"), 0, "z"));
  CHECK(refused("[" EV("") "," EV(",\"attributes\":{\"x\":{},\"x\":{}}") "]", 1, "attributes"));
  CHECK_EQ_INT(ok_json(EV(",\"attributes\":{\"x\":1,\"X\":2,\"x \":3}")), 1);
  CHECK_EQ_INT(ok_json(EV(",\"a\":{\"k\":1},\"b\":{\"k\":1}")), 1); /* same key, other objects */
  /* many keys (the sorted path): unique passes, one repeat is found */
  char *big = malloc(200 * 20 + 256), *p;
  p = big + sprintf(big, "{" TS "," WK ",\"attributes\":{");
  for (int i = 0; i < 200; i++) p += sprintf(p, "%s\"k%d\":%d", i ? "," : "", i, i);
  strcpy(p, "}}");
  CHECK_EQ_INT(ok_json(big), 1);
  strcpy(p, ",\"k137\":0}}");
  CHECK(refused(big, 0, "attributes"));
  p = big + sprintf(big, "{" TS "," WK);
  for (int i = 0; i < 200; i++) p += sprintf(p, ",\"u%d\":%d", i, i);
  strcpy(p, "}");
  CHECK_EQ_INT(ok_json(big), 1);
  strcpy(p, ",\"u3\":1}");
  CHECK(refused(big, 0, "u3"));
  free(big);

  /* ev_json_check_tree directly */
  char err[128];
  cJSON *t = cJSON_Parse("{\"a\":[{\"b\":1,\"b\":2}]}");
  CHECK_EQ_INT(ev_json_check_tree(t, 32, err, sizeof err), -EINVAL);
  CHECK(strstr(err, "\"b\"") != NULL);
  cJSON_Delete(t);
  t = cJSON_Parse("{\"a\":[{\"b\":1,\"c\":2}]}");
  CHECK_EQ_INT(ev_json_check_tree(t, 32, err, sizeof err), 0);
  CHECK_EQ_INT(ev_json_check_tree(t, 3, err, sizeof err), 0);
  CHECK_EQ_INT(ev_json_check_tree(t, 2, err, sizeof err), -EINVAL);
  CHECK(strstr(err, "deeper") != NULL);
  cJSON_Delete(t);
  t = cJSON_Parse("[[],[]]"); /* empty containers count as levels too */
  CHECK_EQ_INT(ev_json_check_tree(t, 2, err, sizeof err), 0);
  CHECK_EQ_INT(ev_json_check_tree(t, 1, err, sizeof err), -EINVAL);
  cJSON_Delete(t);
  CHECK_EQ_INT(ev_json_check_tree(NULL, 1, err, sizeof err), 0);
}

/* An event whose attributes nest so the deepest container is at `level`
 * (the event object is level 1). */
static char *nested_event(int level, int use_arrays) {
  char *s = malloc(4096), *p = s;
  p += sprintf(p, "{" TS "," WK ",\"attributes\":");
  for (int l = 2; l <= level; l++) p += sprintf(p, use_arrays && l > 2 ? "[" : "{\"k\":");
  p += sprintf(p, "1");
  for (int l = level; l >= 2; l--) p += sprintf(p, use_arrays && l > 2 ? "]" : "}");
  strcpy(p, "}");
  return s;
}

static void test_depth(void) {
  for (int arrays = 0; arrays < 2; arrays++) {
    char *ok = nested_event(32, arrays), *deep = nested_event(33, arrays);
    CHECK_EQ_INT(ok_json(ok), 1);
    CHECK(refused(deep, 0, "attributes"));
    CHECK(message_has("32"));
    /* in an array body the array itself is not a level */
    char *arr = malloc(strlen(ok) + 8), *arrd = malloc(strlen(ok) + strlen(deep) + 8);
    sprintf(arr, "[%s]", ok);
    sprintf(arrd, "[%s,%s]", ok, deep);
    CHECK_EQ_INT(ok_json(arr), 1);
    CHECK(refused(arrd, 1, "attributes"));
    /* NDJSON: the line's index */
    sprintf(arrd, "%s\n%s", ok, deep);
    CHECK(refused_len(arrd, strlen(arrd), EV_BODY_NDJSON, 0, 1, "attributes"));
    free(ok), free(deep), free(arr), free(arrd);
  }
  /* far deeper than cJSON's own limit: still a clean error */
  char *very = malloc(20000 + 256), *p = very;
  p += sprintf(p, "{" TS "," WK ",\"x\":");
  for (int i = 0; i < 5000; i++) *p++ = '[';
  for (int i = 0; i < 5000; i++) *p++ = ']';
  strcpy(p, "}");
  CHECK(refused(very, 0, "x"));
  /* a bare deep array body */
  memset(very, '[', 3000);
  memset(very + 3000, ']', 3000);
  very[6000] = '\0';
  CHECK(refused(very, 0, ""));
  free(very);
  /* ev_validate on a tree built elsewhere checks depth too */
  char *deep = nested_event(33, 0);
  cJSON *t = cJSON_Parse(deep);
  ev_errors e2 = {.n = 0};
  ev_event ev;
  CHECK_EQ_INT(ev_validate(t, strlen(deep), 4, 0, &ev, &e2), -EINVAL);
  CHECK_EQ_INT(e2.n, 1);
  CHECK_EQ_INT(e2.items[0].index, 4);
  CHECK_EQ_STR(e2.items[0].field, "attributes");
  cJSON_Delete(t);
  free(deep);
}

static void test_utf8(void) {
  CHECK(ev_utf8_valid("", 0));
  CHECK(ev_utf8_valid("plain ascii", 11));
  CHECK(ev_utf8_valid("caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf", 19));
  CHECK(ev_utf8_valid("\xed\x9f\xbf\xee\x80\x80", 6)); /* U+D7FF, U+E000 */
  CHECK(!ev_utf8_valid("\xff", 1));
  CHECK(!ev_utf8_valid("\x80", 1));
  CHECK(!ev_utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
  CHECK(!ev_utf8_valid("\xc1\xbf", 2));         /* overlong */
  CHECK(!ev_utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
  CHECK(!ev_utf8_valid("\xf0\x80\x80\xaf", 4)); /* overlong */
  CHECK(!ev_utf8_valid("\xed\xa0\x80", 3));     /* U+D800 */
  CHECK(!ev_utf8_valid("\xed\xbf\xbf", 3));     /* U+DFFF */
  CHECK(!ev_utf8_valid("\xf4\x90\x80\x80", 4)); /* U+110000 */
  CHECK(!ev_utf8_valid("\xf5\x80\x80\x80", 4));
  CHECK(!ev_utf8_valid("\xe2\x82", 2));          /* truncated */
  CHECK(!ev_utf8_valid("abcdefgh\xe2\x82", 10)); /* after the 8-byte fast path */
  CHECK(!ev_utf8_valid("\xe2\x28\xa1", 3));      /* bad continuation */
  CHECK(ev_utf8_valid("a\0b", 3));               /* NUL is valid UTF-8 */

  CHECK(refused(EV(",\"x\":\"\xff\""), -1, ""));
  CHECK(message_has("UTF-8"));
  CHECK(refused(EV(",\"x\":\"\xc0\xaf\""), -1, ""));
  CHECK(refused(EV(",\"x\":\"\xed\xa0\x80\""), -1, ""));
  CHECK(refused("[" EV("") "," EV(",\"x\":\"\xf4\x90\x80\x80\"") "]", -1, ""));
  const char *nd = EV("") "\n" EV(",\"x\":\"\xe2\x82\"") "\n" EV("");
  CHECK(refused_len(nd, strlen(nd), EV_BODY_NDJSON, 0, 1, ""));
  CHECK_EQ_INT(errs.total, 1);
}

static void test_escapes(void) {
  /* cJSON refuses lone surrogates by itself; we refuse them with the field */
  cJSON *t = cJSON_Parse("\"\\ud800\"");
  CHECK(t == NULL);
  cJSON_Delete(t);
  CHECK(refused(EV(",\"x\":\"\\ud800\""), 0, "x"));
  CHECK(message_has("surrogate"));
  CHECK(refused(EV(",\"x\":\"a\\udc00b\""), 0, "x"));
  CHECK(refused(EV(",\"x\":\"\\ud800\\u0041\""), 0, "x"));
  CHECK(refused(EV(",\"x\":\"\\ud800\\ud800\""), 0, "x"));
  CHECK(refused(EV(",\"x\":\"\\uDBFF\""), 0, "x"));
  CHECK(refused(EV(",\"attributes\":{\"a\":[\"\\ud83d\"]}"), 0, "attributes"));
  CHECK(refused("{" TS ",\"event_type\":\"idle\",\"workstation_id\":\"s\",\"worker_id\":\"\\udfff\"}", 0,
                "worker_id"));
  CHECK(refused(EV(",\"\\ud800\":1"), 0, "")); /* in a key */
  CHECK_EQ_INT(ok_json(EV(",\"x\":\"\\ud83d\\ude00\\uD83D\\uDE00\"")), 1);
  /* \u0000 would be cut off by cJSON: refused, with the field */
  CHECK(refused(EV(",\"x\":\"a\\u0000b\""), 0, "x"));
  CHECK(refused("{" TS ",\"event_type\":\"idle\",\"workstation_id\":\"s\",\"worker_id\":\"w\\u0000x\"}", 0,
                "worker_id"));
  CHECK_EQ_INT(ok_json(EV(",\"x\":\"\\\\u0000\"")), 1); /* an escaped backslash, then text */
  CHECK(refused(EV(",\"x\":\"\\q\""), -1, ""));
  CHECK(refused(EV(",\"x\":\"\\u12\""), -1, ""));
  CHECK(refused(EV(",\"\\ucount\":1"), -1, "")); /* cJSON alone reads this as "\0nt" */
  CHECK(message_has("hex"));
  CHECK(refused(EV(",\"x\":\"\\u00zz\""), -1, ""));
  CHECK(refused("[" EV(",\"x\":\"\\u\"") "]", 0, ""));
  /* raw control bytes and non-JSON whitespace */
  CHECK(refused(EV(",\"x\":\"a\tb\""), -1, ""));
  CHECK(refused(EV(",\"x\":\"a\nb\""), -1, ""));
  CHECK(refused(EV(",\x0c\"x\":1"), -1, ""));
  CHECK(refused_len("{" TS "," WK ",\"x\":\"a\0b\"}", strlen(EV(",\"x\":\"a?b\"")), EV_BODY_JSON, 0, -1, ""));
  CHECK(refused_len("{" TS "," WK ",\0\"x\":1}", strlen(EV(",?\"x\":1")), EV_BODY_JSON, 0, -1, ""));
  CHECK(message_has("control"));
  /* number spelling cJSON would accept */
  CHECK(refused(EV(",\"x\":01"), -1, ""));
  CHECK(refused(EV(",\"x\":1."), -1, ""));
  CHECK(refused(EV(",\"x\":-"), -1, ""));
  CHECK(refused(EV(",\"x\":+1"), -1, ""));
  CHECK(refused(EV(",\"x\":.5"), -1, ""));
  CHECK(refused(EV(",\"x\":1e"), -1, ""));
  CHECK(refused(EV(",\"x\":1e+"), -1, ""));
  CHECK(refused(EV(",\"x\":-01"), -1, ""));
  CHECK(refused("[" EV(",\"x\":00") "]", 0, "")); /* array element: its index */
  CHECK_EQ_INT(ok_json(EV(",\"x\":[0,-0,0.5,-1.25e-3,1E+2,1e400,12345678901234567890]")), 1);
  /* the same checks on any JSON text, for callers that parse with cJSON */
  char err[200];
  const char *okt = "{\"events\":[{\"a\":[1,-0.5e3,\"\\ud83d\\ude00\"]}]}";
  CHECK_EQ_INT(ev_json_check_text(okt, strlen(okt), 4, err, sizeof err), 0);
  CHECK_EQ_INT(ev_json_check_text(okt, strlen(okt), 3, err, sizeof err), -EINVAL);
  CHECK(strstr(err, "events") != NULL && strstr(err, "deeper than 3") != NULL);
  const char *nul = "{\"events\":[{\"w\":\"a\\u0000\"}]}";
  CHECK_EQ_INT(ev_json_check_text(nul, strlen(nul), 32, err, sizeof err), -EINVAL);
  CHECK(strstr(err, "\\u0000") != NULL);
  CHECK_EQ_INT(ev_json_check_text("[01]", 4, 32, err, sizeof err), -EINVAL);
  CHECK_EQ_INT(ev_json_check_text("[\"\\udc00\"]", 10, 32, err, sizeof err), -EINVAL);
  CHECK_EQ_INT(ev_json_check_text("", 0, 32, err, sizeof err), 0);
  CHECK_EQ_INT(ev_json_check_text(NULL, 0, 32, NULL, 0), 0);
  CHECK(refused(EV(",\"x\":NaN"), -1, ""));
  CHECK(refused(EV(",\"x\":Infinity"), -1, ""));
  CHECK(refused(EV(",\"x\":True"), -1, ""));
  CHECK(refused(EV(",\"x\":nulll"), -1, ""));
}

static void test_size_limit(void) {
  const char *tail = "\"}";
  /* single object: exactly 16384 bytes ok, 16385 refused */
  char *o16384 = sized(16384, "{" TS "," WK ",\"pad\":\"", tail);
  char *o16385 = sized(16385, "{" TS "," WK ",\"pad\":\"", tail);
  CHECK_EQ_INT(ok_json(o16384), 1);
  CHECK(refused(o16385, 0, ""));
  CHECK(message_has("16384"));
  /* whitespace around the body is not the event */
  char *w = malloc(16384 + 16);
  sprintf(w, " \r\n%s \n", o16384);
  CHECK_EQ_INT(ok_json(w), 1);
  free(w);

  /* array element with blanks inside it: those count, blanks outside do not */
  const char *head = "{  " TS " ,\n  " WK " ,  \"pad\"  :  \"";
  const char *wtail = "\"  \n }";
  char *t1 = sized(16384, head, wtail), *t2 = sized(16385, head, wtail);
  char *arr = malloc(2 * 16400 + 64);
  sprintf(arr, "[ \n %s \n , %s\n ]", t1, EV(""));
  CHECK_EQ_INT(ok_json(arr), 2);
  sprintf(arr, "[%s,  %s  ]", EV(""), t2);
  CHECK(refused(arr, 1, ""));
  CHECK_EQ_INT(errs.total, 1);

  /* NDJSON line (CRLF: the line end is not part of the event) */
  free(t1), free(t2);
  t1 = sized(16384, "{ \t" TS " , " WK " ,\t\"pad\" : \"", "\" \t}");
  t2 = sized(16385, "{ \t" TS " , " WK " ,\t\"pad\" : \"", "\" \t}");
  sprintf(arr, "%s\r\n%s\r\n", EV(""), t1);
  CHECK_EQ_INT(n_events(arr, EV_BODY_NDJSON, 0), 2);
  sprintf(arr, "%s\r\n\r\n%s\r\n", EV(""), t2);
  CHECK(refused_len(arr, strlen(arr), EV_BODY_NDJSON, 0, 2, ""));
  sprintf(arr, "%s\n%s", t1, t2); /* no final newline */
  CHECK(refused_len(arr, strlen(arr), EV_BODY_NDJSON, 0, 1, ""));

  /* ev_validate uses the size it is told */
  cJSON *obj = cJSON_Parse(EV(""));
  ev_errors e2 = {.n = 0};
  ev_event ev;
  CHECK_EQ_INT(ev_validate(obj, 16385, 9, 0, &ev, &e2), -EINVAL);
  CHECK_EQ_INT(e2.items[0].index, 9);
  CHECK_EQ_STR(e2.items[0].field, "");
  e2.n = e2.total = 0;
  CHECK_EQ_INT(ev_validate(obj, 16384, 0, 0, &ev, &e2), 0);
  CHECK_EQ_STR(ev.json, "{\"timestamp\":\"2026-03-01T08:00:00.000Z\"," WK "}");
  CHECK_EQ_STR(ev.workstation_id, "s1");
  ev_event_clear(&ev);
  CHECK(ev.json == NULL);
  CHECK_EQ_INT(ev_validate(obj, 100, 0, 0, NULL, NULL), 0); /* check only */
  CHECK_EQ_INT(ev_validate(NULL, 0, 0, 0, NULL, NULL), -EINVAL);
  cJSON_Delete(obj);

  free(o16384), free(o16385), free(t1), free(t2), free(arr);
}

static void test_errors_add(void) {
  ev_errors e = {.n = 0};
  ev_errors_add(&e, 3, "timestamp", "bad %s", "value");
  CHECK_EQ_INT(e.n, 1);
  CHECK_EQ_INT(e.items[0].index, 3);
  CHECK_EQ_STR(e.items[0].field, "timestamp");
  CHECK_EQ_STR(e.items[0].message, "bad value");
  /* long names and messages are cut on a character boundary */
  char *field = repeat("\xe4\xb8\xad", 30); /* 90 bytes */
  char *msg = repeat("\xc3\xa9", 150);      /* 300 bytes */
  ev_errors_add(&e, 0, field, "%s", msg);
  CHECK(ev_utf8_valid(e.items[1].field, strlen(e.items[1].field)));
  CHECK_EQ_INT(strlen(e.items[1].field), 63);
  CHECK(ev_utf8_valid(e.items[1].message, strlen(e.items[1].message)));
  CHECK_EQ_INT(strlen(e.items[1].message), 190);
  ev_errors_add(&e, 0, NULL, "x");
  CHECK_EQ_STR(e.items[2].field, "");
  ev_errors_add(NULL, 0, "", "x");
  free(field), free(msg);
}

int main(void) {
  test_bodies();
  test_collect_all();
  test_event_id();
  test_timestamp();
  test_event_type();
  test_ids();
  test_count();
  test_optional_fields();
  test_reserved_and_unknown();
  test_normal_form();
  test_duplicates();
  test_depth();
  test_utf8();
  test_escapes();
  test_size_limit();
  test_errors_add();
  return check_finish("test_event");
}
