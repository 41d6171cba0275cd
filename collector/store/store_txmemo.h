/* store_txmemo: what a store's writer remembers around its transactions, the
 * same for every backend: the keys this transaction already wrote (dirty-hour
 * marks, ids; cleared on commit and on any rollback, since a rollback may
 * have undone them) and a bounded cache of the worker and station ids known
 * to be committed, so ingest records an id once rather than per event. */
#ifndef FERRY_COLLECTOR_STORE_TXMEMO_H
#define FERRY_COLLECTOR_STORE_TXMEMO_H

#include <stdbool.h>
#include <stddef.h>

#include "store.h"
#include "strset.h"

typedef struct st_txmemo {
  strset tx_done; /* keys written by this transaction */
  strset known;   /* "w<id>" / "s<id>" known to be committed (bounded) */
  char **tx_ids;  /* ids recorded this transaction, moved to known on commit */
  size_t n_tx_ids, cap_tx_ids;
} st_txmemo;

void stm_init(st_txmemo *m);
void stm_clear(st_txmemo *m);
/* Whether id must be recorded by this transaction: 1 (key filled, and
 * marked as written), 0 (known, or already recorded), or -ENOMEM. */
int stm_id_new(st_txmemo *m, st_id_kind kind, const char *id, char *key, size_t keylen);
/* The backend recorded key (from stm_id_new): it becomes known on commit. */
int stm_id_recorded(st_txmemo *m, const char *key);
/* The transaction ended: committed (its ids become known) or rolled back. */
void stm_tx_end(st_txmemo *m, bool committed);

#endif
