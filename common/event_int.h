/* event_int: what the event parser's files share (internal to common/):
 * event_text.c (UTF-8, the error list), event_json.c (strict-JSON gates) and
 * event.c (field rules, normal form, bodies), which calls the other two. */
#ifndef FERRY_EVENT_INT_H
#define FERRY_EVENT_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "event.h"

static inline bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* event_text.c */
/* One code point from s (n bytes): its length, 0 when the bytes are not
 * well-formed UTF-8 there. */
size_t ev__utf8_decode(const unsigned char *s, size_t n, uint32_t *ret_cp);
/* Offset of the first byte that is not well-formed UTF-8, or len. */
size_t ev__utf8_first_bad(const char *buf, size_t len);
/* n, cut back so it does not end inside a UTF-8 sequence. */
size_t ev__utf8_clip(const char *s, size_t n);
/* Fill one error; field and message are cut on a UTF-8 boundary. */
void ev__error_vset(ev_error *e, int index, const char *field, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/* event_json.c */
/* The first duplicated key of obj in *ret_dup (NULL if none): 0, or -ENOMEM. */
int ev__find_dup_key(const cJSON *obj, const char **ret_dup);
/* Walk node at level: TREE_OK, or TREE_DUP (*ret_dup names the key),
 * TREE_DEEP (nesting past max), TREE_NOMEM. */
enum { TREE_OK = 0, TREE_DUP, TREE_DEEP, TREE_NOMEM };
int ev__tree_walk(const cJSON *node, int level, int max, const char **ret_dup);
/* Lexical scan of one event's raw text s (n bytes at offset base of the
 * body): 0, or -EINVAL with the error added to errs for event index. */
int ev__scan_event(const char *s, size_t n, int index, int body_index, size_t base, ev_errors *errs);

#endif
