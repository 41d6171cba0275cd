/* event_text: the byte-level pieces of the event parser — UTF-8 decoding and
 * validation, cutting text on a UTF-8 boundary — and the error list every
 * gate reports into. A leaf: it calls nothing else of the event files. */
#include "event_int.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- UTF-8 ----------------------------------------------------------------- */

/* Decode one code point at s (n bytes available). Returns its length, or 0
 * for an invalid sequence: truncated, overlong, surrogate or > U+10FFFF. */
size_t ev__utf8_decode(const unsigned char *s, size_t n, uint32_t *ret_cp) {
  unsigned char c = s[0];
  if (c < 0x80) {
    *ret_cp = c;
    return 1;
  }
  size_t len;
  uint32_t cp, min;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2, cp = c & 0x1F, min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3, cp = c & 0x0F, min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return 0; /* continuation byte, C0/C1 (always overlong) or F5..FF */
  }
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  *ret_cp = cp;
  return len;
}

/* Offset of the first byte that is not part of valid UTF-8, or len. */
size_t ev__utf8_first_bad(const char *buf, size_t len) {
  const unsigned char *s = (const unsigned char *)buf;
  size_t i = 0;
  while (i < len) {
    /* Bodies are mostly ASCII: skip 8 bytes at a time while no high bit. */
    while (i + 8 <= len) {
      uint64_t w;
      memcpy(&w, s + i, 8);
      if (w & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= len) break;
    if (s[i] < 0x80) {
      i++;
      continue;
    }
    uint32_t cp;
    size_t l = ev__utf8_decode(s + i, len - i, &cp);
    if (!l) return i;
    i += l;
  }
  return len;
}

/* Returns 1 when buf is valid UTF-8, 0 when it is not. */
int ev_utf8_valid(const char *buf, size_t len) {
  if (!buf) return len == 0;
  return ev__utf8_first_bad(buf, len) == len;
}

/* Length of the longest prefix of s[0..n) that does not end inside a
 * multi-byte sequence, so truncated text stays valid UTF-8. */
size_t ev__utf8_clip(const char *s, size_t n) {
  size_t i = n, back = 0;
  while (i > 0 && back < 3 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) i--, back++;
  if (i == 0) return n;
  unsigned char lead = (unsigned char)s[i - 1];
  size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  return n - (i - 1) < need ? i - 1 : n;
}

/* ---- errors -------------------------------------------------------------------- */

/* Fill one error; field and message are cut on a UTF-8 boundary. */
void ev__error_vset(ev_error *e, int index, const char *field, const char *fmt, va_list ap) {
  e->index = index;
  if (!field) field = "";
  size_t fl = ev__utf8_clip(field, strnlen(field, sizeof e->field - 1));
  memcpy(e->field, field, fl);
  e->field[fl] = '\0';
  int r = vsnprintf(e->message, sizeof e->message, fmt, ap);
  if (r < 0) e->message[0] = '\0';
  else if ((size_t)r >= sizeof e->message)
    e->message[ev__utf8_clip(e->message, sizeof e->message - 1)] = '\0';
}

void ev_errors_add(ev_errors *errs, int index, const char *field, const char *fmt, ...) {
  if (!errs) return;
  errs->total++;
  if (errs->n >= EV_MAX_ERRORS) return;
  va_list ap;
  va_start(ap, fmt);
  ev__error_vset(&errs->items[errs->n++], index, field, fmt, ap);
  va_end(ap);
}
