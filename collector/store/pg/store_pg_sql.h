/* store_pg_sql: every SQL statement of the PostgreSQL store, in one place.
 * The schema is versioned in schema_version and migrated by the collector at
 * open (one step per version, in one transaction, under an advisory lock so
 * replicas starting together migrate once). Statements are prepared on each
 * connection (SP_* index the array) and executed with text parameters; a
 * batch's events travel as arrays and are unnested server-side (one round
 * trip per batch, whatever its size). Ids use COLLATE "C": byte order, like
 * the SQLite store and the metrics lists. */
#ifndef FERRY_COLLECTOR_STORE_PG_SQL_H
#define FERRY_COLLECTOR_STORE_PG_SQL_H

#define SP_SCHEMA_VERSION 5

/* Advisory lock keys (two int4): migrations, and the rollup rebuild's
 * per-hour and per-day claims. */
#define SP_LOCK_NS_MIGRATE 0x46525930 /* "FRY0" */
#define SP_LOCK_NS_HOUR    0x46525948 /* "FRYH" */
#define SP_LOCK_NS_DAY     0x46525944 /* "FRYD" */

static const char sp_version_table[] = "CREATE TABLE IF NOT EXISTS schema_version(version integer NOT NULL)";

/* Version 1: ingest and delivery tracking. Times are UTC milliseconds. */
static const char sp_schema_v1[] =
    "CREATE TABLE events("
    "  agent_id text COLLATE \"C\" NOT NULL, event_id text COLLATE \"C\" NOT NULL,"
    "  epoch text NOT NULL, seq bigint NOT NULL, ts_ms bigint NOT NULL, event_type text NOT NULL,"
    "  worker_id text COLLATE \"C\", workstation_id text COLLATE \"C\" NOT NULL,"
    "  count bigint NOT NULL, body text NOT NULL, content_hash bigint NOT NULL,"
    "  received_at bigint NOT NULL, PRIMARY KEY(agent_id, event_id));"
    "CREATE TABLE agents("
    "  agent_id text COLLATE \"C\" PRIMARY KEY, first_seen bigint NOT NULL, last_seen bigint NOT NULL,"
    "  version text, clock_skew_s double precision, backlog bigint, oldest_pending_s double precision,"
    "  conflicts bigint NOT NULL DEFAULT 0);"
    "CREATE TABLE epochs("
    "  agent_id text COLLATE \"C\" NOT NULL, epoch text NOT NULL, first_seen bigint NOT NULL,"
    "  last_seen bigint NOT NULL, high_seq bigint NOT NULL DEFAULT 0, backlog bigint,"
    "  oldest_pending_s double precision, n bigserial, PRIMARY KEY(agent_id, epoch));"
    "CREATE TABLE recv_ranges("
    "  agent_id text COLLATE \"C\" NOT NULL, epoch text NOT NULL, from_seq bigint NOT NULL,"
    "  to_seq bigint NOT NULL, PRIMARY KEY(agent_id, epoch, from_seq));"
    "CREATE TABLE dropped_ranges("
    "  agent_id text COLLATE \"C\" NOT NULL, epoch text NOT NULL, from_seq bigint NOT NULL,"
    "  to_seq bigint NOT NULL, PRIMARY KEY(agent_id, epoch, from_seq));"
    "CREATE TABLE idempotency("
    "  agent_id text COLLATE \"C\" NOT NULL, key text NOT NULL, body_hash text NOT NULL,"
    "  answer text NOT NULL, created_at bigint NOT NULL, PRIMARY KEY(agent_id, key));"
    "CREATE INDEX idempotency_created ON idempotency(created_at);";

/* Version 2: what the metrics need (docs/metrics.md, docs/scaling.md).
 * events_ts covers a window's reads (index-only once vacuumed). known_ids
 * and dirty_hours have no unique key on purpose: writers on several replicas
 * append to them without ever waiting for each other; a rebuild deletes the
 * marks it saw (by row), so a mark committed meanwhile survives it. */
static const char sp_schema_v2[] =
    "CREATE INDEX events_ts ON events(ts_ms) INCLUDE (event_type, worker_id, workstation_id, count,"
    "  event_id, agent_id);"
    "CREATE TABLE meta(k text PRIMARY KEY, v bigint NOT NULL);"
    "CREATE TABLE known_ids(kind smallint NOT NULL, id text COLLATE \"C\" NOT NULL);"
    "CREATE INDEX known_ids_id ON known_ids(kind, id);"
    "INSERT INTO known_ids(kind, id) SELECT DISTINCT 0, worker_id FROM events WHERE worker_id IS NOT NULL;"
    "INSERT INTO known_ids(kind, id) SELECT DISTINCT 1, workstation_id FROM events;"
    "CREATE TABLE dirty_hours(n bigserial PRIMARY KEY, hour bigint NOT NULL);"
    "CREATE INDEX dirty_hours_hour ON dirty_hours(hour);"
    "CREATE TABLE worker_hour(hour bigint NOT NULL, worker_id text COLLATE \"C\" NOT NULL,"
    "  working_ms bigint NOT NULL, idle_ms bigint NOT NULL, absent_ms bigint NOT NULL,"
    "  units bigint NOT NULL, events bigint NOT NULL, PRIMARY KEY(hour, worker_id));"
    "CREATE TABLE station_hour(hour bigint NOT NULL, workstation_id text COLLATE \"C\" NOT NULL,"
    "  occupancy_ms bigint NOT NULL, working_ms bigint NOT NULL, units bigint NOT NULL,"
    "  events bigint NOT NULL, state_ms bigint NOT NULL, PRIMARY KEY(hour, workstation_id));"
    "CREATE TABLE hour_total(hour bigint PRIMARY KEY, events bigint NOT NULL, units bigint NOT NULL);"
    "CREATE TABLE worker_day(day bigint NOT NULL, worker_id text COLLATE \"C\" NOT NULL,"
    "  working_ms bigint NOT NULL, idle_ms bigint NOT NULL, absent_ms bigint NOT NULL,"
    "  units bigint NOT NULL, events bigint NOT NULL, PRIMARY KEY(day, worker_id));"
    "CREATE TABLE station_day(day bigint NOT NULL, workstation_id text COLLATE \"C\" NOT NULL,"
    "  occupancy_ms bigint NOT NULL, working_ms bigint NOT NULL, units bigint NOT NULL,"
    "  events bigint NOT NULL, state_ms bigint NOT NULL, PRIMARY KEY(day, workstation_id));"
    "CREATE TABLE day_total(day bigint PRIMARY KEY, events bigint NOT NULL, units bigint NOT NULL);";

/* Version 3: the plant model (SPEC §6.6). The registry: every version of the
 * document as written (store_pg_registry.c keeps the latest few). The site of
 * each event (its agent's, resolved at ingest; "" for none and for events
 * stored before), in events_ts too, and the site rollups behind the site= and
 * line= filters (collector/metrics/rollup_site.h): worker cells per (site,
 * workstation), the same per site, station rows per site; day rows keyed by
 * site first. Dropping the recorded
 * max_state makes the next open rebuild every hour, filling them. */
static const char sp_schema_v3[] =
    "CREATE TABLE registry(version bigint PRIMARY KEY, updated_at bigint NOT NULL, doc text NOT NULL);"
    "ALTER TABLE events ADD COLUMN site text COLLATE \"C\" NOT NULL DEFAULT '';"
    "DROP INDEX events_ts;"
    "CREATE INDEX events_ts ON events(ts_ms) INCLUDE (event_type, worker_id, workstation_id, count,"
    "  event_id, agent_id, site);"
    "CREATE TABLE cell_hour(hour bigint NOT NULL, site text COLLATE \"C\" NOT NULL,"
    "  workstation_id text COLLATE \"C\" NOT NULL, worker_id text COLLATE \"C\" NOT NULL,"
    "  working_ms bigint NOT NULL, idle_ms bigint NOT NULL, absent_ms bigint NOT NULL, units bigint NOT NULL,"
    "  events bigint NOT NULL, PRIMARY KEY(hour, site, workstation_id, worker_id));"
    "CREATE TABLE cell_day(day bigint NOT NULL, site text COLLATE \"C\" NOT NULL,"
    "  workstation_id text COLLATE \"C\" NOT NULL, worker_id text COLLATE \"C\" NOT NULL,"
    "  working_ms bigint NOT NULL, idle_ms bigint NOT NULL, absent_ms bigint NOT NULL, units bigint NOT NULL,"
    "  events bigint NOT NULL, PRIMARY KEY(site, day, workstation_id, worker_id));"
    "CREATE INDEX cell_day_day ON cell_day(day);"
    "CREATE TABLE sstation_hour(hour bigint NOT NULL, site text COLLATE \"C\" NOT NULL,"
    "  workstation_id text COLLATE \"C\" NOT NULL, occupancy_ms bigint NOT NULL, working_ms bigint NOT NULL,"
    "  units bigint NOT NULL, events bigint NOT NULL, state_ms bigint NOT NULL,"
    "  PRIMARY KEY(hour, site, workstation_id));"
    "CREATE TABLE sstation_day(day bigint NOT NULL, site text COLLATE \"C\" NOT NULL,"
    "  workstation_id text COLLATE \"C\" NOT NULL, occupancy_ms bigint NOT NULL, working_ms bigint NOT NULL,"
    "  units bigint NOT NULL, events bigint NOT NULL, state_ms bigint NOT NULL,"
    "  PRIMARY KEY(site, day, workstation_id));"
    "CREATE INDEX sstation_day_day ON sstation_day(day);"
    "CREATE TABLE wsite_hour(hour bigint NOT NULL, site text COLLATE \"C\" NOT NULL,"
    "  worker_id text COLLATE \"C\" NOT NULL, working_ms bigint NOT NULL, idle_ms bigint NOT NULL,"
    "  absent_ms bigint NOT NULL, units bigint NOT NULL, events bigint NOT NULL,"
    "  PRIMARY KEY(hour, site, worker_id));"
    "CREATE TABLE wsite_day(day bigint NOT NULL, site text COLLATE \"C\" NOT NULL,"
    "  worker_id text COLLATE \"C\" NOT NULL, working_ms bigint NOT NULL, idle_ms bigint NOT NULL,"
    "  absent_ms bigint NOT NULL, units bigint NOT NULL, events bigint NOT NULL,"
    "  PRIMARY KEY(site, day, worker_id));"
    "CREATE INDEX wsite_day_day ON wsite_day(day);"
    "DELETE FROM meta WHERE k = 'rollup_max_state_ms';";

/* Version 4: the model rollups (collector/metrics/models.h), as in the
 * SQLite store; the histogram is an int[] of MODELS_BINS counts, added with
 * ferry_hist_add. Filled from the stored events by the migration
 * (store_pg_models.c). */
static const char sp_schema_v4[] =
    "CREATE FUNCTION ferry_hist_add(a int[], b int[]) RETURNS int[] LANGUAGE sql IMMUTABLE AS $f$"
    "  SELECT CASE WHEN a IS NULL THEN b WHEN b IS NULL THEN a ELSE"
    "  (SELECT array_agg(x + y ORDER BY i) FROM unnest(a, b) WITH ORDINALITY AS t(x, y, i)) END $f$;"
    "CREATE TABLE model_hour(hour bigint NOT NULL, camera text COLLATE \"C\" NOT NULL,"
    "  model text COLLATE \"C\" NOT NULL, events bigint NOT NULL, with_conf bigint NOT NULL,"
    "  conf_micro bigint NOT NULL, n_working bigint NOT NULL, n_idle bigint NOT NULL, n_absent bigint NOT "
    "NULL,"
    "  n_product bigint NOT NULL, last_ms bigint NOT NULL, hist int[], PRIMARY KEY(hour, camera, model));"
    "CREATE TABLE model_day(day bigint NOT NULL, camera text COLLATE \"C\" NOT NULL,"
    "  model text COLLATE \"C\" NOT NULL, events bigint NOT NULL, with_conf bigint NOT NULL,"
    "  conf_micro bigint NOT NULL, n_working bigint NOT NULL, n_idle bigint NOT NULL, n_absent bigint NOT "
    "NULL,"
    "  n_product bigint NOT NULL, last_ms bigint NOT NULL, hist int[], PRIMARY KEY(day, camera, model));";

/* Add cells (one array per column, keys unique within a statement) to their rows. */
#define SP_MODEL_ADD(table, key)                                                                            \
  "INSERT INTO " table " SELECT k, c, m, e, w, cm, n1, n2, n3, n4, l, h::int[] FROM unnest($1::bigint[],"   \
  " $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[],"          \
  " $9::bigint[], $10::bigint[], $11::bigint[], $12::text[]) AS t(k, c, m, e, w, cm, n1, n2, n3, n4, l, h)" \
  " ON CONFLICT (" key ", camera, model) DO UPDATE SET events = " table ".events + excluded.events,"        \
  " with_conf = " table ".with_conf + excluded.with_conf, conf_micro = " table                              \
  ".conf_micro + excluded.conf_micro,"                                                                      \
  " n_working = " table ".n_working + excluded.n_working, n_idle = " table ".n_idle + excluded.n_idle,"     \
  " n_absent = " table ".n_absent + excluded.n_absent, n_product = " table                                  \
  ".n_product + excluded.n_product,"                                                                        \
  " last_ms = greatest(" table ".last_ms, excluded.last_ms), hist = ferry_hist_add(" table                  \
  ".hist, excluded.hist)"

#define SP_MODEL_EVENTS_SQL                                                               \
  "SELECT ts_ms, event_type, body::json ->> 'camera_id', body::json ->> 'model_version'," \
  " (body::json -> 'confidence')::text FROM events"

/* Drop every rollup row (the max_state changed); the caller marks the hours dirty. */
static const char sp_rollup_reset[] =
    "DELETE FROM worker_hour; DELETE FROM station_hour; DELETE FROM hour_total;"
    "DELETE FROM worker_day; DELETE FROM station_day; DELETE FROM day_total;"
    "DELETE FROM cell_hour; DELETE FROM cell_day; DELETE FROM sstation_hour; DELETE FROM sstation_day;"
    "DELETE FROM wsite_hour; DELETE FROM wsite_day;"
    "DELETE FROM dirty_hours;";

enum {
  SP_AGENT_UPSERT,
  SP_AGENT_CONFLICTS,
  SP_EPOCH_UPSERT,
  SP_EPOCH_SET_HIGH,
  SP_IDEM_GET,
  SP_IDEM_PUT,
  SP_IDEM_PURGE,
  SP_EVENTS_INSERT,
  SP_EVENTS_HASH,
  SP_RECV_WINDOW,
  SP_RECV_DELETE,
  SP_RECV_INSERT,
  SP_DROP_WINDOW,
  SP_DROP_DELETE,
  SP_DROP_INSERT,
  SP_AGENTS_LIST,
  SP_EPOCHS_ALL,
  SP_RECV_ALL,
  SP_DROP_ALL,
  SP_PING,
  SP_DIRTY_COUNT,
  SP_EV_RANGE,
  SP_EV_RANGE_WORKER,
  SP_EV_RANGE_CAP,
  SP_EV_HIST,
  SP_EV_MINMAX,
  SP_META_GET,
  SP_META_SET,
  SP_KNOWN_ADD,
  SP_KNOWN_GET,
  SP_DIRTY_ADD,
  SP_DIRTY_CLAIM,
  SP_DIRTY_IN,
  SP_DIRTY_DEL,
  SP_DAY_LOCK,
  SP_WH_DEL,
  SP_SH_DEL,
  SP_HT_DEL,
  SP_WH_INS,
  SP_SH_INS,
  SP_HT_INS,
  SP_WD_DEL,
  SP_SD_DEL,
  SP_DT_DEL,
  SP_WD_FILL,
  SP_SD_FILL,
  SP_DT_FILL,
  SP_WH_SUM,
  SP_SH_SUM,
  SP_HT_SUM,
  SP_WD_SUM,
  SP_SD_SUM,
  SP_DT_SUM,
  SP_MH_ADD,
  SP_MD_ADD,
  SP_MH_DEL,
  SP_MD_DEL,
  SP_MH_READ,
  SP_MD_READ,
  SP_MODEL_EVENTS,
  SP_EXPORT,
  SP_EXPORT_LAST,
  SP_COUNT_
};

/* The export's filters: $1 from $2 to; after $3 ts $4 agent $5 event; until
 * $6 $7 $8; $9 event_type $10 camera_id $11 model_version $12 max_confidence
 * (NULL = any). */
#define SP_EXPORT_WHERE                                                                  \
  " WHERE ts_ms >= $1 AND ts_ms < $2"                                                    \
  " AND ($3::bigint IS NULL OR (ts_ms, agent_id, event_id) > ($3, $4::text, $5::text))"  \
  " AND ($6::bigint IS NULL OR (ts_ms, agent_id, event_id) <= ($6, $7::text, $8::text))" \
  " AND ($9::text IS NULL OR event_type = $9)"                                           \
  " AND ($10::text IS NULL OR body::json ->> 'camera_id' = $10)"                         \
  " AND ($11::text IS NULL OR body::json ->> 'model_version' = $11)"                     \
  " AND ($12::float8 IS NULL OR (body::json ->> 'confidence')::float8 <= $12)"

static const char *const sp_sql[SP_COUNT_] = {
    /* $1 agent $2 now $3 version $4 skew $5 backlog $6 oldest_pending_s (NULL = keep).
   * Every batch starts here: the row lock it takes on the agent is held to
   * commit, so one agent's batches — a retry landing on another replica
   * while the first copy is still in flight included — apply one after the
   * other, each seeing what the previous one committed. */
    [SP_AGENT_UPSERT] =
        "INSERT INTO agents(agent_id, first_seen, last_seen, version, clock_skew_s, backlog,"
        " oldest_pending_s) VALUES($1, $2, $2, $3, $4, $5, $6)"
        " ON CONFLICT(agent_id) DO UPDATE SET last_seen = greatest(agents.last_seen, excluded.last_seen),"
        " version = coalesce(excluded.version, agents.version),"
        " clock_skew_s = coalesce(excluded.clock_skew_s, agents.clock_skew_s),"
        " backlog = coalesce(excluded.backlog, agents.backlog),"
        " oldest_pending_s = CASE WHEN excluded.backlog IS NULL THEN agents.oldest_pending_s"
        "   ELSE excluded.oldest_pending_s END",
    [SP_AGENT_CONFLICTS] = "UPDATE agents SET conflicts = conflicts + $2 WHERE agent_id = $1",
    /* $1 agent $2 epoch $3 now $4 backlog $5 oldest_pending_s; answers high_seq */
    [SP_EPOCH_UPSERT] =
        "INSERT INTO epochs(agent_id, epoch, first_seen, last_seen, backlog, oldest_pending_s)"
        " VALUES($1, $2, $3, $3, $4, $5)"
        " ON CONFLICT(agent_id, epoch) DO UPDATE SET last_seen = greatest(epochs.last_seen, "
        "excluded.last_seen),"
        " backlog = coalesce(excluded.backlog, epochs.backlog),"
        " oldest_pending_s = CASE WHEN excluded.backlog IS NULL THEN epochs.oldest_pending_s"
        "   ELSE excluded.oldest_pending_s END RETURNING high_seq",
    [SP_EPOCH_SET_HIGH] =
        "UPDATE epochs SET high_seq = greatest(high_seq, $3) WHERE agent_id = $1 AND epoch = $2",
    [SP_IDEM_GET] = "SELECT body_hash, answer FROM idempotency WHERE agent_id = $1 AND key = $2",
    [SP_IDEM_PUT] =
        "INSERT INTO idempotency(agent_id, key, body_hash, answer, created_at) VALUES($1, $2, $3, $4, $5)",
    [SP_IDEM_PURGE] = "DELETE FROM idempotency WHERE created_at < $1",
    /* $1 agent $2 epoch $3 received_at, then one array per column; answers the
   * event_ids actually inserted (the first stored copy wins) */
    [SP_EVENTS_INSERT] =
        "INSERT INTO events(agent_id, event_id, epoch, seq, ts_ms, event_type, worker_id,"
        " workstation_id, count, body, content_hash, received_at, site)"
        " SELECT $1, e.id, $2, e.seq, e.ts, e.typ, e.wk, e.st, e.cnt, e.body, e.h, $3, $13"
        " FROM unnest($4::text[], $5::bigint[], $6::bigint[], $7::text[], $8::text[], $9::text[],"
        "   $10::bigint[], $11::text[], $12::bigint[]) AS e(id, seq, ts, typ, wk, st, cnt, body, h)"
        " ON CONFLICT(agent_id, event_id) DO NOTHING RETURNING event_id",
    [SP_EVENTS_HASH] =
        "SELECT event_id, content_hash FROM events WHERE agent_id = $1 AND event_id = ANY($2::text[])",
    /* ranges overlapping or touching [$3, $4] */
    [SP_RECV_WINDOW] = "SELECT from_seq, to_seq FROM recv_ranges WHERE agent_id = $1 AND epoch = $2"
                       " AND to_seq >= $3 AND from_seq <= $4",
    [SP_RECV_DELETE] =
        "DELETE FROM recv_ranges WHERE agent_id = $1 AND epoch = $2 AND to_seq >= $3 AND from_seq <= $4",
    [SP_RECV_INSERT] = "INSERT INTO recv_ranges(agent_id, epoch, from_seq, to_seq)"
                       " SELECT $1, $2, f, t FROM unnest($3::bigint[], $4::bigint[]) AS r(f, t)",
    [SP_DROP_WINDOW] = "SELECT from_seq, to_seq FROM dropped_ranges WHERE agent_id = $1 AND epoch = $2"
                       " AND to_seq >= $3 AND from_seq <= $4",
    [SP_DROP_DELETE] =
        "DELETE FROM dropped_ranges WHERE agent_id = $1 AND epoch = $2 AND to_seq >= $3 AND from_seq <= $4",
    [SP_DROP_INSERT] = "INSERT INTO dropped_ranges(agent_id, epoch, from_seq, to_seq)"
                       " SELECT $1, $2, f, t FROM unnest($3::bigint[], $4::bigint[]) AS r(f, t)",
    [SP_AGENTS_LIST] =
        "SELECT agent_id, last_seen, version, clock_skew_s, backlog, oldest_pending_s, conflicts"
        " FROM agents ORDER BY agent_id",
    [SP_EPOCHS_ALL] = "SELECT agent_id, epoch, first_seen, last_seen, high_seq FROM epochs"
                      " ORDER BY agent_id, first_seen, n",
    [SP_RECV_ALL] = "SELECT agent_id, epoch, from_seq, to_seq FROM recv_ranges",
    [SP_DROP_ALL] = "SELECT agent_id, epoch, from_seq, to_seq FROM dropped_ranges",
    [SP_PING] = "SELECT 1",
    /* replicas may mark an hour more than once (no unique key) */
    [SP_DIRTY_COUNT] = "SELECT count(DISTINCT hour) FROM dirty_hours",
    /* $1 lo $2 hi ($3 worker) */
    [SP_EV_RANGE] =
        "SELECT event_id, agent_id, ts_ms, event_type, worker_id, workstation_id, count, site FROM events"
        " WHERE ts_ms >= $1 AND ts_ms < $2",
    [SP_EV_RANGE_WORKER] =
        "SELECT event_id, agent_id, ts_ms, event_type, worker_id, workstation_id, count, site FROM events"
        " WHERE ts_ms >= $1 AND ts_ms < $2 AND worker_id = $3",
    /* a slice's read (rollup_slices.h): ?3 worker (NULL = all), at most $4 rows */
    [SP_EV_RANGE_CAP] =
        "SELECT event_id, agent_id, ts_ms, event_type, worker_id, workstation_id, count, site FROM events"
        " WHERE ts_ms >= $1 AND ts_ms < $2 AND ($3::text IS NULL OR worker_id = $3) LIMIT $4",
    /* the range's events counted in bins of $4 ms from $1 */
    [SP_EV_HIST] = "SELECT (ts_ms - $1) / $4, count(*) FROM events"
                   " WHERE ts_ms >= $1 AND ts_ms < $2 AND ($3::text IS NULL OR worker_id = $3) GROUP BY 1",
    [SP_EV_MINMAX] = "SELECT min(ts_ms), max(ts_ms) FROM events",
    [SP_META_GET] = "SELECT v FROM meta WHERE k = $1",
    [SP_META_SET] = "INSERT INTO meta(k, v) VALUES($1, $2) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
    /* $1 kinds $2 ids: append the ones not stored yet (no unique key: never waits) */
    [SP_KNOWN_ADD] =
        "INSERT INTO known_ids(kind, id) SELECT k, i FROM unnest($1::smallint[], $2::text[]) AS t(k, i)"
        " WHERE NOT EXISTS (SELECT 1 FROM known_ids x WHERE x.kind = t.k AND x.id = t.i)",
    [SP_KNOWN_GET] = "SELECT 1 FROM known_ids WHERE kind = $1 AND id = $2 LIMIT 1",
    [SP_DIRTY_ADD] = "INSERT INTO dirty_hours(hour) SELECT unnest($1::bigint[])",
    /* up to $1 of the earliest dirty hours that no other replica is rebuilding;
   * the try-lock is held to the end of the transaction */
    /* the newest dirty hours (what a dashboard asks for first), ascending for the day locks */
    [SP_DIRTY_CLAIM] = "SELECT h FROM (SELECT DISTINCT hour AS h FROM dirty_hours ORDER BY 1 DESC LIMIT $1) c"
                       " WHERE pg_try_advisory_xact_lock(1179801928, c.h::integer) ORDER BY h",
    [SP_DIRTY_IN] = "SELECT DISTINCT hour FROM dirty_hours WHERE hour >= $1 AND hour < $2 ORDER BY hour",
    /* the marks committed by now: later ones stay (their events may be unseen) */
    [SP_DIRTY_DEL] = "DELETE FROM dirty_hours WHERE hour = ANY($1::bigint[])",
    [SP_DAY_LOCK] = "SELECT pg_advisory_xact_lock(1179801924, $1::integer)",
    [SP_WH_DEL] = "DELETE FROM worker_hour WHERE hour >= $1 AND hour < $2",
    [SP_SH_DEL] = "DELETE FROM station_hour WHERE hour >= $1 AND hour < $2",
    [SP_HT_DEL] = "DELETE FROM hour_total WHERE hour >= $1 AND hour < $2",
    /* a rebuild adds each slice's rows (store_pg_metrics.c) */
    [SP_WH_INS] =
        "INSERT INTO worker_hour AS t SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[],"
        " $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[]) ON CONFLICT (hour, worker_id) DO UPDATE"
        " SET working_ms = t.working_ms + excluded.working_ms, idle_ms = t.idle_ms + excluded.idle_ms,"
        " absent_ms = t.absent_ms + excluded.absent_ms, units = t.units + excluded.units,"
        " events = t.events + excluded.events",
    [SP_SH_INS] =
        "INSERT INTO station_hour AS t SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[],"
        " $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[]) ON CONFLICT (hour, workstation_id)"
        " DO UPDATE SET occupancy_ms = t.occupancy_ms + excluded.occupancy_ms,"
        " working_ms = t.working_ms + excluded.working_ms, units = t.units + excluded.units,"
        " events = t.events + excluded.events, state_ms = t.state_ms + excluded.state_ms",
    [SP_HT_INS] = "INSERT INTO hour_total AS t SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[])"
                  " ON CONFLICT (hour) DO UPDATE SET events = t.events + excluded.events,"
                  " units = t.units + excluded.units",
    [SP_WD_DEL] = "DELETE FROM worker_day WHERE day = $1",
    [SP_SD_DEL] = "DELETE FROM station_day WHERE day = $1",
    [SP_DT_DEL] = "DELETE FROM day_total WHERE day = $1",
    /* $1 day $2 its first hour $3 the next day's first hour */
    [SP_WD_FILL] =
        "INSERT INTO worker_day SELECT $1, worker_id, sum(working_ms), sum(idle_ms), sum(absent_ms),"
        " sum(units), sum(events) FROM worker_hour WHERE hour >= $2 AND hour < $3 GROUP BY worker_id",
    [SP_SD_FILL] = "INSERT INTO station_day SELECT $1, workstation_id, sum(occupancy_ms), sum(working_ms),"
                   " sum(units), sum(events), sum(state_ms) FROM station_hour WHERE hour >= $2 AND hour < $3"
                   " GROUP BY workstation_id",
    [SP_DT_FILL] = "INSERT INTO day_total SELECT $1, sum(events), sum(units) FROM hour_total"
                   " WHERE hour >= $2 AND hour < $3 HAVING count(*) > 0",
    /* $1 lo $2 hi (hours or days) $3 id (NULL = all) */
    [SP_WH_SUM] = "SELECT worker_id, sum(working_ms), sum(idle_ms), sum(absent_ms), sum(units), sum(events)"
                  " FROM worker_hour WHERE hour >= $1 AND hour < $2 AND ($3::text IS NULL OR worker_id = $3)"
                  " GROUP BY worker_id",
    [SP_SH_SUM] = "SELECT workstation_id, sum(occupancy_ms), sum(working_ms), sum(units), sum(events),"
                  " sum(state_ms) FROM station_hour WHERE hour >= $1 AND hour < $2"
                  " AND ($3::text IS NULL OR workstation_id = $3) GROUP BY workstation_id",
    [SP_HT_SUM] = "SELECT sum(events), sum(units) FROM hour_total WHERE hour >= $1 AND hour < $2",
    [SP_WD_SUM] = "SELECT worker_id, sum(working_ms), sum(idle_ms), sum(absent_ms), sum(units), sum(events)"
                  " FROM worker_day WHERE day >= $1 AND day < $2 AND ($3::text IS NULL OR worker_id = $3)"
                  " GROUP BY worker_id",
    [SP_SD_SUM] = "SELECT workstation_id, sum(occupancy_ms), sum(working_ms), sum(units), sum(events),"
                  " sum(state_ms) FROM station_day WHERE day >= $1 AND day < $2"
                  " AND ($3::text IS NULL OR workstation_id = $3) GROUP BY workstation_id",
    [SP_DT_SUM] = "SELECT sum(events), sum(units) FROM day_total WHERE day >= $1 AND day < $2",
    [SP_MH_ADD] = SP_MODEL_ADD("model_hour", "hour"),
    [SP_MD_ADD] = SP_MODEL_ADD("model_day", "day"),
    /* $1 lo $2 hi (hours or days) */
    [SP_MH_DEL] = "DELETE FROM model_hour WHERE hour >= $1 AND hour < $2",
    [SP_MD_DEL] = "DELETE FROM model_day WHERE day >= $1 AND day < $2",
    /* $1 lo $2 hi (hours or days) */
    [SP_MH_READ] =
        "SELECT camera, model, events, with_conf, conf_micro, n_working, n_idle, n_absent, n_product,"
        " last_ms, hist::text FROM model_hour WHERE hour >= $1 AND hour < $2",
    [SP_MD_READ] =
        "SELECT camera, model, events, with_conf, conf_micro, n_working, n_idle, n_absent, n_product,"
        " last_ms, hist::text FROM model_day WHERE day >= $1 AND day < $2",
    /* $1 lo $2 hi */
    [SP_MODEL_EVENTS] = SP_MODEL_EVENTS_SQL " WHERE ts_ms >= $1 AND ts_ms < $2",
    /* $1 from $2 to; after $3 ts $4 agent $5 event; until $6 $7 $8; $9 event_type $10 camera $11 model
     * $12 max confidence $13 limit (float8 input is correctly rounded, like strtod) */
    [SP_EXPORT] = "SELECT ts_ms, agent_id, event_id, body, (body::json -> 'confidence')::text FROM "
                  "events" SP_EXPORT_WHERE " ORDER BY ts_ms, agent_id, event_id LIMIT $13",
    /* the export's first pass: the key of the page's last event when the page
     * is full (the limit-th), no row otherwise; nothing sent but that row */
    [SP_EXPORT_LAST] = "SELECT ts_ms, agent_id, event_id FROM events" SP_EXPORT_WHERE
                       " ORDER BY ts_ms, agent_id, event_id OFFSET $13::bigint - 1 LIMIT 1",
};

#endif
