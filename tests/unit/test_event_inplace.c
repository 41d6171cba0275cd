/* test_event_inplace: ev_validate_inplace (the collector's path: validate the
 * batch's own tree, reuse the fingerprint's print as the normal form when it
 * can) must give exactly what ev_validate gives, field for field and byte
 * for byte, on events it can take the shortcut for and on every kind it must
 * not (nulls, a timestamp in another spelling, a count to add, agent fields
 * elsewhere than last, numbers cJSON prints in exponent form, escapes). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "event.h"

static ev_errors e1, e2; /* big: keep them off the stack */

#define TS  "\"timestamp\":\"2026-03-01T08:00:00.000Z\""
#define WK  "\"event_type\":\"working\",\"worker_id\":\"w1\",\"workstation_id\":\"s1\""
#define ID  "\"event_id\":\"ev-1\""
#define AGT ",\"seq\":7,\"ingested_at\":\"2026-03-01T08:00:01.000Z\""

/* Validate `text` both ways; expect_taken: 1 the print must become the
 * normal form, 0 it must not, -1 either. Returns the normal form's length
 * (0 when refused). */
static size_t both(const char *text, unsigned flags, int expect_taken) {
  cJSON *a = cJSON_Parse(text), *b = cJSON_Parse(text);
  CHECK(a && b);
  if (!a || !b) {
    cJSON_Delete(a);
    cJSON_Delete(b);
    return 0;
  }
  char *printed = cJSON_PrintUnformatted(b);
  size_t raw_len = strlen(printed);
  ev_event ea = {0}, eb = {0};
  e1.n = e1.total = e2.n = e2.total = 0;
  int ra = ev_validate(a, raw_len, 3, flags, &ea, &e1);
  int rb = ev_validate_inplace(b, &printed, raw_len, 3, flags, &eb, &e2);
  CHECK_EQ_INT(ra, rb);
  CHECK_EQ_INT(e1.total, e2.total);
  if (e1.n && e2.n) {
    CHECK_EQ_STR(e1.items[0].field, e2.items[0].field);
    CHECK_EQ_STR(e1.items[0].message, e2.items[0].message);
    CHECK_EQ_INT(e2.items[0].index, 3);
  }
  size_t n = 0;
  if (ra == 0 && rb == 0) {
    CHECK_EQ_STR(ea.json, eb.json);
    CHECK_EQ_INT(ea.json_len, eb.json_len);
    CHECK_EQ_INT(strlen(eb.json), eb.json_len);
    CHECK_EQ_INT(ea.ts_ms, eb.ts_ms);
    CHECK_EQ_INT(ea.type, eb.type);
    CHECK_EQ_INT(ea.count, eb.count);
    CHECK_EQ_INT(ea.seq, eb.seq);
    CHECK_EQ_INT(ea.ingested_at_ms, eb.ingested_at_ms);
    CHECK_EQ_STR(ea.workstation_id, eb.workstation_id);
    CHECK((ea.worker_id == NULL) == (eb.worker_id == NULL));
    if (ea.worker_id && eb.worker_id) CHECK_EQ_STR(ea.worker_id, eb.worker_id);
    CHECK((ea.event_id == NULL) == (eb.event_id == NULL));
    if (ea.event_id && eb.event_id) CHECK_EQ_STR(ea.event_id, eb.event_id);
    if (expect_taken >= 0) CHECK_EQ_INT(printed == NULL, expect_taken);
    n = eb.json_len;
  } else {
    CHECK(printed != NULL); /* a refused event keeps nothing */
  }
  cJSON_free(printed);
  ev_event_clear(&ea);
  ev_event_clear(&eb);
  cJSON_Delete(a);
  cJSON_Delete(b);
  return n;
}

static void test_shortcut(void) {
  /* what an agent sends: already normal, agent fields last */
  CHECK(both("{" ID "," TS "," WK ",\"confidence\":0.93" AGT "}", EV_FROM_AGENT, 1) > 0);
  CHECK(both("{" ID "," TS ",\"event_type\":\"product_count\",\"workstation_id\":\"s1\","
             "\"count\":3,\"attributes\":{\"a\":[1,2.5,1e300,-0.0],\"b\":\"x\\ny\"}" AGT "}",
             EV_FROM_AGENT, 1) > 0);
  /* without EV_FROM_AGENT the whole print is the normal form */
  CHECK(both("{" TS "," WK ",\"confidence\":0.5}", 0, 1) > 0);
  /* seq beyond int: cJSON prints it another way; still found */
  CHECK(both("{" ID "," TS "," WK ",\"seq\":9007199254740991,"
             "\"ingested_at\":\"2026-03-01T08:00:01.000Z\"}",
             EV_FROM_AGENT, 1) > 0);
  CHECK(both("{" ID "," TS "," WK ",\"seq\":3000000000,"
             "\"ingested_at\":\"2026-03-01T08:00:01.000Z\"}",
             EV_FROM_AGENT, 1) > 0);
  /* the normal form is the print less ,"seq":7,"ingested_at":"..." */
  const char *ev = "{" ID "," TS "," WK AGT "}";
  CHECK_EQ_INT(both(ev, EV_FROM_AGENT, 1), strlen(ev) - strlen(AGT));
}

static void test_general_path(void) {
  /* a null to drop */
  both("{" ID "," TS "," WK ",\"camera_id\":null" AGT "}", EV_FROM_AGENT, 0);
  both("{" ID "," TS "," WK AGT ",\"x\":null}", EV_FROM_AGENT, 0);
  /* timestamp spelled otherwise: offset, no millis, lowercase */
  both("{" ID ",\"timestamp\":\"2026-03-01T10:00:00+02:00\"," WK AGT "}", EV_FROM_AGENT, 0);
  both("{" ID ",\"timestamp\":\"2026-03-01T08:00:00Z\"," WK AGT "}", EV_FROM_AGENT, 0);
  both("{" ID ",\"timestamp\":\"2026-03-01t08:00:00.000z\"," WK AGT "}", EV_FROM_AGENT, 0);
  /* product_count without count: it is added */
  both("{" ID "," TS ",\"event_type\":\"product_count\",\"workstation_id\":\"s1\"" AGT "}", EV_FROM_AGENT, 0);
  /* agent fields not last, or the other way round */
  both("{" ID ",\"seq\":7," TS "," WK ",\"ingested_at\":\"2026-03-01T08:00:01.000Z\"}", EV_FROM_AGENT, 0);
  both("{" ID "," TS "," WK ",\"ingested_at\":\"2026-03-01T08:00:01.000Z\",\"seq\":7}", EV_FROM_AGENT, 0);
  both("{" ID "," TS "," WK AGT ",\"unknown\":1}", EV_FROM_AGENT, 0);
  /* ingested_at in another valid spelling: passes, the tail still matches */
  both("{" ID "," TS "," WK ",\"seq\":7,\"ingested_at\":\"2026-03-01T10:00:01+02:00\"}", EV_FROM_AGENT, 1);
  /* count given as 2.0: prints as 2 either way */
  both("{" ID "," TS ",\"event_type\":\"product_count\",\"workstation_id\":\"s1\",\"count\":2.0" AGT "}",
       EV_FROM_AGENT, 1);
  /* an escaped id and unicode pass through */
  both("{\"event_id\":\"a:b\"," TS ",\"event_type\":\"working\",\"worker_id\":\"w\\u00e9\\\"q\","
       "\"workstation_id\":\"s1\",\"note\":\"\\u2028\"" AGT "}",
       EV_FROM_AGENT, -1);
}

static void test_refused(void) {
  both("{" TS "," WK AGT "}", EV_FROM_AGENT, -1);    /* no event_id */
  both("{" ID "," TS "," WK "}", EV_FROM_AGENT, -1); /* no agent fields */
  both("{" ID "," TS "," WK ",\"seq\":0,\"ingested_at\":\"x\"}", EV_FROM_AGENT, -1);
  both("{" ID ",\"timestamp\":\"yesterday\"," WK AGT "}", EV_FROM_AGENT, -1);
  both("{" TS "," WK AGT "}", 0, -1); /* reserved fields */
  both("{" ID "," TS ",\"event_type\":\"product_count\",\"workstation_id\":\"s1\",\"count\":0" AGT "}",
       EV_FROM_AGENT, -1);
  /* ev_validate_inplace without a print: the general path */
  cJSON *o = cJSON_Parse("{" ID "," TS "," WK AGT "}");
  ev_event ev = {0};
  char *none = NULL;
  e2.n = e2.total = 0;
  CHECK_EQ_INT(ev_validate_inplace(o, &none, 100, 0, EV_FROM_AGENT, &ev, &e2), 0);
  CHECK_EQ_STR(ev.json, "{" ID "," TS "," WK "}");
  ev_event_clear(&ev);
  cJSON_Delete(o);
}

int main(void) {
  test_shortcut();
  test_general_path();
  test_refused();
  return check_finish("test_event_inplace");
}
