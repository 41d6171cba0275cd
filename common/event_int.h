/* event_int: what the event parser's files share, internal to common/.
 * event_text.c (UTF-8, the error list) is a leaf; event_json.c (strict-JSON
 * gates) uses it; event.c (field rules, normal form) uses both; event_body.c
 * (bodies, the batch) runs every gate on each event it finds. */
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

/* ---- event_text.c ---- */

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

/* ---- event_json.c ---- */

/* The first duplicated key of obj in *ret_dup (NULL if none): 0, or -ENOMEM. */
int ev__find_dup_key(const cJSON *obj, const char **ret_dup);

enum { TREE_OK = 0, TREE_DUP, TREE_DEEP, TREE_NOMEM };

/* Walk node at level for duplicate keys and nesting past max: TREE_OK, or
 * TREE_DUP (*ret_dup names the key), TREE_DEEP, TREE_NOMEM. */
int ev__tree_walk(const cJSON *node, int level, int max, const char **ret_dup);

/* What scan_json learns, when asked, about whether the text is already its
 * own normal form: exactly what cJSON_PrintUnformatted prints for the tree
 * cJSON parses from it, with no top-level null. Conservative: `ok` false
 * only means "print it to know". */
typedef struct scan_canon {
  bool ok;
  bool attr_seen;     /* a top-level "attributes" value was found */
  size_t attr_len;    /* the first one's text length (cJSON's print of it when ok) */
  bool keys_distinct; /* no two top-level keys alike (conservative: false only means "look") */
} scan_canon;

/* Lexical scan of one event's raw text s (n bytes at offset base of the
 * body): 0, or -EINVAL with the error added to errs for event index (syntax
 * errors for body_index). cn, when not NULL, learns whether the text is its
 * own normal form. */
int ev__scan_event(const char *s, size_t n, int index, int body_index, size_t base, ev_errors *errs,
                   scan_canon *cn);

/* The scan of one element of a JSON array in the pass that finds where it
 * ends: s is the element's first byte, n runs to the end of the array. 0:
 * the text is clean as far as ev__scan_event looks, *ret_stop is the offset
 * of the ',', ']' or '}' that ends it at depth 0 (blanks before it are not
 * the element's), cn learnt as ev__scan_event would on the element alone.
 * -1: the scan found something wrong or no such byte; nothing is reported:
 * the caller splits and scans that element apart, as ev_parse_body does. */
int ev__scan_element(const char *s, size_t n, size_t base, size_t *ret_stop, scan_canon *cn);

/* ---- event.c ---- */

typedef struct fields {
  const cJSON *event_id, *timestamp, *event_type, *worker_id, *workstation_id, *count, *confidence,
      *camera_id, *model_version, *attributes, *seq, *ingested_at;
} fields;

/* What check_event learned, for build_event. */
typedef struct checked {
  int64_t ts_ms, count, seq, ingested_at_ms;
  ev_type type;
  char *attributes; /* attributes as cJSON printed them (cJSON_malloc'd) or NULL */
  fields f;         /* the object's known fields as checked (before any edit) */
} checked;

/* "null", "a number", ... for messages. */
const char *ev__json_type(const cJSON *v);
/* Every rule of SPEC §1 on one event object, all errors added to errs;
 * returns how many. cn (may be NULL) is what the scan learnt of its text. */
size_t ev__check_event_cn(const cJSON *obj, size_t raw_len, int index, unsigned flags, ev_errors *errs,
                          checked *ck, const scan_canon *cn);
/* Frees what ck holds. */
void ev__checked_done(checked *ck);
/* obj (checked) turned into its normal form in place, *ret filled: 0 or
 * -ENOMEM. */
int ev__build_event(cJSON *obj, const checked *ck, size_t raw_len, unsigned flags, ev_event *ret);

#endif
