/* fuzz_agent_retry_after: the parsers of time values that arrive from the
 * network — the collector's Retry-After header (delay-seconds or HTTP-date,
 * agent/uploader/uploader.c) and the HTTP-date and RFC 3339 readers behind it
 * (common/timefmt.c) — over arbitrary bytes. Besides not crashing: a parsed
 * Retry-After is never negative or NaN, and every RFC 3339 time that parses
 * formats back to a string that parses to the same instant. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "timefmt.h"
#include "uploader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0;
  char *s = malloc(size + 1);
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  const int64_t now = 1772352000000LL; /* 2026-03-01T08:00:00Z */
  double delay = -1;
  if (up_parse_retry_after(s, now, &delay) == 0 && (isnan(delay) || delay < 0)) abort();
  int64_t ms;
  (void)tf_parse_http_date(s, &ms);
  if (tf_parse_rfc3339(s, size, &ms) == 0) {
    char out[TF_RFC3339_LEN];
    int64_t back;
    tf_format_ms(ms, out);
    if (tf_parse_rfc3339(out, strlen(out), &back) != 0 || back != ms) abort();
  }
  free(s);
  return 0;
}
