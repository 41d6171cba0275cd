/* store_sqlite_sql: every SQL statement of the SQLite store, in one place.
 * Statements are prepared once at open (SS_* index the array) and then
 * bound → stepped → reset. Schema changes bump SS_SCHEMA_VERSION and add a
 * migration in store_sqlite.c. */
#ifndef FERRY_COLLECTOR_STORE_SQLITE_SQL_H
#define FERRY_COLLECTOR_STORE_SQLITE_SQL_H

#define SS_SCHEMA_VERSION 1

static const char ss_pragmas[] =
  "PRAGMA journal_mode=WAL;"
  "PRAGMA synchronous=FULL;"
  "PRAGMA foreign_keys=OFF;"
  "PRAGMA temp_store=MEMORY;";

/* Version 1. Times are UTC milliseconds. */
static const char ss_schema_v1[] =
  "CREATE TABLE IF NOT EXISTS events("
  "  agent_id TEXT NOT NULL, event_id TEXT NOT NULL, epoch TEXT NOT NULL,"
  "  seq INTEGER NOT NULL, ts_ms INTEGER NOT NULL, event_type TEXT NOT NULL,"
  "  worker_id TEXT, workstation_id TEXT NOT NULL, count INTEGER NOT NULL,"
  "  body TEXT NOT NULL, content_hash INTEGER NOT NULL, received_at INTEGER NOT NULL,"
  "  PRIMARY KEY(agent_id, event_id));"
  "CREATE TABLE IF NOT EXISTS agents("
  "  agent_id TEXT PRIMARY KEY, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,"
  "  version TEXT, clock_skew_s REAL, backlog INTEGER, oldest_pending_s REAL,"
  "  conflicts INTEGER NOT NULL DEFAULT 0);"
  "CREATE TABLE IF NOT EXISTS epochs("
  "  agent_id TEXT NOT NULL, epoch TEXT NOT NULL, first_seen INTEGER NOT NULL,"
  "  last_seen INTEGER NOT NULL, high_seq INTEGER NOT NULL DEFAULT 0,"
  "  backlog INTEGER, oldest_pending_s REAL,"
  "  PRIMARY KEY(agent_id, epoch));"
  "CREATE TABLE IF NOT EXISTS recv_ranges("
  "  agent_id TEXT NOT NULL, epoch TEXT NOT NULL, from_seq INTEGER NOT NULL,"
  "  to_seq INTEGER NOT NULL, PRIMARY KEY(agent_id, epoch, from_seq));"
  "CREATE TABLE IF NOT EXISTS dropped_ranges("
  "  agent_id TEXT NOT NULL, epoch TEXT NOT NULL, from_seq INTEGER NOT NULL,"
  "  to_seq INTEGER NOT NULL, PRIMARY KEY(agent_id, epoch, from_seq));"
  "CREATE TABLE IF NOT EXISTS idempotency("
  "  agent_id TEXT NOT NULL, key TEXT NOT NULL, body_hash TEXT NOT NULL,"
  "  answer TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY(agent_id, key));"
  "CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency(created_at);"
  "PRAGMA user_version=1;";

enum {
  SS_BEGIN,
  SS_COMMIT,
  SS_ROLLBACK,
  SS_SAVEPOINT,
  SS_RELEASE,
  SS_ROLLBACK_TO,
  SS_AGENT_UPSERT,
  SS_AGENT_CONFLICTS,
  SS_EPOCH_GET_HIGH,
  SS_EPOCH_UPSERT,
  SS_EPOCH_SET_HIGH,
  SS_IDEM_GET,
  SS_IDEM_PUT,
  SS_IDEM_PURGE,
  SS_EVENT_INSERT,
  SS_EVENT_HASH,
  SS_RECV_WINDOW,
  SS_RECV_DELETE,
  SS_RECV_INSERT,
  SS_DROP_WINDOW,
  SS_DROP_DELETE,
  SS_DROP_INSERT,
  SS_AGENTS_LIST,
  SS_EPOCHS_OF,
  SS_RECV_ALL,
  SS_DROP_ALL,
  SS_PING,
  SS_COUNT_
};

static const char *const ss_sql[SS_COUNT_] = {
  [SS_BEGIN] = "BEGIN IMMEDIATE",
  [SS_COMMIT] = "COMMIT",
  [SS_ROLLBACK] = "ROLLBACK",
  [SS_SAVEPOINT] = "SAVEPOINT batch",
  [SS_RELEASE] = "RELEASE batch",
  [SS_ROLLBACK_TO] = "ROLLBACK TO batch",
  /* ?1 agent ?2 now ?3 version ?4 skew ?5 backlog ?6 oldest_pending_s (NULL = keep) */
  [SS_AGENT_UPSERT] =
    "INSERT INTO agents(agent_id, first_seen, last_seen, version, clock_skew_s, backlog,"
    " oldest_pending_s) VALUES(?1, ?2, ?2, ?3, ?4, ?5, ?6)"
    " ON CONFLICT(agent_id) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen),"
    " version = coalesce(excluded.version, version),"
    " clock_skew_s = coalesce(excluded.clock_skew_s, clock_skew_s),"
    " backlog = coalesce(excluded.backlog, backlog),"
    " oldest_pending_s = CASE WHEN excluded.backlog IS NULL THEN oldest_pending_s"
    "   ELSE excluded.oldest_pending_s END",
  [SS_AGENT_CONFLICTS] = "UPDATE agents SET conflicts = conflicts + ?2 WHERE agent_id = ?1",
  [SS_EPOCH_GET_HIGH] = "SELECT high_seq FROM epochs WHERE agent_id = ?1 AND epoch = ?2",
  /* ?1 agent ?2 epoch ?3 now ?4 backlog ?5 oldest_pending_s */
  [SS_EPOCH_UPSERT] =
    "INSERT INTO epochs(agent_id, epoch, first_seen, last_seen, backlog, oldest_pending_s)"
    " VALUES(?1, ?2, ?3, ?3, ?4, ?5)"
    " ON CONFLICT(agent_id, epoch) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen),"
    " backlog = coalesce(excluded.backlog, backlog),"
    " oldest_pending_s = CASE WHEN excluded.backlog IS NULL THEN oldest_pending_s"
    "   ELSE excluded.oldest_pending_s END",
  [SS_EPOCH_SET_HIGH] =
    "UPDATE epochs SET high_seq = max(high_seq, ?3) WHERE agent_id = ?1 AND epoch = ?2",
  [SS_IDEM_GET] = "SELECT body_hash, answer FROM idempotency WHERE agent_id = ?1 AND key = ?2",
  [SS_IDEM_PUT] =
    "INSERT INTO idempotency(agent_id, key, body_hash, answer, created_at)"
    " VALUES(?1, ?2, ?3, ?4, ?5)",
  [SS_IDEM_PURGE] = "DELETE FROM idempotency WHERE created_at < ?1",
  /* ?1 agent ?2 event_id ?3 epoch ?4 seq ?5 ts ?6 type ?7 worker ?8 station ?9 count
   * ?10 body ?11 content_hash ?12 received_at */
  [SS_EVENT_INSERT] =
    "INSERT INTO events(agent_id, event_id, epoch, seq, ts_ms, event_type, worker_id,"
    " workstation_id, count, body, content_hash, received_at)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
    " ON CONFLICT(agent_id, event_id) DO NOTHING",
  [SS_EVENT_HASH] = "SELECT content_hash FROM events WHERE agent_id = ?1 AND event_id = ?2",
  /* ranges overlapping or touching [?3, ?4] */
  [SS_RECV_WINDOW] =
    "SELECT from_seq, to_seq FROM recv_ranges WHERE agent_id = ?1 AND epoch = ?2"
    " AND to_seq >= ?3 AND from_seq <= ?4",
  [SS_RECV_DELETE] =
    "DELETE FROM recv_ranges WHERE agent_id = ?1 AND epoch = ?2 AND to_seq >= ?3 AND from_seq <= ?4",
  [SS_RECV_INSERT] = "INSERT INTO recv_ranges(agent_id, epoch, from_seq, to_seq) VALUES(?1, ?2, ?3, ?4)",
  [SS_DROP_WINDOW] =
    "SELECT from_seq, to_seq FROM dropped_ranges WHERE agent_id = ?1 AND epoch = ?2"
    " AND to_seq >= ?3 AND from_seq <= ?4",
  [SS_DROP_DELETE] =
    "DELETE FROM dropped_ranges WHERE agent_id = ?1 AND epoch = ?2 AND to_seq >= ?3 AND from_seq <= ?4",
  [SS_DROP_INSERT] =
    "INSERT INTO dropped_ranges(agent_id, epoch, from_seq, to_seq) VALUES(?1, ?2, ?3, ?4)",
  [SS_AGENTS_LIST] =
    "SELECT agent_id, last_seen, version, clock_skew_s, backlog, oldest_pending_s, conflicts"
    " FROM agents ORDER BY agent_id",
  [SS_EPOCHS_OF] =
    "SELECT epoch, first_seen, last_seen, high_seq FROM epochs WHERE agent_id = ?1"
    " ORDER BY first_seen, rowid",
  [SS_RECV_ALL] =
    "SELECT from_seq, to_seq FROM recv_ranges WHERE agent_id = ?1 AND epoch = ?2 ORDER BY from_seq",
  [SS_DROP_ALL] =
    "SELECT from_seq, to_seq FROM dropped_ranges WHERE agent_id = ?1 AND epoch = ?2 ORDER BY from_seq",
  [SS_PING] = "SELECT count(*) FROM sqlite_master",
};

#endif
