/* idem_inflight: see idem_inflight.h. An open-addressing set of strdup'd
 * keys with tombstones; rebuilt when tombstones pile up. Small: its size is
 * the number of batches in flight at once. */
#include "idem_inflight.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS (IDEM_INFLIGHT_MAX * 2)

struct idem_inflight {
  char *slot[SLOTS];
  size_t used; /* live keys */
  size_t dead; /* tombstones */
};

static char tomb_; /* address marks a removed slot */
#define TOMB (&tomb_)

static uint64_t hash(const char *s) {
  uint64_t h = 1469598103934665603ULL; /* FNV-1a */
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ULL;
  }
  return h;
}

idem_inflight *idem_inflight_new(void) { return calloc(1, sizeof(idem_inflight)); }

void idem_inflight_free(idem_inflight *t) {
  if (!t) return;
  for (size_t i = 0; i < SLOTS; i++)
    if (t->slot[i] && t->slot[i] != TOMB) free(t->slot[i]);
  free(t);
}

static void rebuild(idem_inflight *t) {
  char *keep[SLOTS];
  size_t n = 0;
  for (size_t i = 0; i < SLOTS; i++) {
    if (t->slot[i] && t->slot[i] != TOMB) keep[n++] = t->slot[i];
    t->slot[i] = NULL;
  }
  for (size_t k = 0; k < n; k++) {
    size_t i = (size_t)(hash(keep[k]) % SLOTS);
    while (t->slot[i]) i = (i + 1) % SLOTS;
    t->slot[i] = keep[k];
  }
  t->dead = 0;
}

int idem_inflight_add(idem_inflight *t, const char *key) {
  if (t->used >= IDEM_INFLIGHT_MAX) return -ENOSPC;
  if (t->used + t->dead >= SLOTS * 3 / 4) rebuild(t);
  size_t i = (size_t)(hash(key) % SLOTS), free_at = SLOTS;
  for (; t->slot[i]; i = (i + 1) % SLOTS) {
    if (t->slot[i] == TOMB) {
      if (free_at == SLOTS) free_at = i;
    } else if (strcmp(t->slot[i], key) == 0) {
      return -EEXIST;
    }
  }
  if (free_at == SLOTS) free_at = i;
  char *copy = strdup(key);
  if (!copy) return -ENOMEM;
  if (t->slot[free_at] == TOMB) t->dead--;
  t->slot[free_at] = copy;
  t->used++;
  return 0;
}

void idem_inflight_remove(idem_inflight *t, const char *key) {
  size_t i = (size_t)(hash(key) % SLOTS);
  for (; t->slot[i]; i = (i + 1) % SLOTS) {
    if (t->slot[i] != TOMB && strcmp(t->slot[i], key) == 0) {
      free(t->slot[i]);
      t->slot[i] = TOMB;
      t->used--;
      t->dead++;
      return;
    }
  }
}

size_t idem_inflight_count(const idem_inflight *t) { return t->used; }
