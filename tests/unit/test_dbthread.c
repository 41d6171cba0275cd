/* test_dbthread: the shared database-thread helper — finished jobs come back
 * on the loop thread in the order the worker completed them; a stop with
 * jobs still queued answers every job exactly once (both the asynchronous
 * stop and the blocking close); a timed wait ends without work; the owner's
 * predicate decides what the worker may take. The worker here is a toy
 * owner: one FIFO under the thread's lock and a "hold" flag its predicate
 * reads, as the journal's test hold does. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dbthread.h"

#define NJOBS 200

typedef struct tjob {
  int id;
  int done_calls;
  struct tjob *next;
  dbthread_job node;
} tjob;

typedef struct owner {
  dbthread t;
  tjob *q_head, *q_tail; /* under the thread's lock */
  bool hold;             /* under the thread's lock: the predicate says "nothing to take" */
  int timeouts;          /* under the thread's lock: waits that ended without work */
  uint64_t wait_ns;      /* 0: untimed waits */
  /* loop thread */
  uv_thread_t loop_thread;
  int order[NJOBS], n_done;
  bool off_loop;     /* a done ran on another thread */
  bool out_of_order; /* ids not in completion order */
  int closed_calls;
} owner;

static owner *owner_of(dbthread *t) { return t->data; }

static bool can_take(void *arg) {
  owner *o = arg;
  return o->q_head && !o->hold;
}

static void run(dbthread *t) {
  owner *o = owner_of(t);
  dbthread_lock(t);
  for (;;) {
    if (!dbthread_wait(t, can_take, o, o->wait_ns)) {
      o->timeouts++;
      continue;
    }
    if (!o->q_head) break; /* stopping and drained (a stop overrides the hold, as journal_close does) */
    dbthread_list done = {0};
    int n = 0;
    while (o->q_head && n < 7) { /* small groups, so completions span drains */
      tjob *j = o->q_head;
      o->q_head = j->next;
      dbthread_list_push(&done, &j->node);
      n++;
    }
    if (!o->q_head) o->q_tail = NULL;
    dbthread_unlock(t);
    dbthread_complete(t, &done);
    dbthread_lock(t);
  }
  dbthread_unlock(t);
}

static owner *g_owner;

static void tjob_done(dbthread_job *node) {
  tjob *j = (tjob *)((char *)node - offsetof(tjob, node));
  owner *o = g_owner;
  uv_thread_t self = uv_thread_self();
  if (!uv_thread_equal(&self, &o->loop_thread)) o->off_loop = true;
  j->done_calls++;
  if (o->n_done < NJOBS) o->order[o->n_done] = j->id;
  if (o->n_done > 0 && o->order[o->n_done - 1] + 1 != j->id) o->out_of_order = true;
  o->n_done++;
}

static void submit(owner *o, tjob *j) {
  j->node.done = tjob_done;
  j->next = NULL;
  dbthread_lock(&o->t);
  if (o->q_tail) o->q_tail->next = j;
  else o->q_head = j;
  o->q_tail = j;
  dbthread_signal(&o->t);
  dbthread_unlock(&o->t);
  dbthread_track(&o->t);
}

static void on_closed(dbthread *t) {
  owner *o = owner_of(t);
  o->closed_calls++;
  dbthread_destroy(t);
}

static void setup(owner *o, uv_loop_t *loop, bool unref_idle, uint64_t wait_ns) {
  memset(o, 0, sizeof(*o));
  g_owner = o;
  o->loop_thread = uv_thread_self();
  o->wait_ns = wait_ns;
  CHECK_EQ_INT(dbthread_init(&o->t, o), 0);
  CHECK_EQ_INT(dbthread_start(&o->t, loop, run, on_closed, unref_idle), 0);
}

static int timeouts(owner *o) {
  dbthread_lock(&o->t);
  int n = o->timeouts;
  dbthread_unlock(&o->t);
  return n;
}

/* Jobs finish on the loop thread, in submit order, each once; the idle
 * handle (unref_idle) lets uv_run return once all are answered. */
static void test_in_order_on_loop(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  owner o;
  tjob *jobs = calloc(NJOBS, sizeof(*jobs));
  setup(&o, &loop, true, 0);
  for (int i = 0; i < NJOBS; i++) {
    jobs[i].id = i;
    submit(&o, &jobs[i]);
  }
  uv_run(&loop, UV_RUN_DEFAULT); /* returns when nothing is outstanding */
  CHECK_EQ_INT(o.n_done, NJOBS);
  CHECK(!o.off_loop);
  CHECK(!o.out_of_order);
  int once = 0;
  for (int i = 0; i < NJOBS; i++) once += jobs[i].done_calls == 1;
  CHECK_EQ_INT(once, NJOBS);
  dbthread_close(&o.t);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_EQ_INT(o.closed_calls, 1);
  CHECK_EQ_INT(o.n_done, NJOBS);
  CHECK_EQ_INT(uv_loop_close(&loop), 0);
  free(jobs);
}

/* Held (the predicate false) with jobs queued, then stopped: the worker had
 * taken nothing while held; the stop drains the queue and every job is
 * answered exactly once before the close callback. */
static void stop_with_queue(bool blocking) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  owner o;
  tjob *jobs = calloc(NJOBS, sizeof(*jobs));
  setup(&o, &loop, false, 1000 * 1000); /* 1 ms waits, so timeouts count up */
  dbthread_lock(&o.t);
  o.hold = true;
  dbthread_unlock(&o.t);
  for (int i = 0; i < NJOBS; i++) {
    jobs[i].id = i;
    submit(&o, &jobs[i]);
  }
  /* the worker wakes (timeouts) and still leaves the held queue alone */
  int start = timeouts(&o);
  while (timeouts(&o) < start + 3) uv_sleep(1);
  uv_run(&loop, UV_RUN_NOWAIT);
  CHECK_EQ_INT(o.n_done, 0);
  if (blocking) {
    dbthread_close(&o.t);
    CHECK_EQ_INT(o.n_done, NJOBS); /* answered before dbthread_close returns */
  } else {
    dbthread_stop(&o.t);
    dbthread_stop(&o.t); /* a second stop is harmless */
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_EQ_INT(o.closed_calls, 1);
  CHECK_EQ_INT(o.n_done, NJOBS);
  CHECK(!o.off_loop);
  CHECK(!o.out_of_order);
  int once = 0;
  for (int i = 0; i < NJOBS; i++) once += jobs[i].done_calls == 1;
  CHECK_EQ_INT(once, NJOBS);
  CHECK_EQ_INT(uv_loop_close(&loop), 0);
  free(jobs);
}

static void test_stop_with_queue(void) {
  stop_with_queue(false);
  stop_with_queue(true);
}

/* The predicate decides: held jobs stay queued through timed wakes, and
 * releasing the hold (with a signal) lets the worker take them. */
static void test_predicate_and_timed_wait(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  owner o;
  tjob *jobs = calloc(NJOBS, sizeof(*jobs));
  setup(&o, &loop, true, 1000 * 1000);
  int start = timeouts(&o);
  while (timeouts(&o) < start + 2) uv_sleep(1); /* timed waits end with nothing queued */
  dbthread_lock(&o.t);
  o.hold = true;
  dbthread_unlock(&o.t);
  for (int i = 0; i < NJOBS; i++) {
    jobs[i].id = i;
    submit(&o, &jobs[i]);
  }
  start = timeouts(&o);
  while (timeouts(&o) < start + 3) uv_sleep(1);
  uv_run(&loop, UV_RUN_NOWAIT);
  CHECK_EQ_INT(o.n_done, 0);
  dbthread_lock(&o.t);
  CHECK(o.q_head == &jobs[0]); /* nothing taken */
  o.hold = false;
  dbthread_signal(&o.t);
  dbthread_unlock(&o.t);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_EQ_INT(o.n_done, NJOBS);
  CHECK(!o.out_of_order);
  dbthread_close(&o.t);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_EQ_INT(o.closed_calls, 1);
  CHECK_EQ_INT(uv_loop_close(&loop), 0);
  free(jobs);
}

/* An untimed wait with no predicate ends only on a stop (the worker records
 * what it saw; the checks run on the main thread). */
static bool idle_woke, idle_stopping;

static void idle_run(dbthread *t) {
  dbthread_lock(t);
  idle_woke = dbthread_wait(t, NULL, NULL, 0);
  idle_stopping = dbthread_stopping(t);
  dbthread_unlock(t);
}

static void test_stop_wakes_untimed_wait(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  owner o;
  memset(&o, 0, sizeof(o));
  CHECK_EQ_INT(dbthread_init(&o.t, &o), 0);
  CHECK_EQ_INT(dbthread_start(&o.t, &loop, idle_run, on_closed, false), 0);
  dbthread_stop(&o.t);
  uv_run(&loop, UV_RUN_DEFAULT); /* the join orders the worker's writes before these reads */
  CHECK(idle_woke);
  CHECK(idle_stopping);
  CHECK_EQ_INT(o.closed_calls, 1);
  CHECK_EQ_INT(uv_loop_close(&loop), 0);
}

int main(void) {
  test_in_order_on_loop();
  test_stop_with_queue();
  test_predicate_and_timed_wait();
  test_stop_wakes_untimed_wait();
  return check_finish("test_dbthread");
}
