/* dbthread: the part of a database worker thread that every owner writes the
 * same way — start the thread, hand finished jobs back to the loop thread
 * through one uv_async, stop and join it, close the handle. What a job is,
 * which jobs the thread takes next and how they are grouped stays with the
 * owner (agent/journal, collector/store/writer); the owner's queues live
 * under the lock this gives it (dbthread_lock) and its thread function waits
 * with dbthread_wait and an "is there work I can take now?" predicate.
 *
 * Threads. The loop thread calls dbthread_start, dbthread_track, dbthread_stop
 * / dbthread_close and runs every job's done callback. The worker thread runs
 * the owner's run function, which calls dbthread_wait (lock held) and
 * dbthread_complete (lock not held). run returns (lock not held) once
 * dbthread_stopping says so and its queues are drained.
 *
 * Locks. mu (with cv) is the owner's queue lock: stopping lives under it too.
 * dmu guards the completion list only; the worker appends, the loop takes.
 * Neither is taken inside the other. */
#ifndef FERRY_DBTHREAD_H
#define FERRY_DBTHREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Embedded in each job (intrusive: no allocation). done runs on the loop
 * thread once the worker completed the job; it may reuse the job at once. */
typedef struct dbthread_job dbthread_job;
struct dbthread_job {
  void (*done)(dbthread_job *job);
  dbthread_job *next_; /* internal */
};

/* Finished jobs gathered by the worker without a lock, then handed over in
 * one dbthread_complete. */
typedef struct dbthread_list {
  dbthread_job *head, *tail;
} dbthread_list;

typedef struct dbthread dbthread;
typedef void (*dbthread_run_fn)(dbthread *t);
typedef bool (*dbthread_ready_fn)(void *arg);
typedef void (*dbthread_closed_fn)(dbthread *t);

struct dbthread {
  void *data; /* the owner's, for run and closed */
  const char
      *name; /* the thread's name (thread_name.h), set before dbthread_start; NULL keeps the program's */
  uv_loop_t *loop;
  uv_async_t async;
  uv_thread_t thread;
  uv_mutex_t mu;
  uv_cond_t cv;
  uv_mutex_t dmu;
  dbthread_run_fn run;
  dbthread_closed_fn closed;
  bool inited;
  bool stopping; /* under mu */
  /* under dmu */
  dbthread_list done;
  bool exited;
  /* loop thread only */
  bool unref_idle; /* the handle keeps the loop alive only while jobs are out */
  bool closing, joined;
  int64_t outstanding; /* tracked jobs whose done has not run (unref_idle) */
};

/* The locks (and nothing else): 0 or negative errno. The owner may use them
 * before dbthread_start (a journal is opened before its thread starts). */
int dbthread_init(dbthread *t, void *data);
/* Free the locks; from the owner's closed callback, or after dbthread_init
 * when dbthread_start was never called or failed before the thread. Safe on a
 * zeroed struct. */
void dbthread_destroy(dbthread *t);

/* Loop thread: the uv_async, then the thread running run(t). unref_idle: the
 * handle holds the loop only while tracked jobs are out. 0, or negative
 * errno: a failed uv_async_init leaves nothing to close (dbthread_destroy
 * and free); a failed thread start closes the handle and closed(t) runs on
 * the loop later — the owner frees itself there. */
int dbthread_start(dbthread *t, uv_loop_t *loop, dbthread_run_fn run, dbthread_closed_fn closed,
                   bool unref_idle);

static inline void dbthread_lock(dbthread *t) { uv_mutex_lock(&t->mu); }
static inline void dbthread_unlock(dbthread *t) { uv_mutex_unlock(&t->mu); }
/* Lock held: wake the worker (after queueing work or changing what the
 * predicate reads). */
static inline void dbthread_signal(dbthread *t) { uv_cond_signal(&t->cv); }
/* Lock held: the loop thread asked the worker to stop. */
static inline bool dbthread_stopping(const dbthread *t) { return t->stopping; }

/* Worker, lock held: wait until ready(arg) holds (NULL: only a stop or the
 * timeout ends the wait) or the thread is asked to stop — true — or until
 * timeout_ns passed first — false. timeout_ns 0 waits without a limit. The
 * predicate runs under the lock. */
bool dbthread_wait(dbthread *t, dbthread_ready_fn ready, void *arg, uint64_t timeout_ns);

/* Worker, no lock needed: gather a finished job. */
void dbthread_list_push(dbthread_list *l, dbthread_job *job);
/* Worker, lock not held: hand the gathered jobs to the loop thread (their
 * done callbacks run there, in order) and empty l. */
void dbthread_complete(dbthread *t, dbthread_list *l);

/* Loop thread: a job was accepted; its done will run (unref_idle owners). */
void dbthread_track(dbthread *t);

/* Loop thread: ask the worker to stop and return at once. Once run returns,
 * the loop runs the last done callbacks, joins the thread, closes the
 * handle and calls closed(t). */
void dbthread_stop(dbthread *t);
/* Loop thread: the same, but wait here for run to return (the final
 * commit), run the last done callbacks now, then close the handle; closed(t)
 * runs the next time the loop runs. */
void dbthread_close(dbthread *t);

#endif
