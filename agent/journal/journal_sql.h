/* journal_sql.h: every SQL text the journal runs, in one place, so the schema
 * and the statements that depend on it are read (and reviewed) together.
 * journal_open.c prepares each JOURNAL_STMTS entry once, on the worker thread's
 * connection, and reuses it (bind → step → reset → clear_bindings).
 *
 * Schema notes:
 * - events.body is stored as a BLOB (the event's normal-form JSON, UTF-8):
 *   length() of a BLOB comes from the record header without reading the
 *   value, which keeps the overflow scan cheap.
 * - events has no index on event_id: dedup runs against an in-memory
 *   fingerprint table on the worker (journal_pending.c), and a hit is verified by
 *   reading the candidate row by seq (GET_ID). A UNIQUE index on random UUIDs
 *   dirties a random index page per event and made inserts ~8x slower at 1M
 *   rows (numbers in journal.c); without it the table is append-only.
 *   Only while the backlog is larger than the dedup table's memory bound does
 *   events_event_id exist (created and dropped by journal_pending.c and
 *   journal_open.c; not part of the schema version).
 * - dropped.id is the rowid the uploader's batch remembers
 *   (journal_batch.dropped_upto_rowid) so a 200 forgets exactly the ranges
 *   that batch reported. */
#ifndef FERRY_JOURNAL_SQL_H
#define FERRY_JOURNAL_SQL_H

/* Per-connection settings; the %s / %lld are filled in by journal_open.c. */
#define JSQL_PRAGMA_PROBE "PRAGMA query_only=1"
#define JSQL_PRAGMA_SETUP     \
  "PRAGMA page_size=4096;"    \
  "PRAGMA journal_mode=WAL;"  \
  "PRAGMA temp_store=MEMORY;" \
  "PRAGMA foreign_keys=OFF;"
#define JSQL_PRAGMA_SYNC_FMT "PRAGMA synchronous=%s"
#define JSQL_PRAGMA_SET_FMT \
  "PRAGMA %s=%lld" /* cache_size, journal_size_limit, wal_autocheckpoint, user_version */
#define JSQL_USER_VERSION   "PRAGMA user_version"
#define JSQL_PAGE_SIZE      "PRAGMA page_size"
#define JSQL_JOURNAL_MODE   "PRAGMA journal_mode"
#define JSQL_BEGIN          "BEGIN IMMEDIATE"
#define JSQL_COMMIT         "COMMIT"
#define JSQL_ROLLBACK       "ROLLBACK"
#define JSQL_COUNT_OBJECTS  "SELECT count(*) FROM sqlite_master"
#define JSQL_HAS_META       "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='meta'"
#define JSQL_APPLICATION_ID "PRAGMA application_id"
#define JSQL_QUICK_CHECK    "PRAGMA quick_check"
#define JSQL_CKPT_TRUNCATE  "PRAGMA wal_checkpoint(TRUNCATE)"
#define JSQL_CKPT_PASSIVE   "PRAGMA wal_checkpoint(PASSIVE)"

/* Version 1: the first schema. Run inside the creating transaction. */
#define JSQL_SCHEMA_V1                           \
  "CREATE TABLE meta("                           \
  "  id INTEGER PRIMARY KEY CHECK (id = 1),"     \
  "  epoch TEXT NOT NULL,"                       \
  "  agent_id TEXT NOT NULL,"                    \
  "  machine_id TEXT NOT NULL,"                  \
  "  next_seq INTEGER NOT NULL,"                 \
  "  clean_shutdown INTEGER NOT NULL,"           \
  "  created_at INTEGER NOT NULL,"               \
  "  dropped_total INTEGER NOT NULL DEFAULT 0);" \
  "CREATE TABLE events("                         \
  "  seq INTEGER PRIMARY KEY,"                   \
  "  event_id TEXT NOT NULL,"                    \
  "  ingested_at INTEGER NOT NULL,"              \
  "  body BLOB NOT NULL);"                       \
  "CREATE TABLE dropped("                        \
  "  id INTEGER PRIMARY KEY,"                    \
  "  from_seq INTEGER NOT NULL,"                 \
  "  to_seq INTEGER NOT NULL,"                   \
  "  reason TEXT NOT NULL);"                     \
  "CREATE TABLE dead_letter("                    \
  "  seq INTEGER PRIMARY KEY,"                   \
  "  event_id TEXT NOT NULL,"                    \
  "  ingested_at INTEGER NOT NULL,"              \
  "  body BLOB NOT NULL,"                        \
  "  error TEXT NOT NULL,"                       \
  "  failed_at INTEGER NOT NULL);"

/* Version 2 (migration from 1, and the last step of creating a journal):
 * - PRAGMA application_id = JOURNAL_APPLICATION_ID ("FRRY"): a ferry journal
 *   is told apart from any other SQLite file by its header, not by its table
 *   names. Before it, a foreign database at the journal path with
 *   user_version > 1 looked like a journal from a newer agent and stopped the
 *   agent for good (exit 3); now it is quarantined like any foreign file.
 * - meta.writer_version: the ferry-agent version that last opened the
 *   journal for writing, named in the "newer schema" error and in the log
 *   when a migration runs, so an operator sees which build wrote the file. */
#define JSQL_MIGRATE_V1_V2       "ALTER TABLE meta ADD COLUMN writer_version TEXT NOT NULL DEFAULT '';"
#define JSQL_SET_WRITER_VERSION  "UPDATE meta SET writer_version = ?1 WHERE id = 1"
#define JSQL_READ_WRITER_VERSION "SELECT writer_version FROM meta WHERE id = 1"

/* Version 3 (no DDL): events.body and dead_letter.body may be stored
 * without their leading "event_id" member, which the event_id column holds
 * (journal_body.c); such a body starts with ',' or '}'. An agent of schema 2
 * would misread those rows, so it refuses a version 3 journal ("newer
 * schema") instead. */
#define JSQL_MIGRATE_V2_V3 NULL

#define JSQL_INSERT_META                                                                    \
  "INSERT INTO meta(id, epoch, agent_id, machine_id, next_seq, clean_shutdown, created_at)" \
  " VALUES(1, ?1, ?2, ?3, 1, 0, ?4)"
#define JSQL_READ_META \
  "SELECT epoch, agent_id, machine_id, next_seq, clean_shutdown, dropped_total FROM meta WHERE id = 1"
#define JSQL_COUNT_EVENTS      "SELECT count(*) FROM events"
#define JSQL_SCAN_IDS          "SELECT seq, event_id FROM events"
#define JSQL_CREATE_ID_INDEX   "CREATE INDEX IF NOT EXISTS events_event_id ON events(event_id)"
#define JSQL_DROP_ID_INDEX     "DROP INDEX IF EXISTS events_event_id"
/* around CREATE INDEX only (journal__create_id_index): its sort spills to files */
#define JSQL_TEMP_STORE_FILE   "PRAGMA temp_store=FILE"
#define JSQL_TEMP_STORE_MEMORY "PRAGMA temp_store=MEMORY"
#define JSQL_DEAD_TOTALS \
  "SELECT count(*), coalesce(sum(length(body) + length(error) + length(event_id)), 0) FROM dead_letter"

/* Several rows per INSERT: one statement step (and one VDBE start and
 * reset) per group of rows instead of per row — commit_one in
 * journal_commit.c binds 4 values per row, in the column order below. */
#define JSQL_ROWS_MANY   16
#define JSQL_ROWS_FEW    4
#define JSQL_INSERT_ROWS "INSERT INTO events(seq, event_id, ingested_at, body) VALUES"
#define JSQL_ROW         "(?,?,?,?)"
#define JSQL_ROWS4       JSQL_ROW "," JSQL_ROW "," JSQL_ROW "," JSQL_ROW
#define JSQL_ROWS16      JSQL_ROWS4 "," JSQL_ROWS4 "," JSQL_ROWS4 "," JSQL_ROWS4

/* Statements prepared once on the worker's connection: X(name, sql). */
#define JOURNAL_STMTS(X)                                                                                 \
  X(BEGIN, JSQL_BEGIN)                                                                                   \
  X(COMMIT, JSQL_COMMIT)                                                                                 \
  X(ROLLBACK, JSQL_ROLLBACK)                                                                             \
  X(SAVEPOINT, "SAVEPOINT req")                                                                          \
  X(RELEASE, "RELEASE req")                                                                              \
  X(ROLLBACK_TO, "ROLLBACK TO req")                                                                      \
  X(SET_CLEAN, "UPDATE meta SET clean_shutdown = ?1 WHERE id = 1")                                       \
  /* acks need no fsync of their own (see do_ack) */                                                     \
  X(SYNC_RELAXED, "PRAGMA synchronous=NORMAL")                                                           \
  X(SYNC_FULL, "PRAGMA synchronous=FULL")                                                                \
  X(UPDATE_META, "UPDATE meta SET next_seq = ?1, dropped_total = ?2 WHERE id = 1")                       \
  X(PAGE_COUNT, "PRAGMA page_count")                                                                     \
  X(FREELIST_COUNT, "PRAGMA freelist_count")                                                             \
  /* dedup: verify a fingerprint hit on the text */                                                      \
  X(GET_ID, "SELECT event_id FROM events WHERE seq = ?1")                                                \
  X(FIND_ID, "SELECT 1 FROM events WHERE event_id = ?1 LIMIT 1")                                         \
  X(SCAN_IDS, JSQL_SCAN_IDS)                                                                             \
  X(INSERT_EVENT, "INSERT INTO events(seq, event_id, ingested_at, body) VALUES(?1, ?2, ?3, ?4)")         \
  /* a request's events, JSQL_ROWS_MANY / JSQL_ROWS_FEW rows per statement */                            \
  X(INSERT_EVENTS_MANY, JSQL_INSERT_ROWS JSQL_ROWS16)                                                    \
  X(INSERT_EVENTS_FEW, JSQL_INSERT_ROWS JSQL_ROWS4)                                                      \
  X(OLDEST, "SELECT seq, ingested_at FROM events ORDER BY seq LIMIT 1")                                  \
  /* overflow: walk the oldest events (below the current request) adding up  \
   * their estimated size, then delete them in one statement */                           \
  X(OLDEST_SIZES, "SELECT seq, length(body) + length(event_id) FROM events WHERE seq < ?1 ORDER BY seq") \
  X(DELETE_UPTO, "DELETE FROM events WHERE seq <= ?1")                                                   \
  X(INSERT_DROPPED, "INSERT INTO dropped(from_seq, to_seq, reason) VALUES(?1, ?2, ?3)")                  \
  /* upload batch (a body may be stored without its leading event_id member:      \
   * whatever reads one rebuilds it through journal_body.c) */                      \
  X(READ_EVENTS, "SELECT seq, event_id, ingested_at, body FROM events"                                   \
                 " WHERE seq BETWEEN ?2 AND ?3 ORDER BY seq LIMIT ?1")                                   \
  X(READ_DROPPED, "SELECT id, from_seq, to_seq, reason FROM dropped ORDER BY id LIMIT ?1")               \
  /* ack */                                                                                              \
  X(DL_MOVE, "INSERT INTO dead_letter(seq, event_id, ingested_at, body, error, failed_at)"               \
             " SELECT seq, event_id, ingested_at, body, ?2, ?3 FROM events WHERE seq = ?1"               \
             " RETURNING length(body) + length(error) + length(event_id)")                               \
  X(DELETE_EVENT, "DELETE FROM events WHERE seq = ?1")                                                   \
  X(DELETE_RANGE, "DELETE FROM events WHERE seq BETWEEN ?1 AND ?2")                                      \
  X(DELETE_DROPPED_UPTO, "DELETE FROM dropped WHERE id <= ?1")                                           \
  /* dead-letter */                                                                                      \
  X(DL_OLDEST_SIZES,                                                                                     \
    "SELECT seq, length(body) + length(error) + length(event_id) FROM dead_letter ORDER BY seq")         \
  X(DL_DELETE_UPTO, "DELETE FROM dead_letter WHERE seq <= ?1")                                           \
  X(DL_SELECT_ALL,                                                                                       \
    "SELECT seq, event_id, ingested_at, body, error, failed_at FROM dead_letter ORDER BY seq")           \
  X(DL_DELETE_SEQ, "DELETE FROM dead_letter WHERE seq = ?1")                                             \
  X(DL_INSERT, "INSERT INTO dead_letter(seq, event_id, ingested_at, body, error, failed_at)"             \
               " VALUES(?1, ?2, ?3, ?4, ?5, ?3)")                                                        \
  X(DL_PURGE, "DELETE FROM dead_letter")

#endif
