/* ss_checkpoint: WAL checkpoints of the SQLite store off the writer thread.
 * With SQLite's automatic checkpoint, the commit that crosses the WAL limit
 * copies every page back into the database and fsyncs it on the writer
 * thread, while every queued batch waits (a fifth of the writer's time under
 * load). Here the writer's connection only signals; a thread with its own
 * connection runs PASSIVE checkpoints while the writer goes on appending.
 * The writer still checkpoints itself when the WAL reaches SS_CKPT_HARD
 * pages — by then the thread has copied all but the last frames, and a
 * checkpoint with no writer beside it lets the next transaction restart the
 * WAL from its beginning, which bounds the file. */
#ifndef FERRY_COLLECTOR_SS_CHECKPOINT_H
#define FERRY_COLLECTOR_SS_CHECKPOINT_H

#include <sqlite3.h>
#include <stddef.h>

#define SS_CKPT_SOFT 4096  /* WAL pages: wake the checkpoint thread (16 MiB at 4 KiB pages) */
#define SS_CKPT_HARD 16384 /* WAL pages: the writer checkpoints itself (64 MiB) */

typedef struct ss_ckpt ss_ckpt;

/* Start the checkpoint thread on path and install the WAL hook on the
 * writer's connection wdb (replacing SQLite's automatic checkpoint). */
int ss_ckpt_start(const char *path, sqlite3 *wdb, ss_ckpt **ret, char *err, size_t errlen);
/* Stop and join the thread, close its connection; wdb checkpoints itself
 * again. NULL is fine. */
void ss_ckpt_stop(ss_ckpt *c, sqlite3 *wdb);

#endif
