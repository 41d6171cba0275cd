/* journal_harness: what the journal's unit tests (test_agent_journal,
 * test_agent_journal_schema, test_agent_dedup_bound) share — temporary
 * directories, journal options with test-sized bounds, opening and closing
 * on a uv loop, hand-made events, and completion callbacks that count.
 * Nothing here asserts: a failure is printed and returned (NULL, -1), and the
 * test CHECKs it, so every check counts in the test's own tally. */
#ifndef FERRY_TEST_JOURNAL_HARNESS_H
#define FERRY_TEST_JOURNAL_HARNESS_H

#include <stddef.h>
#include <uv.h>

#include "journal.h"

/* Completions seen by the jh_on_* callbacks (a test sets it to 0 before
 * submitting, then waits for the count it expects). */
extern int jh_done;
void jh_on_commit(journal_commit *c);
void jh_on_batch(journal_batch *b);
void jh_on_ack(journal_ack *a);
void jh_on_dl(journal_dl *d);
/* Run loop until jh_done reaches want. */
void jh_wait_done(uv_loop_t *loop, int want);

/* A fresh directory /tmp/ferry-NAME-XXXXXX into out; 0 or -1 (printed). */
int jh_mkdtemp(char *out, size_t n, const char *name);
/* Remove it, unless FERRY_KEEP_TMP is set. */
void jh_rmtree(const char *dir);
/* TMPDIR/cN/journal.db in a new case directory cN (N = ++*case_no). */
void jh_new_path(const char *tmpdir, int *case_no, char *out, size_t n);

/* Options with test-sized bounds: 64 MiB journal, 8 MiB WAL, 1 MiB
 * dead-letter, durability off. */
journal_opts jh_opts(const char *path, const char *agent_id, const char *machine_id);
/* journal_open; NULL with the error printed when it fails. */
journal *jh_open(uv_loop_t *loop, const journal_opts *o);
/* journal_close, then run the loop until the close callback ran. */
void jh_close(uv_loop_t *loop, journal *j);

/* n events {"event_id":"<id_fmt><id_base+i>",...,"note":"ppp…"} (id_fmt NULL:
 * idle events without event_id); pad is the note's length, JH_NO_NOTE for
 * events without a note. Free with jh_free_events. */
#define JH_NO_NOTE ((size_t)-1)
ev_event *jh_make_events(size_t n, const char *id_fmt, int id_base, size_t pad);
void jh_free_events(ev_event *evs, size_t n);

journal_stats jh_stats(journal *j);

/* A "Key:  N kB" line of /proc/self/status (VmRSS, VmHWM, RssAnon…) in
 * KiB; -1 when it cannot be read. */
long jh_status_kib(const char *key);

#endif
