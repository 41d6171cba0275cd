/* ss_body: the stored form of an event's body in the SQLite store (schema
 * 7). The normal form repeats what the columns of ev_time already hold
 * (event_id, timestamp, event_type, worker_id, workstation_id, count, and
 * the model fields). The stored form replaces each such member's text by
 * one control byte when, and only when, the text rebuilt from the columns
 * is byte for byte the text it replaces; ss_body_unpack rebuilds it the
 * same way. A packed body starts with SS_BODY_TAG; a body kept whole starts
 * with SS_BODY_WHOLE only when its own first byte is one of these two; any
 * other stored body (all of them before schema 7) is the normal form itself.
 * The normal form never holds a raw byte below 0x20 (JSON escapes them in
 * strings and has no whitespace), so the markers cannot be confused with its
 * text; a body that does hold one is kept whole. */
#ifndef FERRY_COLLECTOR_SS_BODY_H
#define FERRY_COLLECTOR_SS_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

#define SS_BODY_TAG   '\x0f'
#define SS_BODY_WHOLE '\x0e'

/* The column values of one event (NULL: the column is NULL). camera and
 * model are the ids themselves, not their model keys. */
typedef struct ss_body_cols {
  const char *event_id;
  int64_t ts_ms;
  const char *event_type;
  const char *worker_id;
  const char *workstation_id;
  int64_t count;
  const char *camera_id;
  const char *model_version;
  bool has_micro;
  int64_t micro; /* the confidence in millionths (models_micro) */
} ss_body_cols;

/* The stored form of body (len bytes, the normal form) into out (reset
 * first): 0 or out's error. */
int ss_body_pack(strbuf *out, const char *body, size_t len, const ss_body_cols *c);

/* The normal form of a stored body into out (reset first): 0 or out's
 * error. */
int ss_body_unpack(strbuf *out, const char *stored, size_t len, const ss_body_cols *c);

#endif
