/* strset: see strset.h. Linear probing, grown at half full, never shrunk. */
#include "strset.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t ss_hash(const char *k) {
  uint64_t h = UINT64_C(1469598103934665603);
  for (; *k; k++) h = (h ^ (unsigned char)*k) * UINT64_C(1099511628211);
  return h;
}

void strset_init(strset *s, size_t max_n) {
  memset(s, 0, sizeof(*s));
  s->max_n = max_n;
}

bool strset_has(const strset *s, const char *k) {
  if (!s->cap) return false;
  for (size_t i = ss_hash(k) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
    if (!s->slots[i]) return false;
    if (strcmp(s->slots[i], k) == 0) return true;
  }
}

static int ss_grow(strset *s) {
  size_t cap = s->cap ? s->cap * 2 : 256;
  char **slots = calloc(cap, sizeof(*slots));
  if (!slots) return -ENOMEM;
  for (size_t i = 0; i < s->cap; i++) {
    if (!s->slots[i]) continue;
    size_t j = ss_hash(s->slots[i]) & (cap - 1);
    while (slots[j]) j = (j + 1) & (cap - 1);
    slots[j] = s->slots[i];
  }
  free(s->slots);
  s->slots = slots;
  s->cap = cap;
  return 0;
}

int strset_add(strset *s, const char *k) {
  if (strset_has(s, k)) return 0;
  if (s->n >= s->max_n) return 0;
  if ((s->n + 1) * 2 > s->cap && ss_grow(s) < 0) return -ENOMEM;
  char *c = strdup(k);
  if (!c) return -ENOMEM;
  size_t i = ss_hash(k) & (s->cap - 1);
  while (s->slots[i]) i = (i + 1) & (s->cap - 1);
  s->slots[i] = c;
  s->n++;
  return 1;
}

void strset_reset(strset *s) {
  if (s->n == 0) return;
  for (size_t i = 0; i < s->cap; i++) {
    free(s->slots[i]);
    s->slots[i] = NULL;
  }
  s->n = 0;
}

void strset_clear(strset *s) {
  strset_reset(s);
  free(s->slots);
  s->slots = NULL;
  s->cap = 0;
}
