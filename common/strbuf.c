/* strbuf: see strbuf.h. One implementation of "append, grow by doubling, stop
 * at a bound", instead of one per module. */
#include "strbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SB_FIRST 256

void sb_init(strbuf *b, size_t max) {
  memset(b, 0, sizeof(*b));
  b->max = max < SIZE_MAX / 2 ? max : SIZE_MAX / 2;
}

void sb_init_fixed(strbuf *b, char *buf, size_t cap) {
  memset(b, 0, sizeof(*b));
  b->fixed = true;
  b->p = buf;
  b->cap = cap;
  b->max = cap ? cap - 1 : 0;
  if (cap) buf[0] = '\0';
}

static int sb__fail(strbuf *b, int err) {
  if (!b->err) b->err = err;
  return b->err;
}

/* Capacity for at least need bytes of text plus the NUL, doubling. */
static int sb__cap(strbuf *b, size_t need) {
  if (need > b->max) return sb__fail(b, -ENOSPC);
  if (need < b->cap) return 0;
  if (b->fixed) return sb__fail(b, -ENOSPC);
  size_t cap = b->cap ? b->cap : SB_FIRST;
  while (cap <= need) cap *= 2; /* need <= max <= SIZE_MAX / 2: no overflow */
  if (cap > b->max + 1) cap = b->max + 1;
  char *p = realloc(b->p, cap);
  if (!p) return sb__fail(b, -ENOMEM);
  b->p = p;
  b->cap = cap;
  return 0;
}

int sb__add_slow(strbuf *b, const void *s, size_t n) {
  if (b->err) return b->err;
  if (n > b->max - b->len) return sb__fail(b, -ENOSPC);
  int r = sb__cap(b, b->len + n);
  if (r < 0) return r;
  if (n) memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
  return 0;
}

int sb_adds(strbuf *b, const char *s) { return s ? sb_add(b, s, strlen(s)) : b->err; }

int sb_vprintf(strbuf *b, const char *fmt, va_list ap) {
  if (b->err) return b->err;
  va_list ap2;
  va_copy(ap2, ap);
  size_t room = b->cap ? b->cap - b->len : 0;
  int n = vsnprintf(room ? b->p + b->len : NULL, room, fmt, ap2);
  va_end(ap2);
  if (n < 0) return sb__fail(b, -EINVAL);
  if ((size_t)n >= room) {
    if ((size_t)n > b->max - b->len) {
      if (room) b->p[b->len] = '\0'; /* the text stays what it was */
      return sb__fail(b, -ENOSPC);
    }
    int r = sb__cap(b, b->len + (size_t)n);
    if (r < 0) {
      if (room) b->p[b->len] = '\0';
      return r;
    }
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
  }
  b->len += (size_t)n;
  return 0;
}

int sb_printf(strbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = sb_vprintf(b, fmt, ap);
  va_end(ap);
  return r;
}

int sb_grow(strbuf *b, size_t want) {
  if (b->err) return b->err;
  if (b->len >= b->max) return sb__fail(b, -ENOSPC);
  if (want == 0) want = 1;
  if (b->len + 1 < b->cap) return 0;                /* some room already */
  size_t twice = b->cap > b->len ? b->cap : b->len; /* at least double what is held */
  if (want < twice) want = twice;
  if (want > b->max - b->len) want = b->max - b->len;
  size_t need = b->len + want;
  if (b->fixed) return sb__fail(b, -ENOSPC);
  char *p = realloc(b->p, need + 1);
  if (!p) return sb__fail(b, -ENOMEM);
  b->p = p;
  b->cap = need + 1;
  b->p[b->len] = '\0';
  return 0;
}

void sb_advance(strbuf *b, size_t n) {
  if (n > sb_room_len(b)) n = sb_room_len(b);
  b->len += n;
  if (b->cap) b->p[b->len] = '\0';
}

void sb_reset(strbuf *b) {
  b->len = 0;
  b->err = 0;
  if (b->cap) b->p[0] = '\0';
}

void sb_truncate(strbuf *b, size_t len) {
  if (len < b->len) b->len = len;
  b->err = 0;
  if (b->cap) b->p[b->len] = '\0';
}

char *sb_release(strbuf *b, size_t *ret_len) {
  char *p = b->fixed ? NULL : b->p;
  if (ret_len) *ret_len = b->len;
  size_t max = b->max;
  if (!b->fixed) memset(b, 0, sizeof(*b));
  else sb_reset(b);
  b->max = max;
  return p;
}

void sb_clear(strbuf *b) {
  if (!b->fixed) {
    free(b->p);
    b->p = NULL;
    b->cap = 0;
  }
  b->len = 0;
  b->err = 0;
  if (b->cap) b->p[0] = '\0';
}
