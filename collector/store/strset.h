/* strset: a small bounded set of strings (open addressing, FNV-1a), for the
 * SQLite store's per-transaction memory of what it already wrote (dirty
 * hours, known ids) so a group commit writes each of them once. */
#ifndef FERRY_COLLECTOR_STRSET_H
#define FERRY_COLLECTOR_STRSET_H

#include <stdbool.h>
#include <stddef.h>

typedef struct strset {
  char **slots;
  size_t cap, n;
  size_t max_n; /* adds beyond this are refused (return 0): the set is a cache */
} strset;

void strset_init(strset *s, size_t max_n);
bool strset_has(const strset *s, const char *k);
/* 1 added, 0 already there or full, -ENOMEM. */
int strset_add(strset *s, const char *k);
/* Forget everything (keeps the table). */
void strset_reset(strset *s);
void strset_clear(strset *s); /* frees the table; the set itself is the caller's */

#endif
