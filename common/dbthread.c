/* dbthread: a database worker thread's lifecycle and its completion hand-off
 * to the loop thread (see dbthread.h). Written once here because the agent's
 * journal and the collector's writer both need exactly this and nothing more;
 * their queue policies stay in their own files. */
#include "dbthread.h"

#include "thread_name.h"

#include <string.h>

int dbthread_init(dbthread *t, void *data) {
  memset(t, 0, sizeof(*t));
  t->data = data;
  int r = uv_mutex_init(&t->mu);
  if (r < 0) return r;
  if ((r = uv_cond_init(&t->cv)) < 0) {
    uv_mutex_destroy(&t->mu);
    return r;
  }
  if ((r = uv_mutex_init(&t->dmu)) < 0) {
    uv_cond_destroy(&t->cv);
    uv_mutex_destroy(&t->mu);
    return r;
  }
  t->inited = true;
  return 0;
}

void dbthread_destroy(dbthread *t) {
  if (!t->inited) return;
  t->inited = false;
  uv_mutex_destroy(&t->dmu);
  uv_cond_destroy(&t->cv);
  uv_mutex_destroy(&t->mu);
}

static void on_closed(uv_handle_t *h) {
  dbthread *t = h->data;
  if (t->closed) t->closed(t);
}

/* Loop thread: take the finished jobs and run their done callbacks; once the
 * worker has exited after an asynchronous stop, join it and close the handle.
 * The worker sets exited after its last dbthread_complete, so the list taken
 * with exited set is the last one. */
static void drain(dbthread *t) {
  uv_mutex_lock(&t->dmu);
  dbthread_job *job = t->done.head;
  t->done.head = t->done.tail = NULL;
  bool exited = t->exited;
  uv_mutex_unlock(&t->dmu);
  int64_t n = 0;
  for (dbthread_job *next; job; job = next, n++) {
    next = job->next_; /* done may reuse the job */
    job->next_ = NULL;
    job->done(job);
  }
  if (t->unref_idle) {
    t->outstanding -= n;
    if (t->outstanding == 0 && !t->closing) uv_unref((uv_handle_t *)&t->async);
  }
  if (exited && !t->joined) {
    t->joined = true;
    uv_thread_join(&t->thread);
    uv_close((uv_handle_t *)&t->async, on_closed);
  }
}

static void on_async(uv_async_t *a) { drain(a->data); }

static void thread_main(void *arg) {
  dbthread *t = arg;
  thread_name_set(t->name);
  t->run(t);
  uv_mutex_lock(&t->dmu);
  t->exited = true;
  uv_mutex_unlock(&t->dmu);
  uv_async_send(&t->async);
}

int dbthread_start(dbthread *t, uv_loop_t *loop, dbthread_run_fn run, dbthread_closed_fn closed,
                   bool unref_idle) {
  t->loop = loop;
  t->run = run;
  t->closed = closed;
  t->unref_idle = unref_idle;
  int r = uv_async_init(loop, &t->async, on_async);
  if (r < 0) return r;
  t->async.data = t;
  if (unref_idle) uv_unref((uv_handle_t *)&t->async);
  if ((r = uv_thread_create(&t->thread, thread_main, t)) < 0) {
    t->closing = t->joined = true;
    uv_close((uv_handle_t *)&t->async, on_closed);
    return r;
  }
  return 0;
}

bool dbthread_wait(dbthread *t, dbthread_ready_fn ready, void *arg, uint64_t timeout_ns) {
  uint64_t deadline = timeout_ns ? uv_hrtime() + timeout_ns : 0;
  while (!t->stopping && !(ready && ready(arg))) {
    if (!deadline) {
      uv_cond_wait(&t->cv, &t->mu);
      continue;
    }
    uint64_t now = uv_hrtime();
    if (now >= deadline) return false;
    (void)uv_cond_timedwait(&t->cv, &t->mu, deadline - now);
  }
  return true;
}

void dbthread_list_push(dbthread_list *l, dbthread_job *job) {
  job->next_ = NULL;
  if (l->tail) l->tail->next_ = job;
  else l->head = job;
  l->tail = job;
}

void dbthread_complete(dbthread *t, dbthread_list *l) {
  if (!l->head) return;
  uv_mutex_lock(&t->dmu);
  if (t->done.tail) t->done.tail->next_ = l->head;
  else t->done.head = l->head;
  t->done.tail = l->tail;
  uv_mutex_unlock(&t->dmu);
  l->head = l->tail = NULL;
  uv_async_send(&t->async);
}

void dbthread_track(dbthread *t) {
  if (t->unref_idle && t->outstanding++ == 0) uv_ref((uv_handle_t *)&t->async);
}

static void ask_stop(dbthread *t) {
  t->closing = true;
  uv_mutex_lock(&t->mu);
  t->stopping = true;
  uv_cond_signal(&t->cv);
  uv_mutex_unlock(&t->mu);
}

void dbthread_stop(dbthread *t) {
  if (t->closing) return;
  uv_ref((uv_handle_t *)&t->async); /* the loop runs until the handle is closed */
  ask_stop(t);
}

void dbthread_close(dbthread *t) {
  if (t->closing) return;
  ask_stop(t);
  t->joined = true;
  uv_thread_join(&t->thread);
  drain(t);
  uv_close((uv_handle_t *)&t->async, on_closed);
}
