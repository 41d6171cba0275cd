/* fuzz_metrics_query: the metrics query parameters and {id} path
 * segment come from any client holding the read token, so mq_window and
 * mq_path_id must survive every input. The input is up to three lines: from,
 * to, raw path (a missing line is an absent parameter). On success the window
 * must be non-empty and at most 93 days, and the id at most MQ_ID_MAX bytes
 * without a NUL. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_query.h"

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
  int64_t f = 0, t = 0;
  const char *param = NULL;
  char msg[200];
  if (mq_window(parts[0], parts[1], INT64_C(1772352000000), &f, &t, &param, msg, sizeof(msg)) == 0) {
    if (!(f < t) || t - f > MQ_MAX_WINDOW_MS) abort();
  } else if (!param || (strcmp(param, "from") != 0 && strcmp(param, "to") != 0)) {
    abort();
  }
  if (parts[2]) {
    static const char *const prefixes[] = {"/v1/metrics/workers/", "/v1/metrics/workstations/"};
    for (int i = 0; i < 2; i++) {
      char id[MQ_ID_MAX + 1];
      if (mq_path_id(parts[2], prefixes[i], id) == 0 && (strlen(id) == 0 || strlen(id) > MQ_ID_MAX)) abort();
    }
  }
  free(buf);
  return 0;
}
