/* store_apply: see store_apply.h. */
#include "store_apply.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_answer.h"

/* Look the batch's key up. 0 = new key; 1 = replay (ret filled); 2 = key
 * reused with another body (ret filled with 422); <0 storage failure. */
static int sa__idem(const sa_backend *be, const bt_batch *b, const char *key, st_result *ret) {
  char *hash = NULL, *answer = NULL;
  int r = be->idem_get(be->ctx, b->agent_id, key, &hash, &answer);
  if (r < 0 || !hash) {
    free(hash);
    free(answer);
    return r < 0 ? r : 0;
  }
  if (strcmp(hash, b->events_hash) != 0) {
    ret->status = 422;
    snprintf(ret->code, sizeof(ret->code), "idempotency_key_reused");
    snprintf(ret->message, sizeof(ret->message),
             "Idempotency-Key %.120s was already used for a batch with other events", key);
    r = 2;
  } else {
    r = st_answer_replay(answer, b, ret);
    if (r < 0) snprintf(be->err, be->errlen, "out of memory");
    else r = 1;
  }
  free(hash);
  free(answer);
  return r;
}

/* The valid events' seqs. */
static int sa__received(const sa_backend *be, const bt_batch *b) {
  dlv_set recv;
  dlv_set_init(&recv);
  int r = 0;
  for (size_t i = 0; r == 0 && i < b->n; i++)
    if (b->events[i].valid) r = dlv_set_add(&recv, b->events[i].seq, b->events[i].seq);
  if (r == 0) r = be->merge(be->ctx, false, b->agent_id, b->epoch, &recv);
  dlv_set_clear(&recv);
  return r;
}

static int sa__dropped(const sa_backend *be, const bt_batch *b) {
  dlv_set drop;
  dlv_set_init(&drop);
  int r = 0;
  for (size_t i = 0; r == 0 && i < b->n_dropped; i++)
    r = dlv_set_add(&drop, b->dropped[i].from, b->dropped[i].to);
  if (r == 0) r = be->merge(be->ctx, true, b->agent_id, b->epoch, &drop);
  dlv_set_clear(&drop);
  return r;
}

int sa_apply(const sa_backend *be, const st_ingest *in, st_result *ret) {
  const bt_batch *b = in->batch;
  char key[BT_KEY_MAX];
  snprintf(key, sizeof(key), "%s:%s:%" PRId64 "-%" PRId64, b->agent_id, b->epoch, b->min_seq, b->max_seq);

  int64_t high = 0;
  int r = be->touch(be->ctx, in, &high);
  if (r < 0) return r;

  /* dropped ranges must lie within what this epoch has seen */
  int64_t bound = b->max_seq > high ? b->max_seq : high;
  if (b->max_dropped_to > bound) {
    ret->status = 400;
    snprintf(ret->code, sizeof(ret->code), "invalid_batch");
    snprintf(ret->message, sizeof(ret->message),
             "dropped: to_seq %" PRId64 " is beyond the highest seq seen (%" PRId64 ")", b->max_dropped_to,
             bound);
    return 0;
  }

  if (b->n > 0) {
    r = sa__idem(be, b, key, ret);
    if (r < 0) return r;
    if (r == 2) return 0; /* 422: keep nothing of it */
  }
  bool replay = r == 1;

  if (!replay) {
    ret->status = 200;
    if ((r = be->events(be->ctx, in, ret)) < 0) return r;
    if ((r = sa__received(be, b)) < 0) return r;
    if (ret->conflicts && (r = be->add_conflicts(be->ctx, b->agent_id, ret->conflicts)) < 0) return r;
    ret->body = st_answer_body(ret->accepted, ret->duplicates, b, NULL);
    if (!ret->body) return -ENOMEM;
    /* the unique key is the last word: a second copy committing the same
     * key fails here and is rolled back to its savepoint */
    if (b->n > 0 && (r = be->idem_put(be->ctx, in, key, ret->body)) < 0) return r;
  }

  /* dropped ranges are merged on a replay too: a retry under the same key
   * may report ranges the first attempt did not carry, and the agent forgets
   * every range a 200 covered. Merging is a set union, so repeats are free. */
  if (b->n_dropped && (r = sa__dropped(be, b)) < 0) return r;

  int64_t new_high = b->max_seq > b->max_dropped_to ? b->max_seq : b->max_dropped_to;
  if (new_high > high && (r = be->set_high(be->ctx, b->agent_id, b->epoch, new_high)) < 0) return r;
  if (b->n == 0 && !ret->body) {
    ret->status = 200;
    ret->body = st_answer_body(0, 0, b, NULL);
    if (!ret->body) return -ENOMEM;
  }
  return 0;
}
