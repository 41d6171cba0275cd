/* fuzz_mapping: the MQTT mapping engine over arbitrary bytes. An input
 * starting with 'M' is a mapping file (operator input: the loader must refuse
 * with one line, never crash); any other input is "TOPIC\nPAYLOAD" applied to
 * a fixed mapping that uses every rule kind (broker input: untrusted). Each
 * result must be consistent: an error and no events, or events that carry an
 * event_id. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapping.h"

static const char rules[] =
    "{\"topics\":["
    "{\"filter\":\"it/+/#\",\"iterate\":\"/objs\","
    " \"skip\":[{\"pointer\":\"/kind\",\"in\":[\"hb\",1,true]},{\"item\":\"/l\",\"not_in\":[\"p\",\"q\"]},"
    "          {\"item\":\"/g\",\"missing\":true}],"
    " \"fields\":{\"event_id\":{\"concat\":[{\"pointer\":\"/f\"},\":\",{\"item\":\"/"
    "id\"},{\"topic_level\":-1}]},"
    "  "
    "\"timestamp\":{\"first_of\":[{\"item\":\"/t\"},{\"pointer\":\"/"
    "ts\"}],\"as\":\"auto\"},"
    "  \"event_type\":{\"item\":\"/s\",\"map\":{\"a\":\"working\",\"b\":\"idle\",\"2\":\"absent\",\"true\":"
    "\"product_count\"},\"unmapped\":\"skip\"},"
    "  \"worker_id\":{\"item\":\"/code\",\"split\":\"|\",\"index\":1,\"default\":\"w\"},"
    "  "
    "\"workstation_id\":{\"topic_level\":1},\"count\":{\"item\":\"/n\",\"as\":\"integer\",\"optional\":true},"
    "  \"confidence\":{\"item\":\"/c\",\"as\":\"number\",\"optional\":true},"
    "  \"attributes.x\":{\"item\":\"\",\"optional\":true},\"camera_id\":{\"topic\":true}}},"
    "{\"filter\":\"one/#\",\"skip\":[{\"pointer\":\"/type\",\"in\":[\"update\"]}],"
    " \"fields\":{\"event_id\":\"/id\",\"timestamp\":{\"pointer\":\"/t\",\"as\":\"epoch_s\"},"
    "  \"event_type\":{\"pointer\":\"/type\",\"map\":{\"new\":\"working\",\"end\":\"absent\"}},"
    "  \"worker_id\":{\"first_of\":[{\"pointer\":\"/w/0\"},{\"pointer\":\"/w\"},{\"const\":\"anon\"}]},"
    "  \"workstation_id\":{\"pointer\":\"/z\",\"map\":{\"a\":\"s1\"},\"unmapped\":\"keep\"},"
    "  \"model_version\":{\"pointer\":\"/m\",\"as\":\"string\",\"optional\":true}}},"
    "{\"filter\":\"f\",\"format\":\"ferry\"}]}";

static mapping *fixed;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[512];
  if (size && data[0] == 'M') {
    mapping *m = NULL;
    err[0] = '\0';
    int r = mapping_load_text((const char *)data + 1, size - 1, "fuzz.jsonc", &m, err, sizeof err);
    if (r < 0 && (!err[0] || strchr(err, '\n'))) abort(); /* one line, always */
    if (r == 0 && (!m || !m->n)) abort();
    mapping_free(m);
    return 0;
  }
  if (!fixed && mapping_load_text(rules, strlen(rules), "fixed", &fixed, err, sizeof err) < 0) {
    fprintf(stderr, "%s\n", err);
    abort();
  }
  const uint8_t *nl = memchr(data, '\n', size);
  size_t tl = nl ? (size_t)(nl - data) : 0;
  char topic[256];
  if (tl >= sizeof topic) tl = sizeof topic - 1;
  memcpy(topic, data, tl);
  topic[tl] = '\0';
  if (strlen(topic) != tl) return 0; /* MQTT topics hold no NUL */
  const char *payload = nl ? (const char *)nl + 1 : (const char *)data;
  size_t plen = nl ? size - (size_t)(nl + 1 - data) : size;
  mapping_result r;
  if (mapping_apply(fixed, topic, payload, plen, 64 * 1024, &r) < 0) return 0;
  if (r.error[0] && r.n) abort();
  for (size_t i = 0; i < r.n; i++)
    if (!r.ferry && !r.events[i].event_id) abort(); /* mapped events always carry the source's id */
  mapping_result_clear(&r);
  return 0;
}
