/* ss_keybloom: a Bloom filter over the keys in ev_key, so a new random id
 * (a UUID: nearly every one is new) is not looked up in ev_key at all.
 *
 * Past a few million events ev_key no longer fits the writer's page cache
 * and each such lookup read a page from the file: a quarter of the
 * writer's time at 3M events. The filter answers "maybe there" or "surely
 * not"; it holds every key ev_key holds (and possibly keys of rolled-back
 * transactions: only a wasted lookup). Blocked: the bits of one key lie in
 * one 64-byte line, one cache miss per question. Its size is a power of two
 * between SSB_MIN_BYTES and a caller's bound; past about one key per 10
 * bits it asks to be rebuilt at twice the size (ss_keyfold.c rescans
 * ev_key), and at the bound it stays, answering "maybe" more often. */
#ifndef FERRY_COLLECTOR_SS_KEYBLOOM_H
#define FERRY_COLLECTOR_SS_KEYBLOOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SSB_MIN_BYTES    ((size_t)1 << 20)
#define SSB_BITS_PER_KEY 10

typedef struct ssk_bloom {
  uint64_t *line; /* bytes / 8 words, lines of 8 words */
  size_t bytes;   /* 0: no filter */
  uint64_t keys;  /* added since it was built */
} ssk_bloom;

/* An empty filter for about `keys` keys (bounded by SSB_MIN_BYTES and
 * max_bytes, rounded to a power of two): 0 or -ENOMEM. */
int ssb_init(ssk_bloom *b, uint64_t keys, size_t max_bytes);
void ssb_add(ssk_bloom *b, int64_t key);
/* false: the key was never added. */
bool ssb_maybe(const ssk_bloom *b, int64_t key);
/* Whether it holds more than one key per SSB_BITS_PER_KEY bits and could
 * grow under max_bytes. */
bool ssb_full(const ssk_bloom *b, size_t max_bytes);
void ssb_free(ssk_bloom *b);

#endif
