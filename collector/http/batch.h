/* batch: the parser and sanity checks of one ingest body (SPEC §2 Upload,
 * §3 Ingest), independent of HTTP and of the database so it can be fuzzed
 * (tests/fuzz/fuzz_ingest_batch.c) and run on a worker thread.
 *
 * A body that is not a sane batch is refused whole (400 invalid_batch with a
 * message naming what is wrong). A sane batch may still carry invalid events:
 * those are marked rejected (with the error code the answer lists) and the
 * rest go on to the store. */
#ifndef FERRY_COLLECTOR_BATCH_H
#define FERRY_COLLECTOR_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "delivery.h"
#include "event.h"

#define BT_MAX_DROPPED 10000  /* dropped ranges per batch */
#define BT_MAX_EVENTS  100000 /* events per batch (the body limit binds first) */
#define BT_EPOCH_LEN   16
#define BT_ERROR_MAX   288
#define BT_KEY_MAX     200 /* Idempotency-Key length */

typedef struct bt_limits {
  int64_t now_ms;         /* the collector clock */
  int64_t max_future_s;   /* later timestamps are timestamp_out_of_range */
  int64_t retention_days; /* 0: no lower bound beyond the event rules */
} bt_limits;

typedef struct bt_event {
  int64_t seq;
  bool valid;
  ev_event ev;           /* valid only; ev.json is what the store keeps */
  uint64_t content_hash; /* valid only: FNV-1a of ev.json without seq/ingested_at */
  /* !valid: "invalid_event: field: rule" or "timestamp_out_of_range"; a
   * string literal, or malloc'd when error_owned (kept out of line: a batch
   * holds up to 10,000 events, nearly all valid, while it waits to be applied) */
  const char *error;
  bool error_owned;
  /* valid only: what the model figures read (SPEC §6.3); strings malloc'd, NULL when absent */
  bool has_conf;
  double confidence;
  char *camera_id, *model_version;
} bt_event;

typedef struct bt_batch {
  char agent_id[65];
  char site[65];                /* the site the agent declares (SPEC §6.6); "" when none */
  char epoch[BT_EPOCH_LEN + 1]; /* lowercase hex */
  bt_event *events;
  size_t n;
  dlv_range *dropped;
  size_t n_dropped;
  bool has_stats;
  int64_t backlog;
  double oldest_pending_s;
  bool has_sent_at;
  int64_t sent_at_ms;
  int64_t min_seq, max_seq; /* over all events (rejected included); 0 when none */
  int64_t max_dropped_to;   /* 0 when none */
  char events_hash[65];     /* SHA-256 hex of the events as sent: what a replay must match */
} bt_batch;

/* Parse and check body. 0 with *ret filled (free with bt_batch_clear), or
 * -EINVAL with a person-readable message in err (-ENOMEM on allocation). */
int bt_parse(const char *body, size_t len, const bt_limits *lim, bt_batch *ret, char *err, size_t errlen);
/* The Idempotency-Key rule: required when events is non-empty and equal to
 * "{agent_id}:{epoch}:{first_seq}-{last_seq}"; ignored for heartbeats.
 * 0 or -EINVAL with err. */
int bt_check_key(const bt_batch *b, const char *key, char *err, size_t errlen);
void bt_batch_clear(bt_batch *b);
/* Mark a valid event rejected with code, a string literal (its parsed form
 * is released). */
void bt_reject(bt_event *e, const char *code);

/* Number of events not rejected. */
size_t bt_valid_count(const bt_batch *b);

/* 64-bit FNV-1a, for cheap content comparison of stored events. */
uint64_t bt_fnv1a(const void *data, size_t len);

#endif
