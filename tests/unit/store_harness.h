/* store_harness: what the collector store's unit tests share — one batch
 * body parsed and applied in its own transaction, as the writer does it.
 * Nothing here asserts: a parse error is printed and returned, and the test
 * CHECKs the result, so every check counts in the test's own tally. */
#ifndef FERRY_TEST_STORE_HARNESS_H
#define FERRY_TEST_STORE_HARNESS_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "batch.h"
#include "store.h"

/* Parse body under lim and apply it at now_ms (agent version "1.2.3") in a
 * transaction of its own: the apply result, or the parse's error. */
static inline int sh_ingest(store *s, const char *body, const bt_limits *lim, int64_t now_ms,
                            st_result *res) {
  bt_batch b;
  char err[300];
  memset(res, 0, sizeof(*res));
  int r = bt_parse(body, strlen(body), lim, &b, err, sizeof(err));
  if (r < 0) {
    fprintf(stderr, "parse: %s\n", err);
    return r;
  }
  st_ingest in = {&b, now_ms, "1.2.3"};
  r = s->ops->begin(s);
  if (r == 0) r = s->ops->apply(s, &in, res);
  if (r == 0) r = s->ops->commit(s);
  else s->ops->rollback(s);
  bt_batch_clear(&b);
  return r;
}

#endif
