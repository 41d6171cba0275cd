/* strbuf: the one growable text buffer of ferry. Every buffer has a bound it
 * may never grow past (a Prometheus page, a decoded request body, an SQL
 * array literal): an append that would cross it fails cleanly with -ENOSPC,
 * an allocation failure with -ENOMEM. The first failure sticks in err, and
 * later appends do nothing, so a writer can append a whole page and check
 * once at the end. The text is always NUL-terminated once anything was
 * added. */
#ifndef FERRY_STRBUF_H
#define FERRY_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct strbuf {
  char *p;    /* the text, NUL-terminated (NULL until the first byte is room) */
  size_t len; /* bytes of text, the NUL not counted */
  size_t cap; /* bytes allocated (text + NUL) */
  size_t max; /* most bytes of text the buffer may hold */
  int err;    /* 0, or the first failure: -ENOSPC (past max) or -ENOMEM */
  bool fixed; /* p is the caller's storage of cap bytes: never reallocated or freed */
} strbuf;

/* A buffer allocated on demand, holding at most max bytes of text. */
void sb_init(strbuf *b, size_t max);
/* A buffer over the caller's storage (cap bytes, NUL included): it never
 * grows, text past cap - 1 bytes is -ENOSPC. */
void sb_init_fixed(strbuf *b, char *buf, size_t cap);

/* Append; 0 or the buffer's error (-ENOSPC, -ENOMEM), which sticks. The
 * common case (room already there) is inline: upload bodies and /metrics
 * pages are built from many small appends. */
int sb__add_slow(strbuf *b, const void *s, size_t n);
static inline int sb_add(strbuf *b, const void *s, size_t n) {
  if (!b->err && n < b->cap - b->len) { /* cap <= max + 1: within the bound too */
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
  }
  return sb__add_slow(b, s, n);
}
static inline int sb_addc(strbuf *b, char c) { return sb_add(b, &c, 1); }
int sb_adds(strbuf *b, const char *s); /* a C string (NULL adds nothing) */
int sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sb_vprintf(strbuf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Room to write into directly (a decompressor's output): make at least one
 * and up to want spare bytes after the text (fewer only when max allows no
 * more), growing to at least twice the size held. 0, -ENOSPC when the text is
 * already max bytes long, -ENOMEM. Then write at sb_room() and sb_advance(). */
int sb_grow(strbuf *b, size_t want);
static inline char *sb_room(const strbuf *b) { return b->p + b->len; }
static inline size_t sb_room_len(const strbuf *b) { return b->cap ? b->cap - 1 - b->len : 0; }
void sb_advance(strbuf *b, size_t n); /* n bytes written at sb_room() become text */

/* Empty the text (keeping the memory) and forget a failure. */
void sb_reset(strbuf *b);
/* Cut the text back to len bytes (a mark taken before some appends) and
 * forget a failure: undoes what was appended since the mark. */
void sb_truncate(strbuf *b, size_t len);
/* Hand the text over (caller frees; NULL when nothing was ever added) and
 * leave the buffer empty. Not for fixed buffers. */
char *sb_release(strbuf *b, size_t *ret_len);
/* Free the memory (not a fixed buffer's) and empty the buffer. */
void sb_clear(strbuf *b);

#endif
