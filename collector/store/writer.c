/* writer: the database thread and its bounded job queue (see writer.h; the
 * thread itself, its lock and the hand-back of done jobs: common/dbthread).
 * Batches are group-committed because a synchronous=FULL commit costs an
 * fsync: one fsync for everything queued keeps throughput up when many
 * agents upload at once, while each batch keeps its own savepoint. */
#include "writer.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timefmt.h"

#define WR_PURGE_EVERY_MS      (10 * 60 * 1000)
/* Rollup upkeep (store maintain): done when the queue is idle, a bounded
 * piece at a time so a new batch waits for at most one piece; under steady
 * load a small piece every WR_MAINTAIN_EVERY_MS keeps the backlog of stale
 * hours (which queries must compute themselves) from growing without end. */
#define WR_MAINTAIN_IDLE_UNITS 8
#define WR_MAINTAIN_BUSY_UNITS 4
#define WR_MAINTAIN_EVERY_MS   10000
#define WR_QUIET_NS            (1000ULL * 1000 * 1000) /* idle this long before upkeep */

struct writer {
  store *st;
  wr_limits lim;
  dbthread t; /* the thread, its lock (t.mu) and the hand-back of done jobs */
  /* under the thread's lock */
  wr_job *q_head, *q_tail;
  size_t q_n;             /* queued, not yet taken */
  size_t bytes;           /* held by queued and in-progress jobs */
  size_t working;         /* taken by the thread, not yet done */
  uint64_t busy_since_ms; /* 0 when idle */
  bool healthy;
  uint64_t last_ok_ms;
  char why[256];
  /* loop thread only */
  void (*stop_cb)(void *arg);
  void *stop_arg;
  uint64_t last_purge_ms; /* writer thread only */
  bool maint_more;        /* writer thread only: the store may have upkeep to do */
  uint64_t last_maint_ms; /* writer thread only */
};


static void wr__fail(wr_job *j, int err, const char *msg) {
  j->err = err;
  snprintf(j->errmsg, sizeof(j->errmsg), "%s", msg);
  st_result_clear(&j->res);
}

static void wr__health(writer *w, int r) {
  dbthread_lock(&w->t);
  w->healthy = r == 0;
  if (r == 0) w->last_ok_ms = tf_mono_ms();
  else snprintf(w->why, sizeof(w->why), "%s", w->st->ops->last_error(w->st));
  dbthread_unlock(&w->t);
}

/* One piece of store upkeep (writer thread, lock not held). */
static void wr__maintain(writer *w, int units) {
  bool more = false;
  w->last_maint_ms = tf_mono_ms();
  int r = w->st->ops->maintain ? w->st->ops->maintain(w->st, units, &more) : 0;
  w->maint_more = r == 0 && more;
  if (r < 0) wr__health(w, r);
}

/* Apply and commit the ingest jobs of one group, in order. */
static void wr__group(writer *w, wr_job **jobs, size_t n) {
  store *st = w->st;
  int r = st->ops->begin(st);
  if (r < 0) {
    for (size_t i = 0; i < n; i++) wr__fail(jobs[i], r, st->ops->last_error(st));
    wr__health(w, r);
    return;
  }
  size_t applied = 0;
  for (size_t i = 0; i < n; i++) {
    r = st->ops->apply(st, &jobs[i]->in, &jobs[i]->res);
    if (r == 0) {
      applied++;
      continue;
    }
    wr__fail(jobs[i], r, st->ops->last_error(st));
    if (!st->ops->in_transaction(st)) {
      /* the engine rolled the whole transaction back: nothing of the group holds */
      for (size_t k = 0; k < n; k++)
        if (k != i && jobs[k]->err == 0) wr__fail(jobs[k], r, "transaction rolled back by a storage error");
      wr__health(w, r);
      return;
    }
  }
  r = st->ops->commit(st);
  if (r < 0) {
    char msg[256];
    snprintf(msg, sizeof(msg), "%s", st->ops->last_error(st));
    st->ops->rollback(st);
    for (size_t i = 0; i < n; i++)
      if (jobs[i]->err == 0) wr__fail(jobs[i], r, msg);
  }
  wr__health(w, r);
  (void)applied;
}

static void wr__other(writer *w, wr_job *j) {
  store *st = w->st;
  int r = j->kind == WR_PING   ? st->ops->ping(st)
          : j->kind == WR_CALL ? j->call(st, j)
                               : st->ops->list_agents(st, &j->agents, &j->n_agents);
  if (r >= 0 && j->kind == WR_CALL) {
    j->call_ret = r;
    r = 0;
  }
  if (r < 0) wr__fail(j, r, st->ops->last_error(st));
  if (j->kind == WR_PING || r != -ENOMEM) wr__health(w, r);
}

/* The writer's predicate for dbthread_wait: a job to take. */
static bool wr__has_job(void *arg) { return ((writer *)arg)->q_head != NULL; }

static void wr__thread(dbthread *t) {
  writer *w = t->data;
  wr_job *taken[WR_GROUP_MAX];
  wr_job *ingest[WR_GROUP_MAX];
  w->maint_more = true; /* hours left stale by a previous run */
  bool quiet = false;   /* the queue has been quiet since the last job */
  dbthread_lock(t);
  for (;;) {
    while (!w->q_head && !dbthread_stopping(t)) {
      if (!w->maint_more) {
        dbthread_wait(t, wr__has_job, w, 0);
        continue;
      }
      /* upkeep starts only once the queue has been quiet for a moment:
       * between two uploads of one agent the queue is briefly empty, and
       * rebuilding a busy hour there would stall every next batch behind it
       * (a drain became quadratic in the size of that hour). Once quiet,
       * pieces follow each other until a job arrives: after a large
       * backfill the stale hours are rebuilt at full speed, not a piece a
       * second, so queries stop building them themselves. */
      if (!quiet) {
        if (dbthread_wait(t, wr__has_job, w, WR_QUIET_NS)) continue;
        quiet = true;
      }
      dbthread_unlock(t);
      wr__maintain(w, WR_MAINTAIN_IDLE_UNITS);
      dbthread_lock(t);
    }
    if (!w->q_head) break; /* stopping and drained */
    quiet = false;
    size_t n = 0;
    while (w->q_head && n < WR_GROUP_MAX) {
      taken[n++] = w->q_head;
      w->q_head = w->q_head->next;
      w->q_n--;
    }
    if (!w->q_head) w->q_tail = NULL;
    w->working = n;
    uint64_t now = tf_mono_ms();
    w->busy_since_ms = now ? now : 1;
    dbthread_unlock(t);

    size_t ni = 0;
    for (size_t i = 0; i < n; i++) {
      wr_job *j = taken[i];
      j->next = NULL;
      if (now - j->enq_ms > w->lim.max_wait_ms) {
        wr__fail(j, -ETIMEDOUT, "waited too long for the database");
        continue;
      }
      if (j->kind == WR_INGEST) ingest[ni++] = j;
    }
    if (ni) {
      wr__group(w, ingest, ni);
      w->maint_more = true;
    }
    for (size_t i = 0; i < n; i++) /* reads after the commit see it */
      if (taken[i]->kind != WR_INGEST && taken[i]->err == 0) wr__other(w, taken[i]);
    if (w->lim.purge_before_ms && tf_mono_ms() - w->last_purge_ms > WR_PURGE_EVERY_MS) {
      w->last_purge_ms = tf_mono_ms();
      (void)w->st->ops->purge(w->st, tf_now_ms() - (int64_t)w->lim.purge_before_ms);
    }

    dbthread_list done = {0};
    dbthread_lock(t);
    for (size_t i = 0; i < n; i++) {
      w->bytes -= taken[i]->bytes;
      dbthread_list_push(&done, &taken[i]->node_);
    }
    w->working = 0;
    w->busy_since_ms = 0;
    dbthread_unlock(t);
    dbthread_complete(t, &done);
    /* the group is answered; under steady load, a small piece of upkeep now and then */
    if (w->maint_more && tf_mono_ms() - w->last_maint_ms > WR_MAINTAIN_EVERY_MS)
      wr__maintain(w, WR_MAINTAIN_BUSY_UNITS);
    dbthread_lock(t);
  }
  dbthread_unlock(t);
}

static void wr__closed(dbthread *t) {
  writer *w = t->data;
  void (*cb)(void *) = w->stop_cb;
  void *arg = w->stop_arg;
  dbthread_destroy(&w->t);
  free(w);
  if (cb) cb(arg);
}

/* Loop thread: a finished job's node → its owner's done. */
static void wr__job_done(dbthread_job *node) {
  wr_job *j = (wr_job *)((char *)node - offsetof(wr_job, node_));
  j->done(j);
}

int wr_start(uv_loop_t *loop, store *st, const wr_limits *lim, writer **ret) {
  writer *w = calloc(1, sizeof(*w));
  if (!w) return -ENOMEM;
  w->st = st;
  w->lim = *lim;
  w->healthy = true;
  w->last_ok_ms = tf_mono_ms();
  w->last_purge_ms = 0;
  int r = dbthread_init(&w->t, w);
  if (r < 0) {
    free(w);
    return r;
  }
  w->t.name = "writer";
  r = dbthread_start(&w->t, loop, wr__thread, wr__closed, false);
  if (r < 0) {
    if (!w->t.closing) { /* the handle was never opened; otherwise wr__closed frees */
      dbthread_destroy(&w->t);
      free(w);
    }
    return r;
  }
  *ret = w;
  return 0;
}

int wr_submit(writer *w, wr_job *job) {
  uint64_t now = tf_mono_ms();
  dbthread_lock(&w->t);
  int r = 0;
  if (dbthread_stopping(&w->t)) r = -ESHUTDOWN;
  else if (w->q_n >= w->lim.queue_max) r = -EAGAIN;
  else if (w->bytes && w->bytes + job->bytes > w->lim.queue_max_bytes) r = -EAGAIN;
  else if (w->busy_since_ms && now - w->busy_since_ms > w->lim.max_wait_ms) r = -EAGAIN;
  if (r == 0) {
    job->err = 0;
    job->errmsg[0] = '\0';
    job->next = NULL;
    job->node_.done = wr__job_done;
    job->enq_ms = now;
    if (w->q_tail) w->q_tail->next = job;
    else w->q_head = job;
    w->q_tail = job;
    w->q_n++;
    w->bytes += job->bytes;
    dbthread_signal(&w->t);
  }
  dbthread_unlock(&w->t);
  return r;
}

size_t wr_pending(writer *w) {
  dbthread_lock(&w->t);
  size_t n = w->q_n + w->working;
  dbthread_unlock(&w->t);
  return n;
}

bool wr_healthy(writer *w, uint64_t *ret_last_ok_ms, char *why, size_t whylen) {
  uint64_t now = tf_mono_ms();
  dbthread_lock(&w->t);
  bool ok = w->healthy;
  if (ret_last_ok_ms) *ret_last_ok_ms = w->last_ok_ms;
  if (!ok) snprintf(why, whylen, "database: %s", w->why);
  else if (w->busy_since_ms && now - w->busy_since_ms > w->lim.max_wait_ms) {
    ok = false;
    snprintf(why, whylen, "database: a commit has been running for %llu s",
             (unsigned long long)((now - w->busy_since_ms) / 1000));
  }
  dbthread_unlock(&w->t);
  return ok;
}

void wr_stop(writer *w, void (*done_cb)(void *arg), void *arg) {
  w->stop_cb = done_cb;
  w->stop_arg = arg;
  dbthread_stop(&w->t);
}
