/* journal_sbuf.c: the bounded text buffer the upload body (journal_batch.c)
 * and the dead-letter export (journal_deadletter.c) are written into, with
 * the JSON string and timestamp writers both need. */
#define _GNU_SOURCE
#include "journal_int.h"

#include "timefmt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


void journal__sb_init(sbuf *b, size_t max) {
  memset(b, 0, sizeof(*b));
  b->max = max;
}
void journal__sb_free(sbuf *b) {
  free(b->p);
  memset(b, 0, sizeof(*b));
}

static bool sb_reserve(sbuf *b, size_t extra) {
  if (b->err) return false;
  if (extra > b->max || b->len > b->max - extra) {
    b->err = -EFBIG;
    return false;
  }
  size_t need = b->len + extra + 1;
  if (need <= b->cap) return true;
  size_t ncap = b->cap ? b->cap : 256;
  while (ncap < need) ncap *= 2;
  char *np = realloc(b->p, ncap);
  if (!np) {
    b->err = -ENOMEM;
    return false;
  }
  b->p = np;
  b->cap = ncap;
  return true;
}

void journal__sb_add(sbuf *b, const void *s, size_t n) {
  if (!sb_reserve(b, n)) return;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

void journal__sb_str(sbuf *b, const char *s) { journal__sb_add(b, s, strlen(s)); }

void journal__sb_fmt(sbuf *b, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof(tmp)) {
    b->err = b->err ? b->err : -EINVAL;
    return;
  }
  journal__sb_add(b, tmp, (size_t)n);
}

/* Append s as a JSON string literal (quoted, escaped; bytes ≥ 0x80 pass). */
void journal__sb_json_str(sbuf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  if (!sb_reserve(b, n + 2)) return;
  b->p[b->len++] = '"';
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch >= 0x20 && ch != '"' && ch != '\\') continue;
    journal__sb_add(b, s + run, i - run);
    run = i + 1;
    char esc[7];
    switch (ch) {
      case '"': journal__sb_add(b, "\\\"", 2); break;
      case '\\': journal__sb_add(b, "\\\\", 2); break;
      case '\n': journal__sb_add(b, "\\n", 2); break;
      case '\r': journal__sb_add(b, "\\r", 2); break;
      case '\t': journal__sb_add(b, "\\t", 2); break;
      default:
        memcpy(esc, "\\u00", 4);
        esc[4] = hex[ch >> 4];
        esc[5] = hex[ch & 15];
        journal__sb_add(b, esc, 6);
    }
  }
  journal__sb_add(b, s + run, n - run);
  journal__sb_add(b, "\"", 1);
}

void journal__sb_time(sbuf *b, int64_t ms) {
  char t[TF_RFC3339_LEN];
  tf_format_ms(ms, t);
  journal__sb_json_str(b, t, strlen(t));
}

bool journal__is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
