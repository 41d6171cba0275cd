/* journal: the agent's durable store of events not yet acknowledged by the
 * collector — a SQLite database in WAL mode, owned by one worker thread.
 *
 * The loop thread never touches SQLite: it hands operations (commit an ingest
 * request, build an upload batch, apply an upload's answer) to the worker
 * through a queue and gets each completion back on the loop thread (uv_async).
 * Concurrent ingest requests are group-committed: the worker takes every
 * queued commit, runs them in one transaction with a SAVEPOINT each (so one
 * failing request never fails another), then COMMITs once (fsync with
 * durability fsync) and only then completes them.
 *
 * The journal holds: an epoch (random 64-bit, 16 hex chars), the agent id and
 * machine id it was made for, next_seq (advanced in the same transaction as
 * the events, so seqs are contiguous and never reused), events (seq, event_id
 * — unique among pending events, ingested_at, json), dropped seq ranges not
 * yet reported under a 200, and the dead-letter table. */
#ifndef FERRY_JOURNAL_H
#define FERRY_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "codec.h"
#include "dbthread.h"
#include "event.h"

#define JOURNAL_SCHEMA_VERSION 3
/* PRAGMA application_id of every journal from schema 2 on ("FRRY"). */
#define JOURNAL_APPLICATION_ID 0x46525259

/* Bound on commit requests queued for the worker and not yet taken by it.
 * Past either figure journal_submit answers -EAGAIN (the caller answers 503
 * with Retry-After). 64 MiB of queued event JSON is ~ 64 full 1 MiB ingest
 * bodies; the worker takes the whole queue in one group commit, so a queue
 * this deep only builds up when the disk stalls. */
#define JOURNAL_QUEUE_MAX_REQUESTS 4096
#define JOURNAL_QUEUE_MAX_BYTES    (64 * 1024 * 1024)
/* Dropped ranges reported in one upload body (the collector's limit). */
#define JOURNAL_MAX_DROPPED_RANGES 10000

typedef struct journal journal;

typedef struct journal_opts {
  const char *path; /* journal file; its directory must exist */
  const char *agent_id;
  const char *site;          /* sent as "site" with every batch; NULL: none */
  const char *machine_id;    /* contents of /etc/machine-id or NULL */
  bool durability_fsync;     /* true: synchronous=FULL; false: NORMAL */
  int64_t max_journal_bytes; /* live pages bound */
  int64_t max_wal_bytes;     /* WAL kept under this by checkpoints */
  int64_t max_dead_letter_bytes;
  bool overflow_reject;    /* true: reject (507); false: drop_oldest */
  int64_t dedup_max_bytes; /* bound on the in-memory event_id table (0 = 16 MiB);
                                  a larger backlog is deduplicated by an SQL index */
} journal_opts;

/* Snapshot of the journal's figures; cheap, taken under a mutex. */
typedef struct journal_stats {
  char epoch[17];
  int64_t next_seq;
  int64_t acked_seq;             /* every seq ≤ it is acknowledged, dropped or dead-lettered */
  int64_t backlog;               /* events in the journal */
  int64_t oldest_ingested_at_ms; /* 0 when empty */
  int64_t journal_bytes;         /* (page_count − freelist_count) × page_size */
  int64_t wal_bytes;
  int64_t dropped_total;                    /* events removed by the overflow policy, this epoch */
  int64_t dead_letter;                      /* rows in dead-letter */
  int64_t ingested_total, duplicates_total; /* since start */
  int64_t quarantined;                      /* journals moved to quarantine/ at this start (0/1) */
  char quarantine_reason[128];
  int migrated_from; /* schema version migrated from at this start; 0 = none */
  bool writable;     /* false after a write failure until one succeeds */
  char unwritable_reason[128];
  int64_t dead_letter_bytes; /* estimated size of the dead-letter rows */
  int64_t queued;            /* commit requests waiting for the worker */
  int64_t commit_groups;     /* group-commit transactions run since start */
  int64_t dedup_bytes;       /* memory of the event_id table (0 while dedup_sql) */
  bool dedup_sql;            /* the backlog outgrew the table: dedup by SQL index */
  int64_t dedup_switches;    /* table ↔ SQL switches since start */
  int64_t cache_bytes;       /* the worker connection's SQLite page cache bound (larger while dedup_sql) */
} journal_stats;

/* Open (create, migrate, check) the journal synchronously, before the loop
 * runs, and start the worker thread. A journal from a newer schema → -EPROTO
 * (caller exits 3). Mismatched agent/machine id or failed quick_check after
 * an unclean shutdown → moved to quarantine/ and a fresh epoch (stats say so).
 * Returns 0 or a negative errno with err set. */
int journal_open(uv_loop_t *loop, const journal_opts *opts, journal **ret, char *err, size_t errlen);

/* Finish queued work (their done callbacks run from here), checkpoint, mark a
 * clean shutdown, stop the thread and close the database. Runs on the loop
 * thread; blocks only for the final commit (used at shutdown). The journal's
 * memory is released by the async handle's close callback, i.e. the next time
 * the loop runs. Safe with NULL. */
void journal_close(journal *j);

void journal_get_stats(journal *j, journal_stats *ret);

/* --- commit one ingest request ------------------------------------------- */
typedef struct journal_commit journal_commit;
struct journal_commit {
  /* in (owned by caller until done) */
  ev_event *events;
  size_t n;
  /* or, with n == 0: a message that cannot become events (an MQTT payload
   * its mapping refuses), stored straight into dead-letter under the next
   * seq with this body (JSON) and error; that seq is reported to the
   * collector as dropped "dead_letter", so it is never missing */
  const char *dead_body;
  const char *dead_reason;
  /* out */
  int status; /* 0; -ENOSPC journal full under reject (507); -EIO cannot write (503) */
  size_t accepted, duplicates;
  char error[160]; /* reason when status != 0 */
  /* completion, on the loop thread */
  void (*done)(journal_commit *c);
  void *data;
  journal_commit *next_; /* internal */
  dbthread_job node_;    /* internal: the hand-back to the loop thread */
  size_t bytes_;         /* internal: event bytes, for the queue and group bounds */
};
/* Queue c; done runs later on the loop thread. Returns 0, or -EAGAIN when the
 * queue is at its bound, -ECANCELED after journal_close started, -EINVAL for
 * a NULL done — on error done is never called. An event whose event_id is
 * NULL gets "ferry:<epoch>:<seq>"; its json must then not hold an event_id
 * (the id is spliced into the upload body: an id starting "ferry:" is never
 * looked for in the stored json). */
int journal_submit(journal *j, journal_commit *c);

/* --- build the next upload request ---------------------------------------- */
typedef struct journal_batch journal_batch;
struct journal_batch {
  /* in */
  size_t max_events; /* 0 = heartbeat (events: []) */
  size_t max_bytes;  /* bound on the uncompressed body */
  int64_t from_seq;  /* only events with from_seq <= seq <= to_seq; 0 = no bound */
  int64_t to_seq;
  codec_t codec;
  /* out */
  int status; /* 0 or negative errno */
  size_t n_events;
  int64_t first_seq, last_seq; /* 0 when n_events == 0 */
  int64_t *seqs;               /* n_events seqs, ascending, malloc'd */
  char idem_key[200];          /* "{agent_id}:{epoch}:{first}-{last}", "" for a heartbeat */
  void *body;                  /* encoded with codec, malloc'd */
  size_t body_len;
  size_t raw_len;             /* before compression */
  int64_t dropped_upto_rowid; /* internal: which dropped ranges the body reported */
  void (*done)(journal_batch *b);
  void *data;
  journal_batch *next_;
  dbthread_job node_; /* internal: the hand-back to the loop thread */
};
/* The body is the SPEC §2 upload body, built on the worker thread from the
 * oldest events (by seq) in [from_seq, to_seq] within max_events / max_bytes,
 * with every unreported
 * dropped range, stats and sent_at. Free with journal_batch_clear. */
int journal_read_batch(journal *j, journal_batch *b); /* 0 or -ECANCELED/-EINVAL, as journal_submit */
void journal_batch_clear(journal_batch *b);

/* --- apply the collector's 200 to a batch ---------------------------------- */
typedef struct journal_rejected {
  int64_t seq;
  char error[160];
} journal_rejected;

typedef struct journal_ack journal_ack;
struct journal_ack {
  /* in */
  const journal_batch *batch; /* the batch the 200 answered */
  journal_rejected *rejected; /* seqs to move to dead-letter, with the error */
  size_t n_rejected;
  /* out */
  int status;
  void (*done)(journal_ack *a);
  void *data;
  journal_ack *next_;
  dbthread_job node_; /* internal: the hand-back to the loop thread */
};
/* Delete the batch's events except the rejected ones, which move to
 * dead-letter (their seqs become dropped ranges with reason dead_letter);
 * forget the dropped ranges the batch reported. */
int journal_apply_ack(journal *j, journal_ack *a); /* 0 or -ECANCELED/-EINVAL */

/* --- dead-letter management ------------------------------------------------ */
/* Run on the worker thread; done on the loop thread. kind: export (NDJSON of
 * the dead events written to out_fd), requeue (back into events with new seqs),
 * purge (delete). count = rows affected. */
typedef enum { JOURNAL_DL_EXPORT, JOURNAL_DL_REQUEUE, JOURNAL_DL_PURGE } journal_dl_kind;

/* Export format, one line per dead event, oldest first:
 *   {"seq":n,"event_id":"..","ingested_at":"..","failed_at":"..","error":"..","event":{...stored event...}}
 * Requeue gives each event a new seq and a fresh ingested_at; an event whose
 * event_id is pending again counts in duplicates and leaves dead-letter.
 * Requeued events leave the backlog bound to the overflow policy of later
 * commits (requeue itself never drops). */
typedef struct journal_dl journal_dl;
struct journal_dl {
  /* in */
  journal_dl_kind kind;
  int out_fd;       /* export: write to this fd (blocking writes on the
                                  worker); -1 = into out/out_len */
  size_t max_bytes; /* export: stop before passing this (0 = 64 MiB) */
  /* out */
  int status;         /* 0 or negative errno */
  int64_t count;      /* rows exported / requeued / purged */
  int64_t duplicates; /* requeue: rows whose event_id was pending */
  bool truncated;     /* export: stopped at max_bytes */
  char *out;          /* export with out_fd -1: malloc'd NDJSON; caller frees */
  size_t out_len;
  char error[160];
  void (*done)(journal_dl *d);
  void *data;
  journal_dl *next_;
  dbthread_job node_; /* internal: the hand-back to the loop thread */
};
int journal_dead_letter(journal *j, journal_dl *d); /* 0 or -ECANCELED/-EINVAL */

/* Test hook: while held, the worker takes nothing from the queue (ops pile
 * up, so a test can make one group commit of many requests, or fill the
 * queue). journal_close overrides it. */
void journal_test_hold(journal *j, bool hold);
/* Test hook: before its next op the worker sets PRAGMA max_page_count to
 * pages (> 0), which makes writes past it fail like a full disk. */
void journal_test_max_pages(journal *j, int64_t pages);

#endif
