/* fuzz_collector_export_query: the cursor, limit and max_confidence of
 * GET /v1/events/export come from any client holding the read token. The
 * input is up to three lines: after, limit, max_confidence. A cursor that
 * parses must format back to a cursor that parses to the same key; limits
 * and confidences that parse must be in range. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "export_query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *buf = malloc(size + 1);
  if (!buf) return 0;
  memcpy(buf, data, size);
  buf[size] = '\0';
  char *parts[3] = {NULL, NULL, NULL};
  char *p = buf;
  for (int i = 0; i < 3 && p; i++) {
    parts[i] = p;
    char *nl = strchr(p, '\n');
    if (nl) *nl = '\0';
    p = nl ? nl + 1 : NULL;
  }
  st_export_key k, k2;
  if (exq_cursor_parse(parts[0], &k) == 0) {
    char c[EXPORT_CURSOR_MAX + 1];
    exq_cursor_format(&k, c);
    if (exq_cursor_parse(c, &k2) != 0 || k2.ts_ms != k.ts_ms || strcmp(k2.agent_id, k.agent_id) != 0 ||
        strcmp(k2.event_id, k.event_id) != 0 || !k.agent_id[0] || !k.event_id[0])
      abort();
  }
  int64_t l;
  if (exq_limit(parts[1], &l) == 0 && (l < 1 || l > EXPORT_MAX_LIMIT)) abort();
  double d;
  if (exq_max_confidence(parts[2], &d) == 0 && !(d >= 0 && d <= 1)) abort();
  free(buf);
  return 0;
}
