/* json_arena: a thread-local bump allocator behind cJSON's hooks for the
 * trees of one parse (see json_arena.h for the rules its callers keep). */
#include "json_arena.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#define JA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define JA_ASAN 1
#endif
#endif
#ifdef JA_ASAN
#include <sanitizer/asan_interface.h>
#define JA_POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define JA_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define JA_POISON(p, n)   ((void)(p), (void)(n))
#define JA_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define JA_ALIGN alignof(max_align_t)

typedef struct chunk {
  struct chunk *next;
  size_t size, used;
  alignas(max_align_t) unsigned char data[];
} chunk;

typedef struct arena {
  chunk *first, *cur; /* chunks in the order made; cur takes allocations */
  size_t reserved;    /* sum of the chunks' sizes, <= JA_CAP */
  size_t used;        /* handed out since the last reset */
  int depth, paused;
  bool spilled; /* a cJSON allocation of this scope (not paused) went to malloc */
} arena;

static _Thread_local arena *t_arena;
static pthread_key_t ja_key;
static pthread_once_t ja_once = PTHREAD_ONCE_INIT;
static atomic_bool ja_on;

static void arena_free(arena *a) {
  for (chunk *c = a->first, *next; c; c = next) {
    next = c->next;
    JA_UNPOISON(c->data, c->size);
    free(c);
  }
  free(a);
}

static void thread_end(void *p) {
  if (p == t_arena) t_arena = NULL;
  arena_free(p);
}

static bool owns(const arena *a, const void *p) {
  const unsigned char *q = p;
  for (const chunk *c = a->first; c; c = c->next)
    if (q >= c->data && q < c->data + c->size) return true;
  return false;
}

/* n bytes from the arena, or NULL when it is at its cap (or out of memory). */
static void *bump(arena *a, size_t n) {
  n = (n + JA_ALIGN - 1) & ~(JA_ALIGN - 1);
  for (;;) {
    chunk *c = a->cur;
    if (c && c->size - c->used >= n) {
      void *p = c->data + c->used;
      c->used += n;
      a->used += n;
      JA_UNPOISON(p, n);
      return p;
    }
    if (c && c->next) { /* a chunk kept from an earlier parse */
      a->cur = c->next;
      a->cur->used = 0;
      continue;
    }
    size_t size = c ? c->size * 2 : JA_FIRST_CHUNK;
    while (size < n) size *= 2;
    if (size > JA_CAP - a->reserved) size = JA_CAP - a->reserved;
    if (size < n) return NULL;
    chunk *nc = malloc(sizeof *nc + size);
    if (!nc) return NULL;
    nc->next = NULL;
    nc->size = size;
    nc->used = 0;
    JA_POISON(nc->data, size);
    if (c) c->next = nc;
    else a->first = nc;
    a->cur = nc;
    a->reserved += size;
  }
}

static __attribute__((noinline)) void *ja_malloc_slow(size_t n) {
  arena *a = t_arena;
  if (a && a->depth > 0 && !a->paused) {
    void *p = bump(a, n ? n : 1);
    if (p) return p;
    a->spilled = true;
  }
  return malloc(n);
}

/* cJSON calls this for every node, key and string: the common case (room
 * left in the current chunk) stays small enough to need no saved
 * registers; anything else takes ja_malloc_slow. */
static void *ja_malloc(size_t n) {
  arena *a = t_arena;
  if (a && a->depth > 0 && !a->paused && n) {
    chunk *c = a->cur;
    size_t m = (n + JA_ALIGN - 1) & ~(JA_ALIGN - 1);
    if (c && c->size - c->used >= m) {
      void *p = c->data + c->used;
      c->used += m;
      a->used += m;
      JA_UNPOISON(p, m);
      return p;
    }
  }
  return ja_malloc_slow(n);
}

static void ja_free(void *p) {
  if (!p) return;
  arena *a = t_arena;
  if (a && owns(a, p)) return; /* the arena's reset reclaims it */
  free(p);
}

static void install_once(void) {
  if (pthread_key_create(&ja_key, thread_end) != 0) return;
  cJSON_Hooks h = {.malloc_fn = ja_malloc, .free_fn = ja_free};
  cJSON_InitHooks(&h);
  atomic_store(&ja_on, true);
}

void ja_install(void) { pthread_once(&ja_once, install_once); }

bool ja_installed(void) { return atomic_load(&ja_on); }

void ja_enter(void) {
  arena *a = t_arena;
  if (!a) {
    if (!atomic_load(&ja_on) || !(a = calloc(1, sizeof *a))) return;
    if (pthread_setspecific(ja_key, a) != 0) {
      free(a);
      return;
    }
    t_arena = a;
  }
  a->depth++;
}

void ja_leave(void) {
  arena *a = t_arena;
  if (!a || a->depth == 0 || --a->depth > 0) return;
  for (chunk *c = a->first; c; c = c->next) {
    if (c->used) JA_POISON(c->data, c->used);
    c->used = 0;
    if (c == a->cur) break;
  }
  a->cur = a->first;
  a->used = 0;
  a->paused = 0;
  a->spilled = false;
}

void ja_pause(void) {
  if (t_arena) t_arena->paused++;
}

void ja_resume(void) {
  if (t_arena && t_arena->paused > 0) t_arena->paused--;
}

bool ja_whole(void) {
  const arena *a = t_arena;
  return a && a->depth > 0 && !a->spilled;
}

size_t ja_used(void) { return t_arena ? t_arena->used : 0; }

size_t ja_reserved(void) { return t_arena ? t_arena->reserved : 0; }

bool ja_owns(const void *p) { return t_arena && p && owns(t_arena, p); }

void ja_thread_done(void) {
  arena *a = t_arena;
  if (!a) return;
  t_arena = NULL;
  pthread_setspecific(ja_key, NULL);
  arena_free(a);
}
