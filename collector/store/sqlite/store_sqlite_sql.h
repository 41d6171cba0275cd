/* store_sqlite_sql: every SQL statement of the SQLite store, in one place.
 * Statements are prepared once at open (SS_* index the array) and then
 * bound → stepped → reset. Schema changes bump SS_SCHEMA_VERSION and add a
 * migration in store_sqlite.c. */
#ifndef FERRY_COLLECTOR_STORE_SQLITE_SQL_H
#define FERRY_COLLECTOR_STORE_SQLITE_SQL_H

#define SS_SCHEMA_VERSION 8

static const char ss_pragmas[] = "PRAGMA journal_mode=WAL;"
                                 "PRAGMA synchronous=FULL;"
                                 "PRAGMA foreign_keys=OFF;"
                                 "PRAGMA temp_store=MEMORY;"
                                 "PRAGMA cache_size=-32768;"
                                 "PRAGMA journal_size_limit=67108864;";

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

/* Version 2: what the metrics need. Events by time (covering, so a window's
 * events are read without touching the table), the ids ever seen (404 vs
 * zeros), hour and day rollups (collector/metrics/rollup.h) and the hours whose
 * rollups an ingest made stale (rebuilt later by the writer; a query builds
 * them itself meanwhile). meta holds the max_state the rollups were built with. */
static const char ss_schema_v2[] =
    "CREATE INDEX IF NOT EXISTS events_ts ON events(ts_ms, event_type, worker_id, workstation_id,"
    "  count, event_id, agent_id);"
    "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS known_ids(kind INTEGER NOT NULL, id TEXT NOT NULL,"
    "  PRIMARY KEY(kind, id)) WITHOUT ROWID;"
    "INSERT OR IGNORE INTO known_ids(kind, id) SELECT DISTINCT 0, worker_id FROM events"
    "  WHERE worker_id IS NOT NULL;"
    "INSERT OR IGNORE INTO known_ids(kind, id) SELECT DISTINCT 1, workstation_id FROM events;"
    "CREATE TABLE IF NOT EXISTS dirty_hours(hour INTEGER PRIMARY KEY);"
    "CREATE TABLE IF NOT EXISTS worker_hour(hour INTEGER NOT NULL, worker_id TEXT NOT NULL,"
    "  working_ms INTEGER NOT NULL, idle_ms INTEGER NOT NULL, absent_ms INTEGER NOT NULL,"
    "  units INTEGER NOT NULL, events INTEGER NOT NULL, PRIMARY KEY(hour, worker_id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS station_hour(hour INTEGER NOT NULL, workstation_id TEXT NOT NULL,"
    "  occupancy_ms INTEGER NOT NULL, working_ms INTEGER NOT NULL, units INTEGER NOT NULL,"
    "  events INTEGER NOT NULL, state_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(hour, workstation_id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS hour_total(hour INTEGER PRIMARY KEY, events INTEGER NOT NULL,"
    "  units INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS worker_day(day INTEGER NOT NULL, worker_id TEXT NOT NULL,"
    "  working_ms INTEGER NOT NULL, idle_ms INTEGER NOT NULL, absent_ms INTEGER NOT NULL,"
    "  units INTEGER NOT NULL, events INTEGER NOT NULL, PRIMARY KEY(day, worker_id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS station_day(day INTEGER NOT NULL, workstation_id TEXT NOT NULL,"
    "  occupancy_ms INTEGER NOT NULL, working_ms INTEGER NOT NULL, units INTEGER NOT NULL,"
    "  events INTEGER NOT NULL, state_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(day, workstation_id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS day_total(day INTEGER PRIMARY KEY, events INTEGER NOT NULL,"
    "  units INTEGER NOT NULL);"
    "PRAGMA user_version=2;";

/* Version 3: what the metrics read by time moves from the covering events_ts
 * index (keyed by ts: with events arriving in random time order, every insert
 * dirtied a random page of it once it outgrew the cache, and each dirty page
 * is written to the WAL at every commit) to ev_time, keyed by (hour, rseq):
 * the UTC hour of ts_ms, then the event's events.rowid (arrival order). An
 * insert appends at the end of its hour's run of pages whatever order events
 * arrive in, and a time range is read as contiguous runs. events itself is
 * appended in rowid order. Anything that deletes events must delete their
 * ev_time rows too. */
static const char ss_schema_v3[] =
    "DROP INDEX IF EXISTS events_ts;"
    "CREATE TABLE IF NOT EXISTS ev_time(hour INTEGER NOT NULL, rseq INTEGER NOT NULL,"
    "  ts_ms INTEGER NOT NULL, event_type TEXT NOT NULL, worker_id TEXT, workstation_id TEXT NOT NULL,"
    "  count INTEGER NOT NULL, event_id TEXT NOT NULL, agent_id TEXT NOT NULL,"
    "  PRIMARY KEY(hour, rseq)) WITHOUT ROWID;"
    "INSERT INTO ev_time SELECT ts_ms / 3600000, rowid, ts_ms, event_type, worker_id, workstation_id,"
    "  count, event_id, agent_id FROM events ORDER BY ts_ms / 3600000, rowid;"
    "PRAGMA user_version=3;";

/* Version 4: exactly-once moves from the text index of (agent_id, event_id)
 * — about 60 bytes per event, and for random ids one random page dirtied per
 * insert — to ev_key, a narrow WITHOUT ROWID table of (64-bit key, events
 * rowid) (ss_key.h: the key of an id that ends in digits keeps their order,
 * so time-ordered ids append). The key is not unique: every hit is checked
 * against the ids in events. events loses its columns that ev_time and the
 * body already hold (event_type, worker_id, workstation_id, count) and its
 * rowid becomes the column rseq (same values: ev_time.rseq still points at
 * it). ferry_key64(agent_id, event_id) is ss_key64, registered on the
 * writer's connection. */
static const char ss_schema_v4[] =
    "CREATE TABLE events_v4(rseq INTEGER PRIMARY KEY, agent_id TEXT NOT NULL, event_id TEXT NOT NULL,"
    "  epoch TEXT NOT NULL, seq INTEGER NOT NULL, ts_ms INTEGER NOT NULL, received_at INTEGER NOT NULL,"
    "  content_hash INTEGER NOT NULL, body TEXT NOT NULL);"
    "INSERT INTO events_v4 SELECT rowid, agent_id, event_id, epoch, seq, ts_ms, received_at, content_hash,"
    "  body FROM events ORDER BY rowid;"
    "DROP TABLE events;"
    "ALTER TABLE events_v4 RENAME TO events;"
    "CREATE TABLE ev_key(h INTEGER NOT NULL, rseq INTEGER NOT NULL, PRIMARY KEY(h, rseq)) WITHOUT ROWID;"
    "INSERT INTO ev_key SELECT ferry_key64(agent_id, event_id), rseq FROM events ORDER BY 1, 2;"
    "PRAGMA user_version=4;";

/* Version 5: the plant model (SPEC §6.6). The registry: every version of the
 * document as written (store_sqlite_registry.c keeps the latest few). The
 * site of each event (its agent's, resolved at ingest; "" for none and for
 * events stored before), and the site rollups behind the site= and line=
 * filters (collector/metrics/rollup_site.h): worker cells per (site,
 * workstation), the same summed per site (what a site= without line= reads)
 * and station rows per site, by hour and by day (day rows keyed by site
 * first, so one site's month is one range). Dropping the
 * recorded max_state makes the next open rebuild every hour, filling them. */
static const char ss_schema_v5[] =
    "CREATE TABLE IF NOT EXISTS registry(version INTEGER PRIMARY KEY, updated_at INTEGER NOT NULL,"
    "  doc TEXT NOT NULL);"
    "ALTER TABLE ev_time ADD COLUMN site TEXT NOT NULL DEFAULT '';"
    "CREATE TABLE IF NOT EXISTS cell_hour(hour INTEGER NOT NULL, site TEXT NOT NULL,"
    "  workstation_id TEXT NOT NULL, worker_id TEXT NOT NULL, working_ms INTEGER NOT NULL,"
    "  idle_ms INTEGER NOT NULL, absent_ms INTEGER NOT NULL, units INTEGER NOT NULL, events INTEGER NOT NULL,"
    "  PRIMARY KEY(hour, site, workstation_id, worker_id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS cell_day(day INTEGER NOT NULL, site TEXT NOT NULL,"
    "  workstation_id TEXT NOT NULL, worker_id TEXT NOT NULL, working_ms INTEGER NOT NULL,"
    "  idle_ms INTEGER NOT NULL, absent_ms INTEGER NOT NULL, units INTEGER NOT NULL, events INTEGER NOT NULL,"
    "  PRIMARY KEY(site, day, workstation_id, worker_id)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS cell_day_day ON cell_day(day);"
    "CREATE TABLE IF NOT EXISTS sstation_hour(hour INTEGER NOT NULL, site TEXT NOT NULL,"
    "  workstation_id TEXT NOT NULL, occupancy_ms INTEGER NOT NULL, working_ms INTEGER NOT NULL,"
    "  units INTEGER NOT NULL, events INTEGER NOT NULL, state_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(hour, site, workstation_id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS sstation_day(day INTEGER NOT NULL, site TEXT NOT NULL,"
    "  workstation_id TEXT NOT NULL, occupancy_ms INTEGER NOT NULL, working_ms INTEGER NOT NULL,"
    "  units INTEGER NOT NULL, events INTEGER NOT NULL, state_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(site, day, workstation_id)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS sstation_day_day ON sstation_day(day);"
    "CREATE TABLE IF NOT EXISTS wsite_hour(hour INTEGER NOT NULL, site TEXT NOT NULL, worker_id TEXT NOT "
    "NULL,"
    "  working_ms INTEGER NOT NULL, idle_ms INTEGER NOT NULL, absent_ms INTEGER NOT NULL, units INTEGER NOT "
    "NULL,"
    "  events INTEGER NOT NULL, PRIMARY KEY(hour, site, worker_id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS wsite_day(day INTEGER NOT NULL, site TEXT NOT NULL, worker_id TEXT NOT NULL,"
    "  working_ms INTEGER NOT NULL, idle_ms INTEGER NOT NULL, absent_ms INTEGER NOT NULL, units INTEGER NOT "
    "NULL,"
    "  events INTEGER NOT NULL, PRIMARY KEY(site, day, worker_id)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS wsite_day_day ON wsite_day(day);"
    "DELETE FROM meta WHERE k = 'rollup_max_state_ms';"
    "PRAGMA user_version=5;";

/* Version 6: the model rollups (collector/metrics/models.h): per (hour,
 * camera, model version) and per (day, ...), additive counts and a packed
 * confidence histogram. camera and model are key texts (models_key: "" for
 * none, "=" + id). Filled from the events already stored by the migration
 * (store_sqlite_models.c); afterwards ingest writes only ev_model, and the
 * rows of the hours it marks in dirty_hours are rebuilt by the writer's
 * upkeep. ev_model holds, like ev_time, the model fields of each stored
 * event that has any (camera, model version, confidence as bin and
 * millionths), so a dirty hour and the partial hours at a window's ends are
 * read without parsing bodies; the events without any are counted from
 * ev_time. Anything that deletes events must delete their ev_model rows
 * too. */
static const char ss_schema_v6[] =
    "CREATE TABLE IF NOT EXISTS model_hour(hour INTEGER NOT NULL, camera TEXT NOT NULL, model TEXT NOT NULL,"
    "  events INTEGER NOT NULL, with_conf INTEGER NOT NULL, conf_micro INTEGER NOT NULL,"
    "  n_working INTEGER NOT NULL, n_idle INTEGER NOT NULL, n_absent INTEGER NOT NULL,"
    "  n_product INTEGER NOT NULL, last_ms INTEGER NOT NULL, hist BLOB,"
    "  PRIMARY KEY(hour, camera, model));"
    "CREATE TABLE IF NOT EXISTS model_day(day INTEGER NOT NULL, camera TEXT NOT NULL, model TEXT NOT NULL,"
    "  events INTEGER NOT NULL, with_conf INTEGER NOT NULL, conf_micro INTEGER NOT NULL,"
    "  n_working INTEGER NOT NULL, n_idle INTEGER NOT NULL, n_absent INTEGER NOT NULL,"
    "  n_product INTEGER NOT NULL, last_ms INTEGER NOT NULL, hist BLOB,"
    "  PRIMARY KEY(day, camera, model));"
    "CREATE TABLE IF NOT EXISTS ev_model(hour INTEGER NOT NULL, rseq INTEGER NOT NULL, ts_ms INTEGER NOT "
    "NULL,"
    "  event_type TEXT NOT NULL, camera TEXT NOT NULL, model TEXT NOT NULL, bin INTEGER, micro INTEGER,"
    "  PRIMARY KEY(hour, rseq)) WITHOUT ROWID;"
    "PRAGMA user_version=6;";

/* Version 7: fewer bytes per stored event. ev_model's per-event row moves
 * into ev_time (camera, model, bin, micro: NULL when the event has no model
 * field at all; camera and model are model keys, "" for none), so ingest
 * writes one row per event there instead of two. events loses the texts
 * ev_time holds (agent_id, event_id): the stored event's ids are read from
 * its ev_time row (hour = ts_ms / 3600000, rseq), and its (agent_id, epoch)
 * becomes a small integer, streams.sid. The body is stored packed
 * (ss_body.h: the members the ev_time columns hold are one byte each) and
 * rebuilt byte for byte wherever it is read. ferry_body_pack is ss_body_pack,
 * registered on the writer's connection. A collector of version 6 or older
 * refuses this database (its schema version is newer). */
static const char ss_schema_v7[] =
    "CREATE TABLE streams(sid INTEGER PRIMARY KEY, agent_id TEXT NOT NULL, epoch TEXT NOT NULL,"
    "  UNIQUE(agent_id, epoch));"
    "INSERT INTO streams(agent_id, epoch) SELECT DISTINCT agent_id, epoch FROM events ORDER BY 1, 2;"
    "CREATE TABLE ev_time_v7(hour INTEGER NOT NULL, rseq INTEGER NOT NULL, ts_ms INTEGER NOT NULL,"
    "  event_type TEXT NOT NULL, worker_id TEXT, workstation_id TEXT NOT NULL, count INTEGER NOT NULL,"
    "  event_id TEXT NOT NULL, agent_id TEXT NOT NULL, site TEXT NOT NULL DEFAULT '', camera TEXT,"
    "  model TEXT, bin INTEGER, micro INTEGER, PRIMARY KEY(hour, rseq)) WITHOUT ROWID;"
    "INSERT INTO ev_time_v7 SELECT t.hour, t.rseq, t.ts_ms, t.event_type, t.worker_id, t.workstation_id,"
    "  t.count, t.event_id, t.agent_id, t.site, m.camera, m.model, m.bin, m.micro FROM ev_time t"
    "  LEFT JOIN ev_model m ON m.hour = t.hour AND m.rseq = t.rseq ORDER BY t.hour, t.rseq;"
    "DROP TABLE ev_time;"
    "ALTER TABLE ev_time_v7 RENAME TO ev_time;"
    "DROP TABLE ev_model;"
    "CREATE TABLE events_v7(rseq INTEGER PRIMARY KEY, sid INTEGER NOT NULL, seq INTEGER NOT NULL,"
    "  ts_ms INTEGER NOT NULL, received_at INTEGER NOT NULL, content_hash INTEGER NOT NULL,"
    "  body BLOB NOT NULL);"
    "INSERT INTO events_v7 SELECT e.rseq, s.sid, e.seq, e.ts_ms, e.received_at, e.content_hash,"
    "  ferry_body_pack(e.body, t.event_id, t.ts_ms, t.event_type, t.worker_id, t.workstation_id, t.count,"
    "  t.camera, t.model, t.micro) FROM events e JOIN streams s ON s.agent_id = e.agent_id AND s.epoch = "
    "e.epoch"
    "  LEFT JOIN ev_time t ON t.hour = e.ts_ms / 3600000 AND t.rseq = e.rseq ORDER BY e.rseq;"
    "DROP TABLE events;"
    "ALTER TABLE events_v7 RENAME TO events;"
    "PRAGMA user_version=7;";

/* Version 8: the keys of random ids (UUIDs) are written first to
 * ev_key_new, a small table of ev_key's shape, and folded into ev_key in
 * sorted pieces (ss_keyfold.h). A collector of version 7 would not look
 * there, so it refuses this database (its schema version is newer). */
static const char ss_schema_v8[] =
    "CREATE TABLE ev_key_new(h INTEGER NOT NULL, rseq INTEGER NOT NULL, PRIMARY KEY(h, rseq)) WITHOUT ROWID;"
    "PRAGMA user_version=8;";

/* Drop every rollup row (the max_state changed); the caller marks the hours dirty. */
static const char ss_rollup_reset[] =
    "DELETE FROM worker_hour; DELETE FROM station_hour; DELETE FROM hour_total;"
    "DELETE FROM worker_day; DELETE FROM station_day; DELETE FROM day_total;"
    "DELETE FROM cell_hour; DELETE FROM cell_day; DELETE FROM sstation_hour; DELETE FROM sstation_day;"
    "DELETE FROM wsite_hour; DELETE FROM wsite_day;"
    "DELETE FROM dirty_hours;";

/* Add a cell's counts to its row (ferry_hist_add: store_sqlite_models.c). */
#define SS_MODEL_UPSERT                                                                         \
  " ON CONFLICT DO UPDATE SET events = events + excluded.events, with_conf = with_conf + "      \
  "excluded.with_conf,"                                                                         \
  " conf_micro = conf_micro + excluded.conf_micro, n_working = n_working + excluded.n_working," \
  " n_idle = n_idle + excluded.n_idle, n_absent = n_absent + excluded.n_absent,"                \
  " n_product = n_product + excluded.n_product, last_ms = max(last_ms, excluded.last_ms),"      \
  " hist = ferry_hist_add(hist, excluded.hist)"

/* The model fields of stored events, from their bodies (confidence as its
 * JSON text): the migration to version 6 reads them once, and fills the
 * ev_model rows of that version (moved into ev_time by version 7). */
#define SS_EVMODEL_V6_INSERT "INSERT INTO ev_model VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
#define SS_MODEL_EVENTS_SQL                                                               \
  "SELECT t.ts_ms, t.event_type, e.body ->> '$.camera_id', e.body ->> '$.model_version'," \
  " e.body -> '$.confidence', t.rseq FROM ev_time t JOIN events e ON e.rseq = t.rseq"

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
  SS_EVTIME_INSERT,
  SS_KEY_PROBE,
  SS_KEY_INSERT,
  SS_KEYNEW_PROBE,
  SS_KEYNEW_INSERT,
  SS_KEYNEW_FOLD,
  SS_KEYNEW_DROP,
  SS_KEYNEW_COUNT,
  SS_KEY_ALL,
  SS_EVENTS_MAX,
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
  SS_DIRTY_COUNT,
  SS_BEGIN_READ,
  SS_EV_RANGE,
  SS_EV_RANGE_KEYS,
  SS_EV_TS_RANGE,
  SS_EV_MINMAX,
  SS_META_GET,
  SS_META_SET,
  SS_KNOWN_ADD,
  SS_KNOWN_GET,
  SS_DIRTY_ADD,
  SS_DIRTY_NEWEST,
  SS_DIRTY_IN,
  SS_DIRTY_DEL,
  SS_WH_DEL,
  SS_SH_DEL,
  SS_HT_DEL,
  SS_WH_INS,
  SS_SH_INS,
  SS_HT_INS,
  SS_WD_DEL,
  SS_SD_DEL,
  SS_DT_DEL,
  SS_WD_FILL,
  SS_SD_FILL,
  SS_DT_FILL,
  SS_WH_SUM,
  SS_SH_SUM,
  SS_HT_SUM,
  SS_WD_SUM,
  SS_SD_SUM,
  SS_DT_SUM,
  SS_MH_ADD,
  SS_MH_DEL,
  SS_MD_DEL,
  SS_MD_ADD,
  SS_MH_READ,
  SS_MD_READ,
  SS_EXPORT,
  SS_EXPORT_KEYS,
  SS_EXPORT_ONE,
  SS_STREAM_GET,
  SS_STREAM_ADD,
  SS_EVMODEL_RANGE,
  SS_EVTIME_TYPES,
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
    [SS_AGENT_UPSERT] = "INSERT INTO agents(agent_id, first_seen, last_seen, version, clock_skew_s, backlog,"
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
    [SS_EPOCH_SET_HIGH] = "UPDATE epochs SET high_seq = max(high_seq, ?3) WHERE agent_id = ?1 AND epoch = ?2",
    [SS_IDEM_GET] = "SELECT body_hash, answer FROM idempotency WHERE agent_id = ?1 AND key = ?2",
    [SS_IDEM_PUT] = "INSERT INTO idempotency(agent_id, key, body_hash, answer, created_at)"
                    " VALUES(?1, ?2, ?3, ?4, ?5)",
    [SS_IDEM_PURGE] = "DELETE FROM idempotency WHERE created_at < ?1",
    /* ?1 sid ?2 seq ?3 ts ?4 received_at ?5 content_hash ?6 body (packed) */
    [SS_EVENT_INSERT] = "INSERT INTO events(sid, seq, ts_ms, received_at, content_hash, body)"
                        " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    /* the stored events under key ?1: whether each is (?2, ?3), and its content hash */
    [SS_KEY_PROBE] = "SELECT t.agent_id = ?2 AND t.event_id = ?3, e.content_hash FROM ev_key k"
                     " JOIN events e ON e.rseq = k.rseq"
                     " JOIN ev_time t ON t.hour = e.ts_ms / 3600000 AND t.rseq = e.rseq WHERE k.h = ?1",
    [SS_KEY_INSERT] = "INSERT INTO ev_key(h, rseq) VALUES(?1, ?2)",
    /* the same for the random keys not folded yet (ss_keyfold.h) */
    [SS_KEYNEW_PROBE] = "SELECT t.agent_id = ?2 AND t.event_id = ?3, e.content_hash FROM ev_key_new k"
                        " JOIN events e ON e.rseq = k.rseq"
                        " JOIN ev_time t ON t.hour = e.ts_ms / 3600000 AND t.rseq = e.rseq WHERE k.h = ?1",
    [SS_KEYNEW_INSERT] = "INSERT INTO ev_key_new(h, rseq) VALUES(?1, ?2)",
    /* one piece of a fold: the keys in [?1, ?2], in key order */
    [SS_KEYNEW_FOLD] = "INSERT INTO ev_key(h, rseq) SELECT h, rseq FROM ev_key_new WHERE h BETWEEN ?1 AND ?2"
                       " ORDER BY h, rseq",
    [SS_KEYNEW_DROP] = "DELETE FROM ev_key_new WHERE h BETWEEN ?1 AND ?2",
    [SS_KEYNEW_COUNT] = "SELECT count(*) FROM ev_key_new",
    [SS_KEY_ALL] = "SELECT h FROM ev_key UNION ALL SELECT h FROM ev_key_new",
    [SS_EVENTS_MAX] = "SELECT coalesce(max(rseq), 0) FROM events",
    /* ?1 hour ?2 rseq ?3 ts ?4 type ?5 worker ?6 station ?7 count ?8 event_id ?9 agent ?10 site
     * ?11 camera key ?12 model key ?13 bin ?14 micro (all NULL: no model field) */
    [SS_EVTIME_INSERT] =
        "INSERT INTO ev_time(hour, rseq, ts_ms, event_type, worker_id, workstation_id, count,"
        " event_id, agent_id, site, camera, model, bin, micro)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    /* ranges overlapping or touching [?3, ?4] */
    [SS_RECV_WINDOW] = "SELECT from_seq, to_seq FROM recv_ranges WHERE agent_id = ?1 AND epoch = ?2"
                       " AND to_seq >= ?3 AND from_seq <= ?4",
    [SS_RECV_DELETE] =
        "DELETE FROM recv_ranges WHERE agent_id = ?1 AND epoch = ?2 AND to_seq >= ?3 AND from_seq <= ?4",
    [SS_RECV_INSERT] = "INSERT INTO recv_ranges(agent_id, epoch, from_seq, to_seq) VALUES(?1, ?2, ?3, ?4)",
    [SS_DROP_WINDOW] = "SELECT from_seq, to_seq FROM dropped_ranges WHERE agent_id = ?1 AND epoch = ?2"
                       " AND to_seq >= ?3 AND from_seq <= ?4",
    [SS_DROP_DELETE] =
        "DELETE FROM dropped_ranges WHERE agent_id = ?1 AND epoch = ?2 AND to_seq >= ?3 AND from_seq <= ?4",
    [SS_DROP_INSERT] = "INSERT INTO dropped_ranges(agent_id, epoch, from_seq, to_seq) VALUES(?1, ?2, ?3, ?4)",
    [SS_AGENTS_LIST] =
        "SELECT agent_id, last_seen, version, clock_skew_s, backlog, oldest_pending_s, conflicts"
        " FROM agents ORDER BY agent_id",
    [SS_EPOCHS_OF] = "SELECT epoch, first_seen, last_seen, high_seq FROM epochs WHERE agent_id = ?1"
                     " ORDER BY first_seen, rowid",
    [SS_RECV_ALL] =
        "SELECT from_seq, to_seq FROM recv_ranges WHERE agent_id = ?1 AND epoch = ?2 ORDER BY from_seq",
    [SS_DROP_ALL] =
        "SELECT from_seq, to_seq FROM dropped_ranges WHERE agent_id = ?1 AND epoch = ?2 ORDER BY from_seq",
    [SS_PING] = "SELECT count(*) FROM sqlite_master",
    [SS_DIRTY_COUNT] = "SELECT count(*) FROM dirty_hours",
    [SS_BEGIN_READ] = "BEGIN",
    /* ?1 lo ?2 hi ?3 worker (NULL = all) ?4 hour of lo ?5 hour of hi - 1 */
    [SS_EV_RANGE] =
        "SELECT event_id, agent_id, ts_ms, event_type, worker_id, workstation_id, count, site FROM ev_time"
        " WHERE hour >= ?4 AND hour <= ?5 AND ts_ms >= ?1 AND ts_ms < ?2"
        " AND (?3 IS NULL OR worker_id = ?3)",
    /* the same in one hour ?4, rseq in [?5, ?6] (a slice's read, rollup_slices.h) */
    [SS_EV_RANGE_KEYS] =
        "SELECT event_id, agent_id, ts_ms, event_type, worker_id, workstation_id, count, site FROM ev_time"
        " WHERE hour = ?4 AND rseq >= ?5 AND rseq <= ?6 AND ts_ms >= ?1 AND ts_ms < ?2"
        " AND (?3 IS NULL OR worker_id = ?3)",
    /* their times and rseq only (a range's histogram) */
    [SS_EV_TS_RANGE] = "SELECT ts_ms, rseq FROM ev_time WHERE hour = ?4 AND rseq >= ?5 AND rseq <= ?6"
                       " AND ts_ms >= ?1 AND ts_ms < ?2 AND (?3 IS NULL OR worker_id = ?3)",
    [SS_EV_MINMAX] = "SELECT (SELECT min(ts_ms) FROM ev_time WHERE hour = (SELECT min(hour) FROM ev_time)),"
                     " (SELECT max(ts_ms) FROM ev_time WHERE hour = (SELECT max(hour) FROM ev_time))",
    [SS_META_GET] = "SELECT v FROM meta WHERE k = ?1",
    [SS_META_SET] = "INSERT INTO meta(k, v) VALUES(?1, ?2) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
    [SS_KNOWN_ADD] = "INSERT OR IGNORE INTO known_ids(kind, id) VALUES(?1, ?2)",
    [SS_KNOWN_GET] = "SELECT 1 FROM known_ids WHERE kind = ?1 AND id = ?2",
    [SS_DIRTY_ADD] = "INSERT OR IGNORE INTO dirty_hours(hour) VALUES(?1)",
    /* the newest dirty hours (what a dashboard asks for first), ascending */
    [SS_DIRTY_NEWEST] =
        "SELECT hour FROM (SELECT hour FROM dirty_hours ORDER BY hour DESC LIMIT ?1) ORDER BY hour",
    [SS_DIRTY_IN] = "SELECT hour FROM dirty_hours WHERE hour >= ?1 AND hour < ?2 ORDER BY hour",
    [SS_DIRTY_DEL] = "DELETE FROM dirty_hours WHERE hour >= ?1 AND hour < ?2",
    [SS_WH_DEL] = "DELETE FROM worker_hour WHERE hour >= ?1 AND hour < ?2",
    [SS_SH_DEL] = "DELETE FROM station_hour WHERE hour >= ?1 AND hour < ?2",
    [SS_HT_DEL] = "DELETE FROM hour_total WHERE hour >= ?1 AND hour < ?2",
    /* a rebuild adds each slice's rows (store_sqlite_metrics.c) */
    [SS_WH_INS] = "INSERT INTO worker_hour VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO UPDATE SET"
                  " working_ms = working_ms + excluded.working_ms, idle_ms = idle_ms + excluded.idle_ms,"
                  " absent_ms = absent_ms + excluded.absent_ms, units = units + excluded.units,"
                  " events = events + excluded.events",
    [SS_SH_INS] = "INSERT INTO station_hour VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO UPDATE SET"
                  " occupancy_ms = occupancy_ms + excluded.occupancy_ms,"
                  " working_ms = working_ms + excluded.working_ms, units = units + excluded.units,"
                  " events = events + excluded.events, state_ms = state_ms + excluded.state_ms",
    [SS_HT_INS] = "INSERT INTO hour_total VALUES(?1, ?2, ?3) ON CONFLICT DO UPDATE SET"
                  " events = events + excluded.events, units = units + excluded.units",
    [SS_WD_DEL] = "DELETE FROM worker_day WHERE day = ?1",
    [SS_SD_DEL] = "DELETE FROM station_day WHERE day = ?1",
    [SS_DT_DEL] = "DELETE FROM day_total WHERE day = ?1",
    /* ?1 day ?2 its first hour ?3 the next day's first hour */
    [SS_WD_FILL] =
        "INSERT INTO worker_day SELECT ?1, worker_id, sum(working_ms), sum(idle_ms), sum(absent_ms),"
        " sum(units), sum(events) FROM worker_hour WHERE hour >= ?2 AND hour < ?3 GROUP BY worker_id",
    [SS_SD_FILL] = "INSERT INTO station_day SELECT ?1, workstation_id, sum(occupancy_ms), sum(working_ms),"
                   " sum(units), sum(events), sum(state_ms) FROM station_hour WHERE hour >= ?2 AND hour < ?3"
                   " GROUP BY workstation_id",
    [SS_DT_FILL] = "INSERT INTO day_total SELECT ?1, sum(events), sum(units) FROM hour_total"
                   " WHERE hour >= ?2 AND hour < ?3 HAVING count(*) > 0",
    /* ?1 lo ?2 hi (hours or days) ?3 id (NULL = all) */
    [SS_WH_SUM] = "SELECT worker_id, sum(working_ms), sum(idle_ms), sum(absent_ms), sum(units), sum(events)"
                  " FROM worker_hour WHERE hour >= ?1 AND hour < ?2 AND (?3 IS NULL OR worker_id = ?3)"
                  " GROUP BY worker_id",
    [SS_SH_SUM] = "SELECT workstation_id, sum(occupancy_ms), sum(working_ms), sum(units), sum(events),"
                  " sum(state_ms) FROM station_hour WHERE hour >= ?1 AND hour < ?2"
                  " AND (?3 IS NULL OR workstation_id = ?3) GROUP BY workstation_id",
    [SS_HT_SUM] = "SELECT sum(events), sum(units) FROM hour_total WHERE hour >= ?1 AND hour < ?2",
    [SS_WD_SUM] = "SELECT worker_id, sum(working_ms), sum(idle_ms), sum(absent_ms), sum(units), sum(events)"
                  " FROM worker_day WHERE day >= ?1 AND day < ?2 AND (?3 IS NULL OR worker_id = ?3)"
                  " GROUP BY worker_id",
    [SS_SD_SUM] = "SELECT workstation_id, sum(occupancy_ms), sum(working_ms), sum(units), sum(events),"
                  " sum(state_ms) FROM station_day WHERE day >= ?1 AND day < ?2"
                  " AND (?3 IS NULL OR workstation_id = ?3) GROUP BY workstation_id",
    [SS_DT_SUM] = "SELECT sum(events), sum(units) FROM day_total WHERE day >= ?1 AND day < ?2",
    /* ?1 hour (day) ?2 camera ?3 model ?4 events ?5 with_conf ?6 conf_micro ?7..?10 mix ?11 last ?12 hist */
    [SS_MH_ADD] =
        "INSERT INTO model_hour VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)" SS_MODEL_UPSERT,
    [SS_MD_ADD] =
        "INSERT INTO model_day VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)" SS_MODEL_UPSERT,
    /* ?1 lo ?2 hi (hours or days) */
    [SS_MH_DEL] = "DELETE FROM model_hour WHERE hour >= ?1 AND hour < ?2",
    [SS_MD_DEL] = "DELETE FROM model_day WHERE day = ?1",
    [SS_MH_READ] =
        "SELECT camera, model, events, with_conf, conf_micro, n_working, n_idle, n_absent, n_product,"
        " last_ms, hist FROM model_hour WHERE hour >= ?1 AND hour < ?2",
    [SS_MD_READ] =
        "SELECT camera, model, events, with_conf, conf_micro, n_working, n_idle, n_absent, n_product,"
        " last_ms, hist FROM model_day WHERE day >= ?1 AND day < ?2",
    /* ?1 first hour ?2 last hour ?3 from ?4 to; after ?5 ts ?6 agent ?7 event; until ?8 ?9 ?10;
     * ?11 event_type ?12 camera key ?13 model key (NULL = any). Sorted hour by hour. */
    [SS_EXPORT] = "SELECT t.ts_ms, t.agent_id, t.event_id, e.body, t.event_type, t.worker_id,"
                  " t.workstation_id, t.count, t.camera, t.model, t.micro FROM ev_time t"
                  " JOIN events e ON e.rseq = t.rseq WHERE t.hour >= ?1 AND t.hour <= ?2"
                  " AND t.ts_ms >= ?3 AND t.ts_ms < ?4"
                  " AND (?5 IS NULL OR (t.ts_ms, t.agent_id, t.event_id) > (?5, ?6, ?7))"
                  " AND (?8 IS NULL OR (t.ts_ms, t.agent_id, t.event_id) <= (?8, ?9, ?10))"
                  " AND (?11 IS NULL OR t.event_type = ?11)"
                  " AND (?12 IS NULL OR t.camera = ?12)"
                  " AND (?13 IS NULL OR t.model = ?13)"
                  " ORDER BY t.hour, t.ts_ms, t.agent_id, t.event_id",
    /* The export's first pass: the same rows in the same order, keys only (no
     * body; ?14 not NULL: only events with a confidence, its micro-units
     * returned). */
    [SS_EXPORT_KEYS] = "SELECT t.ts_ms, t.agent_id, t.event_id, t.hour, t.rseq, t.micro FROM ev_time t"
                       " WHERE t.hour >= ?1 AND t.hour <= ?2 AND t.ts_ms >= ?3 AND t.ts_ms < ?4"
                       " AND (?5 IS NULL OR (t.ts_ms, t.agent_id, t.event_id) > (?5, ?6, ?7))"
                       " AND (?8 IS NULL OR (t.ts_ms, t.agent_id, t.event_id) <= (?8, ?9, ?10))"
                       " AND (?11 IS NULL OR t.event_type = ?11)"
                       " AND (?12 IS NULL OR t.camera = ?12)"
                       " AND (?13 IS NULL OR t.model = ?13)"
                       " AND (?14 IS NULL OR t.micro IS NOT NULL)"
                       " ORDER BY t.hour, t.ts_ms, t.agent_id, t.event_id",
    /* ?1 hour ?2 rseq: one event, SS_EXPORT's columns */
    [SS_EXPORT_ONE] = "SELECT t.ts_ms, t.agent_id, t.event_id, e.body, t.event_type, t.worker_id,"
                      " t.workstation_id, t.count, t.camera, t.model, t.micro FROM ev_time t"
                      " JOIN events e ON e.rseq = t.rseq WHERE t.hour = ?1 AND t.rseq = ?2",
    [SS_STREAM_GET] = "SELECT sid FROM streams WHERE agent_id = ?1 AND epoch = ?2",
    [SS_STREAM_ADD] = "INSERT INTO streams(agent_id, epoch) VALUES(?1, ?2)",
    /* ?1 lo ?2 hi ?3 hour of lo ?4 hour of hi - 1 */
    [SS_EVMODEL_RANGE] = "SELECT ts_ms, event_type, camera, model, bin, micro FROM ev_time"
                         " WHERE hour >= ?3 AND hour <= ?4 AND ts_ms >= ?1 AND ts_ms < ?2"
                         " AND camera IS NOT NULL",
    [SS_EVTIME_TYPES] = "SELECT event_type, count(*), max(ts_ms) FROM ev_time"
                        " WHERE hour >= ?3 AND hour <= ?4 AND ts_ms >= ?1 AND ts_ms < ?2 GROUP BY event_type",
};

#endif
