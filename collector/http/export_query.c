/* export_query: see export_query.h. */
#include "export_query.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int exq_limit(const char *v, int64_t *ret) {
  if (!v || *v < '0' || *v > '9') return -EINVAL;
  char *end = NULL;
  errno = 0;
  long long l = strtoll(v, &end, 10);
  if (errno || *end || l < 1 || l > EXPORT_MAX_LIMIT) return -EINVAL;
  *ret = l;
  return 0;
}

int exq_max_confidence(const char *v, double *ret) {
  if (!v || !*v) return -EINVAL;
  char *end = NULL;
  double d = strtod(v, &end);
  if (*end || !(d >= 0 && d <= 1)) return -EINVAL;
  *ret = d;
  return 0;
}

static int exq__hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

int exq_cursor_parse(const char *v, st_export_key *ret) {
  st_export_key k;
  memset(&k, 0, sizeof(k));
  if (!v || !(*v == '-' || (*v >= '0' && *v <= '9'))) return -EINVAL;
  char *end = NULL;
  errno = 0;
  long long ts = strtoll(v, &end, 10);
  if (errno || *end != '_') return -EINVAL;
  const char *p = end + 1;
  size_t n = 0;
  while (*p && *p != '_') {
    int hi = exq__hex(p[0]), lo = hi < 0 ? -1 : exq__hex(p[1]);
    if (lo < 0 || n + 1 >= sizeof(k.agent_id)) return -EINVAL;
    int c = hi * 16 + lo;
    if (c == 0) return -EINVAL;
    k.agent_id[n++] = (char)c;
    p += 2;
  }
  size_t idl = *p == '_' ? strlen(p + 1) : 0;
  if (n == 0 || idl == 0 || idl >= sizeof(k.event_id)) return -EINVAL;
  memcpy(k.event_id, p + 1, idl + 1);
  k.ts_ms = ts;
  *ret = k;
  return 0;
}

void exq_cursor_format(const st_export_key *k, char out[EXPORT_CURSOR_MAX + 1]) {
  int n = snprintf(out, EXPORT_CURSOR_MAX + 1, "%" PRId64 "_", k->ts_ms);
  for (const unsigned char *p = (const unsigned char *)k->agent_id; *p && n + 3 <= EXPORT_CURSOR_MAX; p++)
    n += snprintf(out + n, (size_t)(EXPORT_CURSOR_MAX + 1 - n), "%02x", *p);
  snprintf(out + n, (size_t)(EXPORT_CURSOR_MAX + 1 - n), "_%s", k->event_id);
}
