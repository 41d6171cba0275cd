/* mapping: how an MQTT payload becomes ferry events (SPEC §6.1).
 *
 * A mapping file (JSON with comments) lists entries, one per topic filter:
 *
 *   { "topics": [ { "filter": "deepstream/+/events", "format": "mapped",
 *                   "iterate": "/objects",            // optional
 *                   "skip": [ {"pointer": "/type", "in": ["update"]} ],
 *                   "fields": { "event_id": {"concat": [{"pointer": "/id"}, ":", {"item": "/0"}]},
 *                               "event_type": {"item": "/label", "map": {"person": "working"},
 *                                              "unmapped": "skip"}, ... } } ] }
 *
 * A field rule takes one source — "pointer" (into the payload), "item" (into
 * the element being iterated), "const", "topic" (true), "topic_level" (0 =
 * first level, -1 = last), "concat" (a list of sources and literal strings),
 * "first_of" (the first source that exists) — and optionally "split"/"index"
 * (cut a string at a separator and take one piece), "as" (string, number,
 * integer, epoch_s, epoch_ms: epoch numbers become RFC 3339 text), "map" (a
 * value map; "unmapped": error | skip | keep), "default" (used when the source
 * does not exist or is null) and "optional" (leave the field out then).
 * Targets are the event's fields; "attributes.NAME" sets one attribute.
 * A "ferry" entry (or a topic no entry matches) carries ferry events as is.
 *
 * mapping_rules.c reads and checks the file (every error names the rule:
 * "topics[0].fields.event_type.map: ..."); mapping.c applies it. Both are pure
 * (no I/O but the file read) and run on whatever thread calls them. */
#ifndef FERRY_SOURCES_MAPPING_H
#define FERRY_SOURCES_MAPPING_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>
#include "event.h"

#define MAPPING_FILE_MAX    (1024 * 1024) /* a mapping file */
#define MAPPING_MAX_ENTRIES 64
#define MAPPING_MAX_FIELDS  64
#define MAPPING_MAX_PARTS   32           /* concat / first_of members */
#define MAPPING_MAX_EVENTS  1000         /* events one message may yield */
#define MAPPING_MAX_PAYLOAD (256 * 1024) /* a mapped payload; larger → dead-letter */
#define MAPPING_MAX_DEPTH   64           /* JSON nesting of a mapped payload */
#define MAPPING_VALUE_MAX   1024         /* a concatenated / stringified value */

typedef enum {
  MS_NONE = 0,
  MS_POINTER,
  MS_ITEM,
  MS_CONST,
  MS_TOPIC,
  MS_TOPIC_LEVEL,
  MS_CONCAT,
  MS_FIRST_OF,
} map_source_kind;

typedef enum {
  MAP_AS_AUTO = 0,
  MAP_AS_STRING,
  MAP_AS_NUMBER,
  MAP_AS_INTEGER,
  MAP_AS_EPOCH_S,
  MAP_AS_EPOCH_MS
} map_as;
typedef enum { MAP_UNMAPPED_ERROR = 0, MAP_UNMAPPED_SKIP, MAP_UNMAPPED_KEEP } map_unmapped;

typedef struct map_source map_source;
struct map_source {
  map_source_kind kind;
  char *ptr;         /* MS_POINTER / MS_ITEM */
  cJSON *konst;      /* MS_CONST (also literal strings inside concat) */
  int level;         /* MS_TOPIC_LEVEL */
  map_source *parts; /* MS_CONCAT / MS_FIRST_OF */
  size_t n_parts;
  char *split;     /* cut the (string) value at this separator ... */
  int split_index; /* ... and take this piece (0-based; -1 = last) */
};

typedef struct map_field {
  char *target;  /* "event_type", "attributes.zone" */
  char rule[96]; /* "topics[0].fields.event_type", for errors */
  map_source src;
  map_as as;
  cJSON *map; /* object, or NULL */
  map_unmapped unmapped;
  cJSON *def; /* default, or NULL */
  bool optional;
} map_field;

typedef struct map_skip {
  char rule[64]; /* "topics[0].skip[1]" */
  map_source src;
  cJSON *in;     /* array: skip when the value equals one of these */
  cJSON *not_in; /* array: skip when the value equals none of these (or is missing) */
  bool missing;  /* skip when the source does not exist */
} map_skip;

typedef struct map_entry {
  char *filter;
  bool ferry; /* format "ferry": the payload is ferry events */
  char *iterate;
  map_field *fields;
  size_t n_fields;
  map_skip *skips;
  size_t n_skips;
} map_entry;

typedef struct mapping {
  map_entry *entries;
  size_t n;
} mapping;

/* Read and check a mapping (JSON with comments). 0, or -EINVAL with err
 * naming the rule ("mapping FILE: topics[2].fields.timestamp: ..."),
 * -ENOMEM. */
int mapping_load_text(const char *text, size_t len, const char *origin, mapping **ret, char *err,
                      size_t errlen);
int mapping_load_file(const char *path, mapping **ret, char *err, size_t errlen);
void mapping_free(mapping *m);

/* The entry whose filter matches topic (first wins), or NULL (ferry events). */
const map_entry *mapping_entry_for(const mapping *m, const char *topic);

typedef struct mapping_result {
  ev_event *events; /* validated, normal form; the journal takes them as they are */
  size_t n;
  size_t skipped;  /* messages / array items a skip rule or an unmapped value left out */
  bool ferry;      /* read as ferry events */
  char error[320]; /* non-empty: the message cannot be mapped; no events then */
} mapping_result;

/* Turn one message into events. m may be NULL (every topic carries ferry
 * events). max_ferry_bytes bounds a ferry payload (the local API's body
 * limit). All or nothing: on any rule or validation failure ret->error says
 * which rule or field and ret holds no events. Returns 0 (see ret), or
 * -ENOMEM. ret is zeroed first; free with mapping_result_clear. */
int mapping_apply(const mapping *m, const char *topic, const void *payload, size_t len,
                  size_t max_ferry_bytes, mapping_result *ret);
void mapping_result_clear(mapping_result *r);

/* For reporting: the event as the journal stores it (the normal form) with
 * its event_id, as a cJSON object (caller owns). */
cJSON *mapping_event_json(const ev_event *e);

#endif
