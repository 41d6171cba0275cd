/* json_arena: bump allocation for the cJSON trees built on the ingest paths
 * (one event of an agent's body, one collector batch), so that a parse does
 * not pay one malloc and one free per node and per key.
 *
 * ja_install() sets cJSON's hooks once, at start, before any other thread
 * uses cJSON. From then on every cJSON allocation on a thread goes to that
 * thread's arena while the thread is between ja_enter() and ja_leave() (and
 * not inside ja_pause()), and to malloc otherwise. The free hook does nothing
 * for memory of the calling thread's arena and calls free() for the rest, so
 * cJSON_Delete of an arena tree stays correct. An arena grows in chunks up to
 * JA_CAP bytes, then falls back to malloc; its chunks are kept for the next
 * parse and freed when the thread ends. Without ja_install() nothing changes:
 * ja_enter/ja_leave/ja_pause are then no-ops in effect.
 *
 * Invariant (every caller keeps it):
 *   - nothing allocated by cJSON between ja_enter() and the matching outermost
 *     ja_leave() is used after that ja_leave(): trees are deleted (or
 *     dropped) before it, and no pointer into a tree (valuestring, string,
 *     a printed text) is stored beyond it — copy with malloc/strdup, or make
 *     it while paused;
 *   - text that must outlive the parse and is made by cJSON (cJSON_Print*,
 *     cJSON_malloc) is made between ja_pause() and ja_resume(), so it is
 *     malloc'd and may be freed with free() or cJSON_free() on any thread;
 *   - an arena tree is deleted on the thread that built it.
 * Under AddressSanitizer a reset poisons the arena, so a tree used after its
 * ja_leave() is reported. */
#ifndef FERRY_JSON_ARENA_H
#define FERRY_JSON_ARENA_H

#include <stdbool.h>
#include <stddef.h>

#define JA_FIRST_CHUNK (64u * 1024u)        /* the first chunk of a thread's arena */
#define JA_CAP         (4u * 1024u * 1024u) /* chunks of one arena, in all */

/* Installs the hooks (once; later calls do nothing). Call at start, before
 * other threads run. */
void ja_install(void);
bool ja_installed(void);

/* Starts (or nests in) an arena scope on this thread. */
void ja_enter(void);
/* Ends a scope; the outermost ja_leave() resets the arena: all it handed
 * out since ja_enter() is gone. */
void ja_leave(void);

/* While paused, cJSON allocations on this thread go to malloc. Nests. */
void ja_pause(void);
void ja_resume(void);

/* True inside a scope of this thread's arena when every cJSON allocation
 * of the scope so far (bar those made while paused) came from the arena:
 * a tree built in it then needs no cJSON_Delete, the reset reclaims it all.
 * False outside a scope, without an arena, or once one went to malloc. */
bool ja_whole(void);

/* For tests: bytes handed out from this thread's arena since its last reset,
 * the chunks' total size, and whether p lies in this thread's arena. */
size_t ja_used(void);
size_t ja_reserved(void);
bool ja_owns(const void *p);

/* Frees this thread's arena now (it is also freed when the thread ends). */
void ja_thread_done(void);

#endif
