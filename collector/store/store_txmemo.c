/* store_txmemo: see store_txmemo.h. */
#include "store_txmemo.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void stm_init(st_txmemo *m) {
  memset(m, 0, sizeof(*m));
  strset_init(&m->tx_done, SIZE_MAX);
  strset_init(&m->known, 65536);
}

void stm_clear(st_txmemo *m) {
  stm_tx_end(m, false);
  free(m->tx_ids);
  m->tx_ids = NULL;
  strset_clear(&m->tx_done);
  strset_clear(&m->known);
}

int stm_id_new(st_txmemo *m, st_id_kind kind, const char *id, char *key, size_t keylen) {
  snprintf(key, keylen, "%c%s", kind == ST_ID_WORKER ? 'w' : 's', id);
  if (strset_has(&m->known, key)) return 0;
  return strset_add(&m->tx_done, key);
}

int stm_id_recorded(st_txmemo *m, const char *key) {
  if (m->n_tx_ids == m->cap_tx_ids) {
    size_t cap = m->cap_tx_ids ? m->cap_tx_ids * 2 : 64;
    char **n = realloc(m->tx_ids, cap * sizeof(*n));
    if (!n) return -ENOMEM;
    m->tx_ids = n;
    m->cap_tx_ids = cap;
  }
  if (!(m->tx_ids[m->n_tx_ids] = strdup(key))) return -ENOMEM;
  m->n_tx_ids++;
  return 0;
}

void stm_tx_end(st_txmemo *m, bool committed) {
  for (size_t i = 0; i < m->n_tx_ids; i++) {
    if (committed) (void)strset_add(&m->known, m->tx_ids[i]);
    free(m->tx_ids[i]);
  }
  m->n_tx_ids = 0;
  strset_reset(&m->tx_done);
}
