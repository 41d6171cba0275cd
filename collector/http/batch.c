/* batch: parse and sanity-check one ingest body (see batch.h). Everything an
 * agent sends is untrusted: sizes, counts and nesting are bounded before
 * anything is allocated for them, and every refusal says what to fix. */
#include "batch.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json_arena.h"
#include "timefmt.h"

#define BT_MAX_SAFE_INT 9007199254740991.0 /* 2^53 - 1: exact in a double */

uint64_t bt_fnv1a(const void *data, size_t len) {
  const unsigned char *p = data;
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  return h;
}

void bt_batch_clear(bt_batch *b) {
  if (!b) return;
  for (size_t i = 0; i < b->n; i++) {
    if (b->events[i].valid) ev_event_clear(&b->events[i].ev);
    if (b->events[i].error_owned) free((char *)b->events[i].error);
    free(b->events[i].camera_id);
    free(b->events[i].model_version);
  }
  free(b->events);
  free(b->dropped);
  memset(b, 0, sizeof(*b));
}

size_t bt_valid_count(const bt_batch *b) {
  size_t n = 0;
  for (size_t i = 0; i < b->n; i++) n += b->events[i].valid;
  return n;
}

/* A JSON number that is a whole value in [min, BT_MAX_SAFE_INT]. */
static bool bt__int(const cJSON *j, double min, int64_t *ret) {
  if (!cJSON_IsNumber(j)) return false;
  double d = j->valuedouble;
  if (!isfinite(d) || d != floor(d) || d < min || d > BT_MAX_SAFE_INT) return false;
  *ret = (int64_t)d;
  return true;
}

static int bt__cmp_range(const void *a, const void *b) {
  const dlv_range *x = a, *y = b;
  return x->from < y->from ? -1 : x->from > y->from;
}

static int bt__cmp_seq(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* The fields the model figures read, from the validated item (the
 * validator checked their types and removed nulls). */
static int bt__model(const cJSON *item, bt_event *out) {
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(item, "confidence");
  const cJSON *cam = cJSON_GetObjectItemCaseSensitive(item, "camera_id");
  const cJSON *mv = cJSON_GetObjectItemCaseSensitive(item, "model_version");
  if (cJSON_IsNumber(c)) {
    out->has_conf = true;
    out->confidence = c->valuedouble;
  }
  if (cJSON_IsString(cam) && !(out->camera_id = strdup(cam->valuestring))) return -ENOMEM;
  if (cJSON_IsString(mv) && !(out->model_version = strdup(mv->valuestring))) return -ENOMEM;
  return 0;
}

/* One event. The batch's tree is ours: the validator edits the item in place
 * and may keep the text printed for the fingerprint as the normal form. errs
 * is scratch space shared by the batch's events. */
static int bt__event(cJSON *item, size_t index, const bt_limits *lim, bt_event *out, struct sha256_ctx *sha,
                     ev_errors *errs, char *err, size_t errlen) {
  const cJSON *seq = cJSON_IsObject(item) ? cJSON_GetObjectItemCaseSensitive(item, "seq") : NULL;
  if (!cJSON_IsObject(item)) {
    snprintf(err, errlen, "events[%zu]: must be an object", index);
    return -EINVAL;
  }
  if (!bt__int(seq, 1, &out->seq)) {
    snprintf(err, errlen, "events[%zu].seq: must be an integer >= 1", index);
    return -EINVAL;
  }
  ja_pause(); /* raw may become the normal form: it outlives the batch's arena */
  char *raw = cJSON_PrintUnformatted(item);
  ja_resume();
  if (!raw) return -ENOMEM;
  size_t raw_len = strlen(raw);
  sha256_update(sha, raw_len, (const uint8_t *)raw);
  sha256_update(sha, 1, (const uint8_t *)"\n");

  errs->n = errs->total = 0;
  int r = ev_validate_inplace(item, &raw, raw_len, (int)index, EV_FROM_AGENT, &out->ev, errs);
  cJSON_free(raw); /* NULL when it became the normal form */
  if (r == -ENOMEM) return r;
  if (r < 0) {
    out->valid = false;
    out->error = "invalid_event: refused";
    if (!errs->n) return 0;
    char msg[BT_ERROR_MAX];
    if (errs->items[0].field[0])
      snprintf(msg, sizeof(msg), "invalid_event: %s: %s", errs->items[0].field, errs->items[0].message);
    else snprintf(msg, sizeof(msg), "invalid_event: %s", errs->items[0].message);
    char *own = strdup(msg);
    if (!own) return -ENOMEM;
    out->error = own;
    out->error_owned = true;
    return 0;
  }
  int64_t ts = out->ev.ts_ms;
  bool future = ts > lim->now_ms + lim->max_future_s * 1000;
  bool old = lim->retention_days > 0 && ts < lim->now_ms - lim->retention_days * 86400000LL;
  if (future || old) {
    ev_event_clear(&out->ev);
    memset(&out->ev, 0, sizeof(out->ev));
    out->valid = false;
    out->error = "timestamp_out_of_range";
    return 0;
  }
  if (!out->ev.event_id) { /* EV_FROM_AGENT requires it; do not trust that blindly */
    ev_event_clear(&out->ev);
    memset(&out->ev, 0, sizeof(out->ev));
    out->valid = false;
    out->error = "invalid_event: event_id: required";
    return 0;
  }
  /* The content hash covers the normal form without the agent's per-upload
   * fields (seq, ingested_at), so a re-posted event compares equal to its
   * first copy. With EV_FROM_AGENT the validator already leaves those out of
   * ev.json, and ev.json is cJSON's own printing, which reads back and prints
   * to the same bytes: hashing it directly equals the parse, delete, print
   * and hash this used to do (and matches hashes already stored). */
  out->content_hash = bt_fnv1a(out->ev.json, out->ev.json_len);
  out->valid = true;
  return bt__model(item, out);
}

void bt_reject(bt_event *e, const char *code) {
  if (!e->valid) return;
  ev_event_clear(&e->ev);
  memset(&e->ev, 0, sizeof(e->ev));
  e->valid = false;
  e->error = code;
}

static int bt__events(cJSON *events, const bt_limits *lim, bt_batch *b, char *err, size_t errlen) {
  int n = cJSON_GetArraySize(events);
  if (n < 0 || n > BT_MAX_EVENTS) {
    snprintf(err, errlen, "events: more than %d events", BT_MAX_EVENTS);
    return -EINVAL;
  }
  struct sha256_ctx sha;
  sha256_init(&sha);
  if (n > 0) {
    b->events = calloc((size_t)n, sizeof(*b->events));
    if (!b->events) return -ENOMEM;
  }
  ev_errors *errs = n > 0 ? malloc(sizeof(*errs)) : NULL; /* ~26 KiB: not on a worker stack */
  if (n > 0 && !errs) return -ENOMEM;
  cJSON *item;
  size_t i = 0;
  cJSON_ArrayForEach(item, events) {
    if (i >= (size_t)n) break;
    int r = bt__event(item, i, lim, &b->events[i], &sha, errs, err, errlen);
    b->n = i + (r == 0); /* bt_batch_clear must see exactly the filled entries */
    if (r < 0) {
      free(errs);
      return r;
    }
    i++;
  }
  free(errs);
  if (b->n) {
    int64_t *seqs = malloc(b->n * sizeof(*seqs));
    if (!seqs) return -ENOMEM;
    for (size_t k = 0; k < b->n; k++) seqs[k] = b->events[k].seq;
    qsort(seqs, b->n, sizeof(*seqs), bt__cmp_seq);
    for (size_t k = 1; k < b->n; k++)
      if (seqs[k] == seqs[k - 1]) {
        snprintf(err, errlen, "events: seq %" PRId64 " appears more than once", seqs[k]);
        free(seqs);
        return -EINVAL;
      }
    b->min_seq = seqs[0];
    b->max_seq = seqs[b->n - 1];
    free(seqs);
  }
  uint8_t d[SHA256_DIGEST_SIZE];
  sha256_digest(&sha, sizeof(d), d);
  for (size_t k = 0; k < sizeof(d); k++) snprintf(b->events_hash + 2 * k, 3, "%02x", d[k]);
  return 0;
}

static int bt__dropped(const cJSON *dropped, bt_batch *b, char *err, size_t errlen) {
  if (!dropped || cJSON_IsNull(dropped)) return 0;
  if (!cJSON_IsArray(dropped)) {
    snprintf(err, errlen, "dropped: must be an array of {from_seq, to_seq, reason}");
    return -EINVAL;
  }
  int n = cJSON_GetArraySize(dropped);
  if (n > BT_MAX_DROPPED) {
    snprintf(err, errlen, "dropped: more than %d ranges", BT_MAX_DROPPED);
    return -EINVAL;
  }
  if (n == 0) return 0;
  b->dropped = calloc((size_t)n, sizeof(*b->dropped));
  if (!b->dropped) return -ENOMEM;
  const cJSON *r;
  size_t i = 0;
  cJSON_ArrayForEach(r, dropped) {
    if (i >= (size_t)n) break;
    int64_t from, to;
    if (!cJSON_IsObject(r) || !bt__int(cJSON_GetObjectItemCaseSensitive(r, "from_seq"), 1, &from) ||
        !bt__int(cJSON_GetObjectItemCaseSensitive(r, "to_seq"), 1, &to)) {
      snprintf(err, errlen, "dropped[%zu]: needs integer from_seq >= 1 and to_seq", i);
      return -EINVAL;
    }
    if (to < from) {
      snprintf(err, errlen, "dropped[%zu]: to_seq %" PRId64 " is below from_seq %" PRId64, i, to, from);
      return -EINVAL;
    }
    const cJSON *reason = cJSON_GetObjectItemCaseSensitive(r, "reason");
    if (reason && !cJSON_IsNull(reason) && !cJSON_IsString(reason)) {
      snprintf(err, errlen, "dropped[%zu].reason: must be a string", i);
      return -EINVAL;
    }
    b->dropped[i].from = from;
    b->dropped[i].to = to;
    if (to > b->max_dropped_to) b->max_dropped_to = to;
    i++;
  }
  b->n_dropped = i;
  qsort(b->dropped, b->n_dropped, sizeof(*b->dropped), bt__cmp_range);
  return 0;
}

static int bt__fields(cJSON *root, const bt_limits *lim, bt_batch *b, char *err, size_t errlen) {
  const cJSON *agent = cJSON_GetObjectItemCaseSensitive(root, "agent_id");
  if (!cJSON_IsString(agent) || !agent->valuestring) {
    snprintf(err, errlen, "agent_id: required string");
    return -EINVAL;
  }
  size_t alen = strlen(agent->valuestring);
  bool ok = alen >= 1 && alen <= 64;
  for (size_t i = 0; ok && i < alen; i++) {
    unsigned char c = (unsigned char)agent->valuestring[i];
    ok = isalnum(c) || c == '.' || c == '_' || c == '-';
  }
  if (!ok) {
    snprintf(err, errlen, "agent_id: must be 1-64 chars of [A-Za-z0-9._-]");
    return -EINVAL;
  }
  memcpy(b->agent_id, agent->valuestring, alen + 1);
  const cJSON *site = cJSON_GetObjectItemCaseSensitive(root, "site");
  if (site && !cJSON_IsNull(site)) {
    size_t slen = cJSON_IsString(site) ? strlen(site->valuestring) : 0;
    bool site_ok = slen >= 1 && slen < sizeof(b->site) && ev_utf8_valid(site->valuestring, slen);
    for (size_t i = 0; site_ok && i < slen; i++)
      if ((unsigned char)site->valuestring[i] < 0x20 || site->valuestring[i] == 0x7f) site_ok = false;
    if (!site_ok) {
      snprintf(err, errlen, "site: must be 1-64 bytes of text without control characters");
      return -EINVAL;
    }
    memcpy(b->site, site->valuestring, slen + 1);
  }

  const cJSON *epoch = cJSON_GetObjectItemCaseSensitive(root, "epoch");
  ok = cJSON_IsString(epoch) && epoch->valuestring && strlen(epoch->valuestring) == BT_EPOCH_LEN;
  for (size_t i = 0; ok && i < BT_EPOCH_LEN; i++) ok = isxdigit((unsigned char)epoch->valuestring[i]);
  if (!ok) {
    snprintf(err, errlen, "epoch: must be 16 hex digits");
    return -EINVAL;
  }
  for (size_t i = 0; i < BT_EPOCH_LEN; i++) b->epoch[i] = (char)tolower((unsigned char)epoch->valuestring[i]);
  b->epoch[BT_EPOCH_LEN] = '\0';

  const cJSON *stats = cJSON_GetObjectItemCaseSensitive(root, "stats");
  if (stats && !cJSON_IsNull(stats)) {
    const cJSON *bl = cJSON_IsObject(stats) ? cJSON_GetObjectItemCaseSensitive(stats, "backlog") : NULL;
    const cJSON *op =
        cJSON_IsObject(stats) ? cJSON_GetObjectItemCaseSensitive(stats, "oldest_pending_s") : NULL;
    if (!cJSON_IsObject(stats) || !bt__int(bl, 0, &b->backlog)) {
      snprintf(err, errlen, "stats.backlog: must be an integer >= 0");
      return -EINVAL;
    }
    if (op && !cJSON_IsNull(op)) {
      if (!cJSON_IsNumber(op) || !isfinite(op->valuedouble) || op->valuedouble < 0 ||
          op->valuedouble > 1e12) {
        snprintf(err, errlen, "stats.oldest_pending_s: must be a number >= 0");
        return -EINVAL;
      }
      b->oldest_pending_s = op->valuedouble;
    }
    b->has_stats = true;
  }

  const cJSON *sent = cJSON_GetObjectItemCaseSensitive(root, "sent_at");
  if (sent && !cJSON_IsNull(sent)) {
    if (!cJSON_IsString(sent) || !sent->valuestring ||
        tf_parse_rfc3339(sent->valuestring, strlen(sent->valuestring), &b->sent_at_ms) < 0) {
      snprintf(err, errlen, "sent_at: must be an RFC 3339 time");
      return -EINVAL;
    }
    b->has_sent_at = true;
  }

  cJSON *events = cJSON_GetObjectItemCaseSensitive(root, "events");
  if (!cJSON_IsArray(events)) {
    snprintf(err, errlen, "events: required array (empty for a heartbeat)");
    return -EINVAL;
  }
  int r = bt__dropped(cJSON_GetObjectItemCaseSensitive(root, "dropped"), b, err, errlen);
  if (r < 0) return r;
  return bt__events(events, lim, b, err, errlen);
}

int bt_parse(const char *body, size_t len, const bt_limits *lim, bt_batch *ret, char *err, size_t errlen) {
  bt_batch b;
  memset(&b, 0, sizeof(b));
  if (len == 0) {
    snprintf(err, errlen, "the body is empty; expected a batch object");
    return -EINVAL;
  }
  if (!ev_utf8_valid(body, len)) {
    snprintf(err, errlen, "the body is not valid UTF-8");
    return -EINVAL;
  }
  /* The batch's tree lives in this thread's JSON arena until the reset
   * below: what b keeps is copied (fixed arrays, strdup) or printed while
   * the arena is paused. */
  ja_enter();
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
  if (!root) {
    ja_leave();
    size_t at = end && end >= body ? (size_t)(end - body) : 0;
    snprintf(err, errlen, "the body is not valid JSON (near byte %zu)", at);
    return -EINVAL;
  }
  for (const char *p = end; p && p < body + len; p++)
    if (!isspace((unsigned char)*p)) {
      snprintf(err, errlen, "the body has data after the batch object (byte %zu)", (size_t)(p - body));
      cJSON_Delete(root);
      ja_leave();
      return -EINVAL;
    }
  int r;
  char terr[160];
  if (!cJSON_IsObject(root)) {
    snprintf(err, errlen, "the body must be a batch object {\"agent_id\",\"epoch\",\"events\":[...]}");
    r = -EINVAL;
  } else if (ev_json_check_tree(root, EV_MAX_DEPTH + 2, terr, sizeof(terr)) < 0) {
    snprintf(err, errlen, "%s", terr); /* batch = level 1, events = 2, an event = 3 */
    r = -EINVAL;
  } else {
    r = bt__fields(root, lim, &b, err, errlen);
  }
  cJSON_Delete(root);
  ja_leave();
  if (r < 0) {
    if (r == -ENOMEM) snprintf(err, errlen, "out of memory");
    bt_batch_clear(&b);
    return r;
  }
  *ret = b;
  return 0;
}

int bt_check_key(const bt_batch *b, const char *key, char *err, size_t errlen) {
  if (b->n == 0) return 0;
  char want[BT_KEY_MAX];
  snprintf(want, sizeof(want), "%s:%s:%" PRId64 "-%" PRId64, b->agent_id, b->epoch, b->min_seq, b->max_seq);
  if (!key || !*key) {
    snprintf(err, errlen, "Idempotency-Key header required for a batch with events (expected \"%s\")", want);
    return -EINVAL;
  }
  /* the epoch was lowercased; an agent may have sent it in capitals */
  if (strcasecmp(key, want) != 0) {
    snprintf(err, errlen, "Idempotency-Key \"%.80s\" does not match the body (expected \"%s\")", key, want);
    return -EINVAL;
  }
  return 0;
}
