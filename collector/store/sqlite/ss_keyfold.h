/* ss_keyfold: where the SQLite store puts the keys of ids that hash to a
 * random place (UUIDs), and how they reach ev_key.
 *
 * A random key inserted straight into ev_key lands on a page of its own:
 * past a million stored events nearly every such event dirties one 4 KiB
 * page of ev_key per commit, written to the WAL and again at the
 * checkpoint — most of the writer's time. These keys go first to
 * ev_key_new, a small table of the same shape whose few pages a commit's
 * inserts share. Once it holds enough keys (about the square root of
 * 4,096 × the events stored: the size at which its own pages and the fold
 * cost the same) it is folded into ev_key in sorted pieces, one sixteenth
 * of the key space per commit, so each page of ev_key is written once for
 * many keys. Keys of time-ordered ids (ss_key.h: they append) go straight
 * to ev_key and are looked for only there; a random id's key is looked for
 * in both. Where an id's key goes depends on the id alone (ssk_random), so
 * a replay finds its original where it went or where it was folded to.
 * Everything runs inside the writer's transaction: a commit that rolls
 * back takes its piece of the fold with it. A random id is looked for in
 * ev_key only when the Bloom filter of both tables' keys (ss_keybloom.h,
 * built by a scan at the first random id and grown by rescans, at most
 * a quarter of the writer's page cache: 8 MiB by default) says it may be
 * there. */
#ifndef FERRY_COLLECTOR_SS_KEYFOLD_H
#define FERRY_COLLECTOR_SS_KEYFOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store_sqlite_conn.h"

#define SSK_PIECES          16
#define SSK_FOLD_MIN        32768
#define SSK_FOLD_MAX        262144
#define SSK_PER_COMMIT      4096              /* the events of a typical group commit */
#define SSK_BLOOM_MAX_BYTES ((size_t)8 << 20) /* a quarter of the writer's default page cache */

/* Whether event_id's key is spread at random over the key space: an id
 * without trailing digits (its key is a hash), or one that ends in a
 * UUID's 8-4-4-4-12 hex form (its trailing digits, if any, are random). */
bool ssk_random(const char *event_id, size_t len);

/* At open (writer): what ev_key_new holds and how many events are stored. */
int ssk_open(store_sqlite *s);

/* How many keys in ev_key_new start a fold (the test override, or the
 * square-root rule bounded by SSK_FOLD_MIN..SSK_FOLD_MAX). */
int64_t ssk_threshold(const store_sqlite *s);

/* Look for (agent, event_id) under key h where its key would be: 1 found
 * (*ret_hash its content hash), 0 not, or a negative errno. */
int ssk_find(store_sqlite *s, bool random, int64_t h, const char *agent, const char *event_id,
             int64_t *ret_hash);

/* Store the key of the event just inserted at rseq. */
int ssk_insert(store_sqlite *s, bool random, int64_t h, int64_t rseq);

/* Before a commit: one piece of a fold, if one is due or under way. */
int ssk_fold(store_sqlite *s);

/* At close: the filter's memory. */
void ssk_close(store_sqlite *s);

/* The transaction ended; after a rollback what ev_key_new holds is counted
 * again before the next fold decision. */
void ssk_tx_end(store_sqlite *s, bool committed);

#endif
