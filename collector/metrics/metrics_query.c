/* metrics_query: see metrics_query.h. */
#include "metrics_query.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "timefmt.h"

#define MQ_VALUE_MAX 64 /* longer than any RFC 3339 time we accept */

static bool mq__digit(char c) { return c >= '0' && c <= '9'; }

static int mq__time(const char *v, int64_t *ret) {
  size_t n = strlen(v);
  if (n == 0 || n > MQ_VALUE_MAX) return -EINVAL;
  char buf[MQ_VALUE_MAX + 1];
  memcpy(buf, v, n + 1);
  /* "...T08:00:00 02:00": the '+' of the offset became a space */
  if (n >= 6 && buf[n - 6] == ' ' && mq__digit(buf[n - 5]) && mq__digit(buf[n - 4]) && buf[n - 3] == ':' &&
      mq__digit(buf[n - 2]) && mq__digit(buf[n - 1]))
    buf[n - 6] = '+';
  return tf_parse_rfc3339(buf, n, ret);
}

int mq_window(const char *from, const char *to, int64_t now_ms, int64_t *ret_from_ms, int64_t *ret_to_ms,
              const char **ret_param, char *msg, size_t msglen) {
  int64_t f = 0, t = now_ms;
  if (to && mq__time(to, &t) < 0) {
    *ret_param = "to";
    snprintf(msg, msglen, "to: not an RFC 3339 date-time (e.g. 2026-03-01T08:00:00Z)");
    return -EINVAL;
  }
  if (from && mq__time(from, &f) < 0) {
    *ret_param = "from";
    snprintf(msg, msglen, "from: not an RFC 3339 date-time (e.g. 2026-03-01T08:00:00Z)");
    return -EINVAL;
  }
  if (!from) f = t - MQ_DEFAULT_WINDOW_MS;
  if (f >= t) {
    *ret_param = "from";
    snprintf(msg, msglen, "from: must be before to");
    return -EINVAL;
  }
  if (t - f > MQ_MAX_WINDOW_MS) {
    *ret_param = "to";
    snprintf(msg, msglen, "to: the window may not be longer than 93 days");
    return -EINVAL;
  }
  *ret_from_ms = f;
  *ret_to_ms = t;
  return 0;
}

static int mq__hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF). */
static bool mq__utf8(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    size_t k;
    unsigned min, cp;
    if (c < 0x80) {
      i++;
      continue;
    }
    if ((c & 0xe0) == 0xc0) {
      k = 1;
      cp = c & 0x1f;
      min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      k = 2;
      cp = c & 0x0f;
      min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      k = 3;
      cp = c & 0x07;
      min = 0x10000;
    } else return false;
    for (size_t j = 1; j <= k; j++) {
      if (i + j >= n || (s[i + j] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (s[i + j] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += k + 1;
  }
  return true;
}

int mq_path_id(const char *raw_path, const char *prefix, char out[MQ_ID_MAX + 1]) {
  size_t pl = strlen(prefix);
  if (strncmp(raw_path, prefix, pl) != 0) return -ENOENT;
  const char *seg = raw_path + pl;
  if (!*seg || strchr(seg, '/')) return -ENOENT;
  size_t n = 0;
  for (const char *p = seg; *p; p++) {
    int c = (unsigned char)*p;
    if (c == '%') {
      int hi = mq__hex(p[1]), lo = hi < 0 ? -1 : mq__hex(p[2]);
      if (hi < 0 || lo < 0) return -EINVAL;
      c = hi * 16 + lo;
      p += 2;
      if (c == 0) return -EINVAL;
    }
    if (n == MQ_ID_MAX) return -E2BIG;
    out[n++] = (char)c;
  }
  out[n] = '\0';
  return mq__utf8((const unsigned char *)out, n) ? 0 : -EINVAL;
}
