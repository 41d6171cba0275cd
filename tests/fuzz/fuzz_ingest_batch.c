/* fuzz_ingest_batch: the collector's ingest body parser (collector/http/batch.c)
 * and the range arithmetic fed by it, over arbitrary bytes — the first code
 * that touches what an agent (or anyone with a token) uploads. Must never
 * crash, leak or accept an insane batch. */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "delivery.h"
#include "json_arena.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ja_install(); /* the ingest paths as the programs run them: trees in JSON arenas */
  bt_limits lim = {1772352000000LL, 300, 30}; /* fixed clock: deterministic */
  bt_batch b;
  char err[300];
  if (bt_parse((const char *)data, size, &lim, &b, err, sizeof(err)) != 0) return 0;
  /* invariants of an accepted batch */
  if (b.agent_id[0] == '\0' || strlen(b.epoch) != BT_EPOCH_LEN) abort();
  if (b.n_dropped > BT_MAX_DROPPED) abort();
  dlv_set recv, drop;
  dlv_set_init(&recv);
  dlv_set_init(&drop);
  for (size_t i = 0; i < b.n; i++) {
    if (b.events[i].seq < b.min_seq || b.events[i].seq > b.max_seq) abort();
    if (b.events[i].valid && (!b.events[i].ev.json || !b.events[i].ev.event_id)) abort();
    if (!b.events[i].valid && (!b.events[i].error || b.events[i].error[0] == '\0')) abort();
    if (b.events[i].valid && dlv_set_add(&recv, b.events[i].seq, b.events[i].seq) != 0) abort();
  }
  for (size_t i = 0; i < b.n_dropped; i++)
    if (dlv_set_add(&drop, b.dropped[i].from, b.dropped[i].to) != 0) abort();
  dlv_figures f;
  dlv_figures_compute(&recv, &drop, b.max_seq, &f);
  if (f.missing < 0 || f.received != (int64_t)bt_valid_count(&b)) abort();
  char key[BT_KEY_MAX];
  snprintf(key, sizeof(key), "%s:%s:%" PRId64 "-%" PRId64, b.agent_id, b.epoch, b.min_seq, b.max_seq);
  if (bt_check_key(&b, key, err, sizeof(err)) != 0) abort();
  if (b.n && bt_check_key(&b, NULL, err, sizeof(err)) == 0) abort();
  dlv_set_clear(&recv);
  dlv_set_clear(&drop);
  bt_batch_clear(&b);
  return 0;
}
