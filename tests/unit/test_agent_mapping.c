/* test_agent_mapping: the MQTT mapping engine — every source kind (pointer,
 * item, const, topic, topic_level, concat, first_of, split), value maps with
 * each unmapped policy, defaults, optional fields, "as" conversions,
 * iteration, skip rules, the ferry format, the rule errors the loader names,
 * and the shipped mappings (config/mappings/) over hand-written payloads in
 * DeepStream's full and minimal schemas and Frigate's frigate/events shape. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mapping.h"
#include "pointer.h"

#define MAPPINGS FERRY_TEST_FIXTURES "/../../config/mappings/"
#define PAYLOADS FERRY_TEST_FIXTURES "/mqtt/"

static char err[512];

static mapping *load(const char *text) {
  mapping *m = NULL;
  err[0] = '\0';
  int r = mapping_load_text(text, strlen(text), "t.jsonc", &m, err, sizeof err);
  if (r < 0) fprintf(stderr, "load: %s\n", err);
  return r < 0 ? NULL : m;
}

/* Loading fails and the error names `needle`. */
static void load_fails(const char *text, const char *needle) {
  mapping *m = NULL;
  err[0] = '\0';
  int r = mapping_load_text(text, strlen(text), "t.jsonc", &m, err, sizeof err);
  CHECK_EQ_INT(r, -EINVAL);
  CHECK(m == NULL);
  if (!strstr(err, needle)) fprintf(stderr, "error \"%s\" does not name \"%s\"\n", err, needle);
  CHECK(strstr(err, needle) != NULL);
  CHECK(strchr(err, '\n') == NULL);
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "cannot open %s\n", path);
    return NULL;
  }
  char *buf = malloc(1 << 20);
  *len = fread(buf, 1, (1 << 20) - 1, f);
  buf[*len] = '\0';
  fclose(f);
  return buf;
}

/* The value of field (top-level, or "attributes.x") of event i as JSON text. */
static char *field(const mapping_result *r, size_t i, const char *name) {
  static char out[512];
  if (i >= r->n) return NULL;
  cJSON *o = mapping_event_json(&r->events[i]);
  const cJSON *v = NULL;
  if (strncmp(name, "attributes.", 11) == 0)
    v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "attributes"), name + 11);
  else v = cJSON_GetObjectItemCaseSensitive(o, name);
  char *t = v ? cJSON_PrintUnformatted(v) : NULL;
  snprintf(out, sizeof out, "%s", t ? t : "(absent)");
  free(t);
  cJSON_Delete(o);
  return out;
}

static void apply(const mapping *m, const char *topic, const char *payload, mapping_result *r) {
  CHECK_EQ_INT(mapping_apply(m, topic, payload, strlen(payload), 1 << 20, r), 0);
}

#define BASE_FIELDS                                                              \
  "\"event_id\": {\"pointer\": \"/id\"}, \"timestamp\": {\"pointer\": \"/ts\"}," \
  "\"workstation_id\": {\"topic_level\": 1}"

static void test_pointer(void) {
  cJSON *d = cJSON_Parse("{\"a\":{\"b/c\":[10,{\"~x\":true}],\"\":5},\"0\":\"zero\"}");
  CHECK(jp_get(d, "") == d);
  CHECK_EQ_INT((long long)jp_get(d, "/a/b~1c/0")->valuedouble, 10);
  CHECK(cJSON_IsTrue(jp_get(d, "/a/b~1c/1/~0x")));
  CHECK_EQ_INT((long long)jp_get(d, "/a/")->valuedouble, 5);
  CHECK_EQ_STR(jp_get(d, "/0")->valuestring, "zero");
  CHECK(jp_get(d, "/a/b~1c/2") == NULL);  /* past the end */
  CHECK(jp_get(d, "/a/b~1c/01") == NULL); /* leading zero */
  CHECK(jp_get(d, "/a/b~1c/-") == NULL);
  CHECK(jp_get(d, "/nope") == NULL);
  CHECK(jp_get(d, "/0/x") == NULL); /* into a string */
  CHECK(!jp_valid("a"));
  CHECK(!jp_valid("/a~2"));
  CHECK(!jp_valid("/a~"));
  CHECK(jp_valid("/a~0~1"));
  cJSON_Delete(d);
}

/* pointer, const, topic, topic_level (from both ends), concat, first_of,
 * split, optional, default, as. */
static void test_sources(void) {
  mapping *m = load(
      "// comment\n{\"topics\":[{\"filter\":\"plant/+/line/#\",\"fields\":{" BASE_FIELDS
      ",\"event_type\":{\"const\":\"product_count\"},"
      "\"count\":{\"pointer\":\"/n\",\"as\":\"integer\"},"
      "\"camera_id\":{\"topic\":true},"
      "\"model_version\":{\"topic_level\":-1},"
      "\"worker_id\":{\"concat\":[\"w-\",{\"pointer\":\"/who/0\"},\":\",{\"pointer\":\"/n\"}]},"
      "\"attributes.first\":{\"first_of\":[{\"pointer\":\"/missing\"},{\"pointer\":\"/nul\"},{\"const\":7}]},"
      "\"attributes.piece\":{\"pointer\":\"/code\",\"split\":\"|\",\"index\":-1},"
      "\"attributes.opt\":{\"pointer\":\"/missing\",\"optional\":true},"
      "\"attributes.dflt\":{\"pointer\":\"/missing\",\"default\":\"dv\"},"
      "\"attributes.str\":{\"pointer\":\"/n\",\"as\":\"string\"},"
      "\"attributes.num\":{\"pointer\":\"/numtext\",\"as\":\"number\"},"
      "/* block */ \"confidence\":{\"pointer\":\"/c\"}"
      "}}]}");
  CHECK(m != NULL);
  if (!m) return;
  mapping_result r;
  apply(m, "plant/p1/line/l2/cell9",
        "{\"id\":\"a-1\",\"ts\":\"2026-03-01T09:00:00+01:00\",\"n\":3.9,\"who\":[\"ann\"],\"nul\":null,"
        "\"code\":\"x|y|z\",\"numtext\":\"2.5\",\"c\":0.5}",
        &r);
  CHECK_EQ_STR(r.error, "");
  CHECK_EQ_INT(r.n, 1);
  CHECK_EQ_STR(field(&r, 0, "event_id"), "\"a-1\"");
  CHECK_EQ_STR(field(&r, 0, "timestamp"), "\"2026-03-01T08:00:00.000Z\"");
  CHECK_EQ_STR(field(&r, 0, "workstation_id"), "\"p1\"");
  CHECK_EQ_STR(field(&r, 0, "camera_id"), "\"plant/p1/line/l2/cell9\"");
  CHECK_EQ_STR(field(&r, 0, "model_version"), "\"cell9\"");
  CHECK_EQ_STR(field(&r, 0, "count"), "3");
  CHECK_EQ_STR(field(&r, 0, "worker_id"), "\"w-ann:3.8999999999999999\"");
  CHECK_EQ_STR(field(&r, 0, "attributes.first"), "7");
  CHECK_EQ_STR(field(&r, 0, "attributes.piece"), "\"z\"");
  CHECK_EQ_STR(field(&r, 0, "attributes.opt"), "(absent)");
  CHECK_EQ_STR(field(&r, 0, "attributes.dflt"), "\"dv\"");
  CHECK_EQ_STR(field(&r, 0, "attributes.str"), "\"3.8999999999999999\"");
  CHECK_EQ_STR(field(&r, 0, "attributes.num"), "2.5");
  CHECK_EQ_STR(field(&r, 0, "confidence"), "0.5");
  mapping_result_clear(&r);

  /* a topic no entry matches carries ferry events */
  apply(m, "other/topic",
        "{\"timestamp\":\"2026-03-01T08:00:00Z\",\"event_type\":\"idle\",\"worker_id\":\"w\","
        "\"workstation_id\":\"s\"}\n{\"timestamp\":\"2026-03-01T08:00:01Z\",\"event_type\":\"idle\","
        "\"worker_id\":\"w\",\"workstation_id\":\"s\"}\n",
        &r);
  CHECK(r.ferry);
  CHECK_EQ_STR(r.error, "");
  CHECK_EQ_INT(r.n, 2); /* NDJSON */
  mapping_result_clear(&r);
  mapping_free(m);
}

/* map with error / skip / keep; epoch conversions; skip rules; iterate. */
static void test_maps_skips_iterate(void) {
  mapping *m =
      load("{\"topics\":[{\"filter\":\"a/+\",\"iterate\":\"/objs\","
           "\"skip\":[{\"pointer\":\"/kind\",\"in\":[\"heartbeat\"]},"
           "          {\"item\":\"/label\",\"not_in\":[\"person\",\"worker\",\"robot\"]},"
           "          {\"item\":\"/ghost\",\"missing\":false,\"in\":[true]}],"
           "\"fields\":{\"event_id\":{\"concat\":[{\"pointer\":\"/frame\"},\".\",{\"item\":\"/tid\"}]},"
           "\"timestamp\":{\"pointer\":\"/t\",\"as\":\"epoch_ms\"},"
           "\"workstation_id\":{\"topic_level\":1},"
           "\"worker_id\":{\"item\":\"/tid\",\"as\":\"string\"},"
           "\"event_type\":{\"item\":\"/"
           "state\",\"map\":{\"busy\":\"working\",\"wait\":\"idle\",\"1\":\"working\"},"
           "               \"unmapped\":\"skip\"},"
           "\"attributes.label\":{\"item\":\"/label\",\"map\":{\"person\":\"human\"},\"unmapped\":\"keep\"}"
           "}},"
           "{\"filter\":\"b/#\",\"format\":\"mapped\",\"fields\":{\"event_id\":\"/"
           "id\",\"timestamp\":{\"pointer\":\"/t\","
           "\"as\":\"epoch_s\"},\"workstation_id\":{\"const\":\"s\"},\"worker_id\":{\"const\":\"w\"},"
           "\"event_type\":{\"pointer\":\"/state\",\"map\":{\"busy\":\"working\"}}}},"
           "{\"filter\":\"c\",\"format\":\"ferry\"}]}");
  CHECK(m != NULL);
  if (!m) return;
  mapping_result r;
  apply(m, "a/st1",
        "{\"frame\":9,\"t\":1772352000123,\"objs\":["
        "{\"tid\":1,\"label\":\"person\",\"state\":\"busy\"},"
        "{\"tid\":2,\"label\":\"dog\",\"state\":\"busy\"},"                     /* skipped: not_in */
        "{\"tid\":3,\"label\":\"worker\",\"state\":\"gone\"},"                  /* skipped: unmapped */
        "{\"tid\":4,\"label\":\"robot\",\"state\":1},"                          /* number → map key "1" */
        "{\"tid\":5,\"label\":\"person\",\"state\":\"wait\",\"ghost\":true}]}", /* skipped: in */
        &r);
  CHECK_EQ_STR(r.error, "");
  CHECK_EQ_INT(r.n, 2);
  CHECK_EQ_INT(r.skipped, 3);
  CHECK_EQ_STR(field(&r, 0, "event_id"), "\"9.1\"");
  CHECK_EQ_STR(field(&r, 0, "timestamp"), "\"2026-03-01T08:00:00.123Z\"");
  CHECK_EQ_STR(field(&r, 0, "event_type"), "\"working\"");
  CHECK_EQ_STR(field(&r, 0, "worker_id"), "\"1\"");
  CHECK_EQ_STR(field(&r, 0, "workstation_id"), "\"st1\"");
  CHECK_EQ_STR(field(&r, 0, "attributes.label"), "\"human\"");
  CHECK_EQ_STR(field(&r, 1, "event_id"), "\"9.4\"");
  CHECK_EQ_STR(field(&r, 1, "attributes.label"), "\"robot\""); /* keep */
  mapping_result_clear(&r);

  /* a message-level skip rule skips the whole message */
  apply(m, "a/st1", "{\"kind\":\"heartbeat\",\"objs\":[]}", &r);
  CHECK_EQ_STR(r.error, "");
  CHECK_EQ_INT(r.n, 0);
  CHECK_EQ_INT(r.skipped, 1);
  mapping_result_clear(&r);

  /* unmapped → error (the default), naming the rule and the value */
  apply(m, "b/x/y", "{\"id\":\"i\",\"t\":1772352000.5,\"state\":\"asleep\"}", &r);
  CHECK(strstr(r.error, "topics[1].fields.event_type.map") != NULL);
  CHECK(strstr(r.error, "\"asleep\"") != NULL);
  CHECK_EQ_INT(r.n, 0);
  mapping_result_clear(&r);
  apply(m, "b/x", "{\"id\":\"i\",\"t\":1772352000.5,\"state\":\"busy\"}", &r);
  CHECK_EQ_STR(r.error, "");
  CHECK_EQ_STR(field(&r, 0, "timestamp"), "\"2026-03-01T08:00:00.500Z\"");
  mapping_result_clear(&r);

  /* the bad payloads of SPEC §6.1, each with a reason naming the rule or field */
  apply(m, "b/x", "not json", &r);
  CHECK(strstr(r.error, "payload: not JSON") != NULL);
  mapping_result_clear(&r);
  apply(m, "b/x", "{\"t\":1772352000,\"state\":\"busy\"}", &r); /* missing pointer */
  CHECK(strstr(r.error, "topics[1].fields.event_id") && strstr(r.error, "\"/id\" not found"));
  mapping_result_clear(&r);
  apply(m, "b/x", "{\"id\":\"i\",\"t\":\"yesterday\",\"state\":\"busy\"}", &r);
  CHECK(strstr(r.error, "topics[1].fields.timestamp.as") != NULL);
  mapping_result_clear(&r);
  apply(m, "b/x", "{\"id\":\"i\",\"t\":100,\"state\":\"busy\"}", &r); /* 1970: before 2000 */
  CHECK(strstr(r.error, "topics[1].fields.timestamp: invalid timestamp") != NULL);
  mapping_result_clear(&r);
  apply(m, "b/x", "{\"id\":\"bad id with spaces\",\"t\":1772352000,\"state\":\"busy\"}", &r);
  CHECK(strstr(r.error, "topics[1].fields.event_id: invalid event_id") != NULL);
  mapping_result_clear(&r);
  apply(m, "a/st1", "{\"frame\":1,\"t\":1772352000000,\"objs\":{}}", &r);
  CHECK(strstr(r.error, "iterate") != NULL);
  mapping_result_clear(&r);
  size_t big = MAPPING_MAX_PAYLOAD + 1;
  char *huge = malloc(big + 1);
  memset(huge, ' ', big);
  huge[0] = '{';
  huge[big - 1] = '}';
  huge[big] = '\0';
  CHECK_EQ_INT(mapping_apply(m, "b/x", huge, big, 1 << 20, &r), 0);
  CHECK(strstr(r.error, "over the") != NULL);
  mapping_result_clear(&r);
  free(huge);
  /* ferry entry: invalid events are refused whole, naming index and field */
  apply(m, "c",
        "[{\"timestamp\":\"2026-03-01T08:00:00Z\",\"event_type\":\"idle\",\"worker_id\":\"w\","
        "\"workstation_id\":\"s\"},{\"timestamp\":\"x\"}]",
        &r);
  CHECK(r.ferry);
  CHECK(strstr(r.error, "event 1") != NULL);
  CHECK_EQ_INT(r.n, 0);
  mapping_result_clear(&r);
  mapping_free(m);
}

static void test_rule_errors(void) {
  load_fails("{\"topics\":[]}", "topics: an array of 1");
  load_fails("{\"topics\":[{\"filter\":\"a\",\"fields\":{\"timestamp\":\"/t\",\"event_type\":\"/e\","
             "\"workstation_id\":\"/w\"}}]}",
             "topics[0].fields.event_id: required");
  load_fails("{\"topics\":[{\"filter\":\"a\",\"fields\":{\"event_id\":{\"const\":\"x\"},\"timestamp\":\"/t\","
             "\"event_type\":\"/e\",\"workstation_id\":\"/w\"}}]}",
             "topics[0].fields.event_id: event_id must come from the source's own ids");
  load_fails("{\"topics\":[{\"filter\":\"a\",\"fields\":{\"event_id\":\"/i\",\"timestamp\":\"/t\","
             "\"event_type\":\"/e\",\"workstation_id\":{\"pointer\":\"w\"}}}]}",
             "topics[0].fields.workstation_id.pointer: not a JSON Pointer");
  load_fails("{\"topics\":[{\"filter\":\"a\",\"fields\":{\"event_id\":\"/i\",\"timestamp\":\"/t\","
             "\"event_type\":\"/e\",\"workstation_id\":{\"item\":\"/w\"}}}]}",
             "only an entry with \"iterate\" has items");
  load_fails("{\"topics\":[{\"filter\":\"a\",\"fields\":{\"event_id\":\"/i\",\"timestamp\":\"/t\","
             "\"event_type\":\"/e\",\"workstation_id\":{\"pointer\":\"/w\",\"const\":1}}}]}",
             "needs exactly one source");
  load_fails("{\"topics\":[{\"filter\":\"a\",\"fields\":{\"event_id\":\"/i\",\"timestamp\":\"/t\","
             "\"event_type\":\"/e\",\"workstation\":\"/w\"}}]}",
             "topics[0].fields.workstation: not an event field");
  load_fails("{\"topics\":[{\"filter\":\"a/#/b\",\"fields\":{}}]}", "misplaced wildcard");
  load_fails("{\"topics\":[{\"filter\":\"a\",\"fields\":{\"event_id\":\"/i\",\"timestamp\":\"/t\","
             "\"event_type\":{\"pointer\":\"/e\",\"unmapped\":\"skip\"},\"workstation_id\":\"/w\"}}]}",
             "unmapped: only with map");
  load_fails("{\"topics\":[{\"filter\":\"a\",\"fields\":{\"event_id\":\"/i\",\"timestamp\":\"/t\","
             "\"event_type\":\"/e\",\"workstation_id\":\"/w\"},\"skip\":[{\"pointer\":\"/k\"}]}]}",
             "topics[0].skip[0]: says when to skip");
  load_fails(
      "{\"topics\":[{\"filter\":\"a\",\"fields\":{\"event_id\":\"/i\",\"timestamp\":\"/t\","
      "\"event_type\":\"/e\",\"workstation_id\":\"/w\",\"count\":{\"pointer\":\"/c\",\"as\":\"hex\"}}}]}",
      "topics[0].fields.count.as");
  load_fails("{\"topics\":[{\"filter\":\"a\",\"format\":\"ferry\",\"fields\":{}}]}",
             "a ferry entry takes no");
  load_fails("{\"topics\":[{\"filter\":\"a\",\"format\":\"ferry\",\"filter\":\"b\"}]}", "duplicate");
  load_fails("{\"topics\":[{\"filter\":\"a\",\"format\":\"ferry\"}], /* open", "comment");
  load_fails("{\"topic\":[]}", "unknown key \"topic\"");
}

/* The shipped mappings over hand-written payloads in each schema. */
static void test_shipped(void) {
  mapping *full = NULL, *min = NULL, *frig = NULL;
  CHECK_EQ_INT(mapping_load_file(MAPPINGS "deepstream-full.jsonc", &full, err, sizeof err), 0);
  CHECK_EQ_INT(mapping_load_file(MAPPINGS "deepstream-minimal.jsonc", &min, err, sizeof err), 0);
  CHECK_EQ_INT(mapping_load_file(MAPPINGS "frigate.jsonc", &frig, err, sizeof err), 0);
  if (!full || !min || !frig) {
    fprintf(stderr, "%s\n", err);
    return;
  }
  size_t len;
  char *p;
  mapping_result r;
  struct {
    const mapping *m;
    const char *topic, *file;
    size_t n, skipped;
    const char *id0, *type0, *worker0, *station0, *ts0;
  } cases[] = {
      {full, "deepstream/cam-07/events", "ds-full-entry.json", 1, 0,
       "\"ds:3f0c2a4e-8d61-4b7a-9c55-0e2b9d7f1a01\"", "\"working\"", "\"track-17\"", "\"station-3\"",
       "\"2026-03-01T08:00:00.120Z\""},
      {full, "deepstream/cam-07/events", "ds-full-stopped.json", 1, 0, NULL, "\"idle\"", NULL, NULL, NULL},
      {full, "deepstream/cam-07/events", "ds-full-vehicle.json", 0, 1, NULL, NULL, NULL, NULL, NULL},
      {min, "deepstream/cam-07/frames", "ds-minimal.json", 2, 1, "\"ds:cam-07:1547:17\"", "\"working\"",
       "\"track-17\"", "\"station-3\"", "\"2026-03-01T08:00:00.040Z\""},
      {frig, "frigate/events", "frigate-new.json", 1, 0, "\"frigate:1772352000.104512-k3x9qa:new\"",
       "\"working\"", "\"person@line2_cam\"", "\"station_3\"", "\"2026-03-01T08:00:00.104Z\""},
      {frig, "frigate/events", "frigate-end.json", 1, 0, "\"frigate:1772352000.104512-k3x9qa:end\"",
       "\"absent\"", "\"anna\"", "\"station_3\"", "\"2026-03-01T09:00:00.250Z\""},
      {frig, "frigate/events", "frigate-update.json", 0, 1, NULL, NULL, NULL, NULL, NULL},
      {frig, "frigate/events", "frigate-car.json", 0, 1, NULL, NULL, NULL, NULL, NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char path[512];
    snprintf(path, sizeof path, PAYLOADS "%s", cases[i].file);
    p = slurp(path, &len);
    CHECK(p != NULL);
    if (!p) continue;
    CHECK_EQ_INT(mapping_apply(cases[i].m, cases[i].topic, p, len, 1 << 20, &r), 0);
    if (r.error[0]) fprintf(stderr, "%s: %s\n", cases[i].file, r.error);
    CHECK_EQ_STR(r.error, "");
    CHECK(!r.ferry);
    CHECK_EQ_INT(r.n, cases[i].n);
    CHECK_EQ_INT(r.skipped, cases[i].skipped);
    if (cases[i].id0) CHECK_EQ_STR(field(&r, 0, "event_id"), cases[i].id0);
    if (cases[i].type0) CHECK_EQ_STR(field(&r, 0, "event_type"), cases[i].type0);
    if (cases[i].worker0) CHECK_EQ_STR(field(&r, 0, "worker_id"), cases[i].worker0);
    if (cases[i].station0) CHECK_EQ_STR(field(&r, 0, "workstation_id"), cases[i].station0);
    if (cases[i].ts0) CHECK_EQ_STR(field(&r, 0, "timestamp"), cases[i].ts0);
    /* a redelivery maps to the same ids (the journal dedups on them) */
    mapping_result again;
    CHECK_EQ_INT(mapping_apply(cases[i].m, cases[i].topic, p, len, 1 << 20, &again), 0);
    CHECK_EQ_INT(again.n, r.n);
    for (size_t k = 0; k < r.n && k < again.n; k++)
      CHECK_EQ_STR(again.events[k].event_id, r.events[k].event_id);
    mapping_result_clear(&again);
    mapping_result_clear(&r);
    free(p);
  }
  /* the DeepStream full mapping on a payload missing its messageid */
  const char *no_id =
      "{\"@timestamp\":\"2026-03-01T08:00:00Z\",\"place\":{\"name\":\"s\"},"
      "\"object\":{\"id\":\"1\",\"person\":{}},\"event\":{\"type\":\"entry\"},\"sensor\":{\"id\":\"c\"}}";
  apply(full, "deepstream/c/events", no_id, &r);
  CHECK(strstr(r.error, "topics[0].fields.event_id: pointer \"/messageid\" not found") != NULL);
  mapping_result_clear(&r);
  mapping_free(full);
  mapping_free(min);
  mapping_free(frig);
}

int main(void) {
  test_pointer();
  test_sources();
  test_maps_skips_iterate();
  test_rule_errors();
  test_shipped();
  return check_finish("test_agent_mapping");
}
