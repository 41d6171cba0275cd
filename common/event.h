/* event: the event model of SPEC §1 and its validator, shared by the agent
 * (which validates what an inference box posts) and the collector (which
 * re-validates what agents upload; it trusts nobody).
 *
 * Parsing is strict: invalid UTF-8, lone surrogates, duplicate keys and nesting
 * deeper than 32 levels (the event object is level 1) are refused; every
 * refusal names the field and the rule. The validated event is re-serialized
 * in a normal form (nulls removed, timestamp as UTC milliseconds text,
 * product_count's count defaulted to 1) that is what the journal stores and
 * what the collector receives. Unknown top-level fields pass through. */
#ifndef FERRY_EVENT_H
#define FERRY_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#define EV_MAX_BYTES      16384          /* one event, bytes as received */
#define EV_MAX_ATTR_BYTES 4096           /* attributes, serialized */
#define EV_MAX_DEPTH      32             /* nesting; the event object is level 1 */
#define EV_MAX_ERRORS     100            /* errors kept per request (the rest are counted) */
#define EV_ID_MAX         128            /* event_id */
#define EV_REF_MAX        64             /* worker_id / workstation_id, bytes */
#define EV_MIN_TS_MS      946684800000LL /* 2000-01-01T00:00:00Z */

typedef enum { EV_WORKING = 0, EV_IDLE, EV_ABSENT, EV_PRODUCT_COUNT } ev_type;

/* Flags for ev_validate / ev_parse_body. */
#define EV_FROM_AGENT \
  0x1 /* collector side: `seq` (integer ≥ 1) and `ingested_at`
                             (RFC 3339) are required and kept; `event_id` is required
                             and may start with "ferry:" */

typedef struct ev_error {
  int index;         /* 0-based position in the array / NDJSON line; -1 = whole body */
  char field[64];    /* the event's field name ("timestamp"), or "" for the event itself / body */
  char message[192]; /* what rule was broken, for a person */
} ev_error;

typedef struct ev_errors {
  ev_error items[EV_MAX_ERRORS];
  size_t n;     /* entries in items */
  size_t total; /* all errors seen (may exceed n) */
} ev_errors;

typedef struct ev_event {
  char *event_id; /* NULL when the source gave none (agent side only) */
  int64_t ts_ms;  /* UTC ms */
  ev_type type;
  char *worker_id; /* NULL when absent (product_count only) */
  char *workstation_id;
  int64_t count;          /* product_count: 1..1e6 (default 1); state events: 0 */
  int64_t seq;            /* EV_FROM_AGENT only, else 0 */
  int64_t ingested_at_ms; /* EV_FROM_AGENT only, else 0 */
  char *json;             /* normal form, NUL-terminated, without seq/ingested_at/event_id
                            when the source gave none; nulls removed; on state events
                            `count` is passed through as received; malloc'd */
  size_t json_len;
} ev_event;

typedef struct ev_batch {
  ev_event *items;
  size_t n;
  /* ev_parse_body_raw: one block holding the strings of the events it kept
   * as received (their pointers point into it); free such a batch only with
   * ev_batch_clear, never one item with ev_event_clear */
  char *block;
  size_t block_used, block_cap;
} ev_batch;

typedef enum { EV_BODY_JSON, EV_BODY_NDJSON } ev_body_kind;

/* Parse an ingest body: one object or an array of objects (EV_BODY_JSON), or
 * NDJSON (blank lines skipped but counted for index, "\r\n" accepted). All or
 * nothing: returns 0 with *ret filled, or -EINVAL with errs filled and *ret
 * untouched (-ENOMEM: out of memory, errs empty). An empty NDJSON body or "[]"
 * is 0 events; an empty JSON body is an error. flags: EV_FROM_AGENT or 0.
 * errs is reset first. Every error of every event is collected. An event's
 * size "as received" is its text from '{' to '}' (blanks around it, the
 * array's commas and a line's "\r\n" are not part of it). Index -1 marks an
 * error of the whole JSON body; errors in one array element or NDJSON line
 * carry that element's index or line number. */
int ev_parse_body(const char *body, size_t len, ev_body_kind kind, unsigned flags, ev_batch *ret,
                  ev_errors *errs);

/* ev_parse_body with the same rules, errors and results, in fewer passes:
 * the strict lexical scan also learns whether each event's text is already
 * what cJSON would print for it, and when the event needs no edit for its
 * normal form (no top-level null, the timestamp in normal spelling, a
 * product_count's count present, no EV_FROM_AGENT) the received text is
 * kept as the normal form instead of being printed again. Any other event
 * takes ev_parse_body's path. The agent's ingest uses it; tests and a fuzz
 * target compare both on generated and hostile input. */
int ev_parse_body_raw(const char *body, size_t len, ev_body_kind kind, unsigned flags, ev_batch *ret,
                      ev_errors *errs);

/* Validate one parsed event object. raw_len is its size in bytes as received.
 * On success fills *ret (caller frees with ev_event_clear; ret may be NULL to
 * only check) and returns 0; else appends to errs (with index; errs may be
 * NULL) and returns -EINVAL. Checks duplicate keys and depth, but cannot see
 * what cJSON hid while parsing (\u0000 cuts a string short): run
 * ev_json_check_text over the raw text first. */
int ev_validate(const cJSON *obj, size_t raw_len, int index, unsigned flags, ev_event *ret, ev_errors *errs);

/* ev_validate for a caller that owns obj and is done with it: the same
 * rules and the same normal form, without copying the tree. errs and ret are
 * required. obj is edited (left in an unspecified state) on success. When
 * *text is cJSON_PrintUnformatted(obj) and obj is already in normal form but
 * for its agent fields, the normal form is cut from that text in place and
 * *text is taken (set to NULL; it becomes ret->json); otherwise *text is left
 * to the caller and the normal form is printed once. When obj lives in a JSON
 * arena (json_arena.h), *text must be printed while the arena is paused. */
int ev_validate_inplace(cJSON *obj, char **text, size_t raw_len, int index, unsigned flags, ev_event *ret,
                        ev_errors *errs);

/* Check that buf is valid UTF-8 (no overlongs, no surrogates, ≤ U+10FFFF).
 * A predicate: returns 1 when valid, 0 when not. */
int ev_utf8_valid(const char *buf, size_t len);

/* Check a parsed JSON tree for duplicate object keys and depth > max_depth
 * (root = level 1). Returns 0, or -EINVAL with a message in err. */
int ev_json_check_tree(const cJSON *root, int max_depth, char *err, size_t errlen);

/* The lexical checks cJSON does not make, over raw JSON text (call it before
 * cJSON_Parse): strict number spelling ("01", "1." refused), no raw control
 * characters in strings, only JSON whitespace between tokens, no "\u0000"
 * (cJSON would cut the string there), no lone surrogate escapes, and nesting
 * at most max_depth (outermost container = level 1; checked before cJSON
 * recurses). Structure itself is left to cJSON. Returns 0, or -EINVAL with a
 * message in err. */
int ev_json_check_text(const char *buf, size_t len, int max_depth, char *err, size_t errlen);

const char *ev_type_name(ev_type t);
int ev_type_parse(const char *s, ev_type *ret);

void ev_event_clear(ev_event *e);
void ev_batch_clear(ev_batch *b);
void ev_errors_add(ev_errors *errs, int index, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
