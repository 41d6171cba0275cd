/* status: what an operator or a probe reads from a running agent. The numbers
 * come from one snapshot so a page never mixes two moments. See status.h. */
#include "status.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom_text.h"
#include "strbuf.h"
#include "timefmt.h"
#include "version.h"

void status_take(const status_sources *src, status_snapshot *ret) {
  memset(ret, 0, sizeof(*ret));
  ret->agent_id = src->agent_id;
  ret->version = FERRY_VERSION;
  ret->now_ms = tf_now_ms();
  journal_get_stats(src->j, &ret->js);
  if (src->in) ingest_get_counters(src->in, &ret->ic);
  if (src->up) {
    uploader_get_stats(src->up, &ret->us);
    uploader_split(src->up, ret->js.backlog, &ret->us); /* the same snapshot as js */
  } else {
    ret->us.backfill_backlog = ret->js.backlog;
  }
  if (src->lag) looplag_get(src->lag, &ret->lag);
  if (src->mq) {
    ret->has_mqtt = true;
    mqtt_source_get_stats(src->mq, &ret->mq);
  }
}

double status_oldest_pending_s(const status_snapshot *s) {
  if (s->js.backlog <= 0 || s->js.oldest_ingested_at_ms <= 0) return 0;
  int64_t d = s->now_ms - s->js.oldest_ingested_at_ms;
  return d > 0 ? (double)d / 1000.0 : 0;
}

/* Three decimals, as every duration ferry answers with. */
static double ms3(double s) { return (double)(int64_t)(s * 1000.0 + 0.5) / 1000.0; }

cJSON *status_json(const status_snapshot *s) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddStringToObject(o, "agent_id", s->agent_id ? s->agent_id : "");
  cJSON_AddStringToObject(o, "epoch", s->js.epoch);
  cJSON_AddNumberToObject(o, "backlog", (double)s->js.backlog);
  cJSON_AddNumberToObject(o, "oldest_pending_s", ms3(status_oldest_pending_s(s)));
  /* SPEC §6.2: the backlog by lane, with the oldest pending age of each */
  cJSON *lanes = cJSON_AddObjectToObject(o, "backlog_lanes");
  if (lanes) {
    cJSON *lv = cJSON_AddObjectToObject(lanes, "live");
    if (lv) {
      cJSON_AddNumberToObject(lv, "backlog", (double)s->us.live_backlog);
      cJSON_AddNumberToObject(lv, "oldest_pending_s", ms3(s->us.live_oldest_s));
    }
    cJSON *bf = cJSON_AddObjectToObject(lanes, "backfill");
    if (bf) {
      cJSON_AddNumberToObject(bf, "backlog", (double)s->us.backfill_backlog);
      cJSON_AddNumberToObject(bf, "oldest_pending_s",
                              ms3(s->us.backfill_backlog > 0 ? status_oldest_pending_s(s) : 0));
    }
  }
  cJSON_AddNumberToObject(o, "journal_bytes", (double)s->js.journal_bytes);
  cJSON_AddNumberToObject(o, "wal_bytes", (double)s->js.wal_bytes);
  cJSON_AddNumberToObject(o, "next_seq", (double)s->js.next_seq);
  cJSON_AddNumberToObject(o, "acked_seq", (double)s->js.acked_seq);
  cJSON_AddNumberToObject(o, "dropped", (double)s->js.dropped_total);
  cJSON_AddNumberToObject(o, "dead_letter", (double)s->js.dead_letter);
  cJSON *c = cJSON_AddObjectToObject(o, "collector");
  if (c) {
    cJSON_AddStringToObject(c, "state", up_state_name(s->us.state));
    cJSON_AddNumberToObject(c, "consecutive_failures", (double)s->us.consecutive_failures);
    if (s->us.last_success_ms > 0) {
      char t[TF_RFC3339_LEN];
      tf_format_ms(s->us.last_success_ms, t);
      cJSON_AddStringToObject(c, "last_success", t);
    } else {
      cJSON_AddNullToObject(c, "last_success");
    }
    cJSON_AddNumberToObject(c, "next_retry_in_s", ms3(s->us.next_retry_in_s));
    cJSON_AddNumberToObject(c, "uploads_in_flight", (double)s->us.inflight);
    cJSON_AddNumberToObject(c, "upload_window", (double)s->us.window);
    /* extras: which class the latest failure was (e.g. "tls") and what it said */
    if (s->us.has_last_fail) {
      cJSON_AddStringToObject(c, "last_failure_class", up_fail_name(s->us.last_fail));
      cJSON_AddStringToObject(c, "last_error", s->us.last_error);
    } else {
      cJSON_AddNullToObject(c, "last_failure_class");
      cJSON_AddNullToObject(c, "last_error");
    }
  }
  cJSON *srcs = cJSON_AddObjectToObject(o, "sources");
  if (srcs && s->has_mqtt) {
    cJSON *m = cJSON_AddObjectToObject(srcs, "mqtt");
    if (m) {
      cJSON_AddStringToObject(m, "state", mqtt_state_name(s->mq.state));
      cJSON_AddStringToObject(m, "broker", s->mq.broker);
      cJSON_AddNumberToObject(m, "messages", (double)s->mq.messages);
      cJSON_AddNumberToObject(m, "events", (double)s->mq.events);
      cJSON_AddNumberToObject(m, "skipped", (double)s->mq.skipped);
      cJSON_AddNumberToObject(m, "mapping_errors", (double)s->mq.mapping_errors);
      if (s->mq.last_error[0]) cJSON_AddStringToObject(m, "last_error", s->mq.last_error);
      else cJSON_AddNullToObject(m, "last_error");
      /* extras */
      cJSON_AddNumberToObject(m, "duplicates", (double)s->mq.duplicates);
      cJSON_AddNumberToObject(m, "connects", (double)s->mq.connects);
      cJSON_AddNumberToObject(m, "commit_failures", (double)s->mq.commit_failures);
      cJSON_AddNumberToObject(m, "bursts", (double)s->mq.bursts);
    }
  }
  /* extras beyond the SPEC's fields */
  cJSON_AddStringToObject(o, "version", s->version ? s->version : "");
  cJSON_AddBoolToObject(o, "journal_writable", s->js.writable);
  if (!s->js.writable) cJSON_AddStringToObject(o, "journal_error", s->js.unwritable_reason);
  cJSON_AddNumberToObject(o, "quarantined", (double)s->js.quarantined);
  if (s->js.quarantined) cJSON_AddStringToObject(o, "quarantine_reason", s->js.quarantine_reason);
  cJSON *dd = cJSON_AddObjectToObject(o, "dedup");
  if (dd) {
    cJSON_AddStringToObject(dd, "mode", s->js.dedup_sql ? "sql_index" : "memory");
    cJSON_AddNumberToObject(dd, "table_bytes", (double)s->js.dedup_bytes);
    cJSON_AddNumberToObject(dd, "switches", (double)s->js.dedup_switches);
  }
  if (s->lag.iterations) {
    cJSON *lp = cJSON_AddObjectToObject(o, "loop");
    if (lp) {
      cJSON_AddNumberToObject(lp, "iterations", (double)s->lag.iterations);
      cJSON_AddNumberToObject(lp, "max_stall_ms", (double)s->lag.max_stall_ns / 1e6);
      cJSON_AddNumberToObject(lp, "busy_s", (double)s->lag.busy_ns / 1e9);
      cJSON_AddNumberToObject(lp, "stalls_over_1ms", (double)s->lag.over_1ms);
      cJSON_AddNumberToObject(lp, "stalls_over_10ms", (double)s->lag.over_10ms);
      cJSON_AddNumberToObject(lp, "stalls_over_100ms", (double)s->lag.over_100ms);
    }
  }
  if (!cJSON_GetObjectItemCaseSensitive(o, "quarantined")) { /* an Add failed: ENOMEM */
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

/* ---- Prometheus text ------------------------------------------------------- */

int status_metrics_text(const status_snapshot *s, char *buf, size_t cap) {
  strbuf sb;
  strbuf *b = &sb;
  sb_init_fixed(b, buf, cap);
  const ingest_counters *ic = &s->ic;
  const uploader_stats *us = &s->us;
  const journal_stats *js = &s->js;

  pt_head(b, "ferry_agent_info", "gauge", "Agent identity; always 1.");
  pt_sample_u64(b, "ferry_agent_info",
                (pt_label[]){{"agent_id", s->agent_id}, {"version", s->version}, {"epoch", js->epoch}}, 3, 1);

  pt_metric_u64(b, "ferry_agent_events_ingested_total", "counter",
                "Events newly stored in the journal since start.", ic->accepted);
  pt_metric_u64(b, "ferry_agent_events_duplicates_total", "counter",
                "Posted events already pending in the journal or repeated in their request.", ic->duplicates);
  pt_metric_u64(b, "ferry_agent_events_rejected_total", "counter",
                "Invalid events refused with 400 (nothing of their request was stored).",
                ic->rejected_events);
  pt_metric_u64(
      b, "ferry_agent_events_future_total", "counter",
      "Accepted events timestamped beyond the collector's max-future-s (it will reject them: check the "
      "clock).",
      ic->future_events);
  static const char *const refused = "ferry_agent_ingest_requests_refused_total";
  pt_head(b, refused, "counter", "Ingest requests answered with an error, by reason.");
  pt_sample_u64(b, refused, &(pt_label){"reason", "invalid"}, 1, ic->rejected_requests);
  pt_sample_u64(b, refused, &(pt_label){"reason", "unauthorized"}, 1, ic->unauthorized);
  pt_sample_u64(b, refused, &(pt_label){"reason", "unsupported_media_type"}, 1, ic->unsupported);
  pt_sample_u64(b, refused, &(pt_label){"reason", "journal_full"}, 1, ic->full);
  pt_sample_u64(b, refused, &(pt_label){"reason", "unavailable"}, 1, ic->unavailable);

  pt_metric_u64(b, "ferry_agent_uploaded_events_total", "counter",
                "Events acknowledged by the collector since start.", us->uploaded_events);
  pt_metric_u64(b, "ferry_agent_uploads_total", "counter",
                "Upload requests answered 200 (heartbeats included).", us->uploads_ok);
  pt_metric_u64(b, "ferry_agent_heartbeats_total", "counter", "Heartbeats answered 200.", us->heartbeats);
  pt_head(b, "ferry_agent_upload_failures_total", "counter", "Upload attempts that failed, by class.");
  for (int c = 0; c < UP_FAIL_COUNT_; c++)
    pt_sample_u64(b, "ferry_agent_upload_failures_total",
                  &(pt_label){"class", up_fail_name((up_fail_class)c)}, 1, us->failures[c]);

  pt_metric_i64(b, "ferry_agent_backlog_events", "gauge", "Events in the journal not yet acknowledged.",
                js->backlog);
  pt_metric_f64(b, "ferry_agent_oldest_pending_seconds", "gauge",
                "Age of the oldest event not yet acknowledged (0 with no backlog).",
                status_oldest_pending_s(s), 3);
  pt_head(b, "ferry_agent_lane_backlog_events", "gauge",
          "Events not yet acknowledged, by lane (live: younger than --live-window).");
  pt_sample_i64(b, "ferry_agent_lane_backlog_events", &(pt_label){"lane", "live"}, 1, us->live_backlog);
  pt_sample_i64(b, "ferry_agent_lane_backlog_events", &(pt_label){"lane", "backfill"}, 1,
                us->backfill_backlog);
  pt_head(b, "ferry_agent_lane_oldest_pending_seconds", "gauge",
          "Age of the oldest event not yet acknowledged, by lane (0 when the lane is empty).");
  pt_sample_f64(b, "ferry_agent_lane_oldest_pending_seconds", &(pt_label){"lane", "live"}, 1,
                us->live_oldest_s, 3);
  pt_sample_f64(b, "ferry_agent_lane_oldest_pending_seconds", &(pt_label){"lane", "backfill"}, 1,
                us->backfill_backlog > 0 ? status_oldest_pending_s(s) : 0.0, 3);
  pt_metric_u64(b, "ferry_agent_uploads_in_flight", "gauge", "Uploads in flight now.", us->inflight);
  pt_metric_u64(
      b, "ferry_agent_upload_window", "gauge",
      "Uploads the pace allows in flight now (AIMD on the collector's answers, up to --upload-window).",
      us->window);
  pt_metric_u64(b, "ferry_agent_pace_decreases_total", "counter",
                "Times the upload pace was halved (429/503, failures, answers slower than 1 s).",
                us->pace_decreases);
  pt_head(b, "ferry_agent_lane_batches_total", "counter", "Batches acknowledged, by lane.");
  pt_sample_u64(b, "ferry_agent_lane_batches_total", &(pt_label){"lane", "live"}, 1, us->live_batches);
  pt_sample_u64(b, "ferry_agent_lane_batches_total", &(pt_label){"lane", "backfill"}, 1,
                us->backfill_batches);
  pt_metric_i64(b, "ferry_agent_journal_bytes", "gauge",
                "Live pages of the journal in bytes (bounded by --max-journal-bytes).", js->journal_bytes);
  pt_metric_i64(b, "ferry_agent_wal_bytes", "gauge", "Size of the journal's write-ahead log in bytes.",
                js->wal_bytes);
  pt_metric_i64(b, "ferry_agent_next_seq", "gauge", "The seq the next stored event gets.", js->next_seq);
  pt_metric_i64(b, "ferry_agent_acked_seq", "gauge",
                "Every seq up to this one is acknowledged, dropped or dead-lettered.", js->acked_seq);
  pt_metric_i64(b, "ferry_agent_dropped_events_total", "counter",
                "Events removed by the overflow policy in this epoch.", js->dropped_total);
  pt_metric_i64(b, "ferry_agent_dead_letter_events", "gauge",
                "Events the collector refused, kept in dead-letter.", js->dead_letter);
  pt_metric_f64(b, "ferry_agent_retry_delay_seconds", "gauge",
                "Delay chosen after the last failed upload (0 after a success).", us->retry_delay_s, 3);
  pt_metric_f64(b, "ferry_agent_next_retry_seconds", "gauge",
                "Time until the scheduled retry (0 when none is scheduled).", us->next_retry_in_s, 3);
  pt_metric_u64(b, "ferry_agent_consecutive_failures", "gauge", "Failed upload attempts since the last 200.",
                us->consecutive_failures);
  pt_metric_f64(b, "ferry_agent_last_success_timestamp_seconds", "gauge",
                "Wall-clock time of the last 200 from the collector (0 = never).",
                (double)us->last_success_ms / 1000.0, 3);
  pt_metric_u64(b, "ferry_agent_batch_limit_events", "gauge",
                "Current most events per upload (halved after 400/413/422).", (uint64_t)us->batch_limit);
  pt_head(b, "ferry_agent_collector_state", "gauge", "The collector state; 1 for the current one.");
  for (int st = 0; st < UP_STATE_COUNT_; st++)
    pt_sample_u64(b, "ferry_agent_collector_state", &(pt_label){"state", up_state_name((up_state)st)}, 1,
                  us->state == (up_state)st ? 1 : 0);
  pt_metric_i64(b, "ferry_agent_journal_quarantined_total", "counter",
                "Journals moved to quarantine/ at this start.", js->quarantined);
  pt_metric_u64(b, "ferry_agent_journal_writable", "gauge", "1 when the journal accepts writes.",
                js->writable ? 1 : 0);
  if (s->has_mqtt) {
    const mqtt_stats *m = &s->mq;
    pt_metric_u64(b, "ferry_agent_mqtt_messages_total", "counter",
                  "MQTT messages received (redeliveries included).", m->messages);
    pt_metric_u64(b, "ferry_agent_mqtt_events_total", "counter",
                  "Events from MQTT newly stored in the journal.", m->events);
    pt_metric_u64(b, "ferry_agent_mqtt_duplicates_total", "counter",
                  "Events from MQTT already in the journal (redeliveries).", m->duplicates);
    pt_metric_u64(b, "ferry_agent_mqtt_skipped_total", "counter",
                  "MQTT messages or array items a skip rule or an unmapped value left out.", m->skipped);
    pt_metric_u64(b, "ferry_agent_mqtt_mapping_errors_total", "counter",
                  "MQTT messages stored in dead-letter with reason mapping_error.", m->mapping_errors);
    pt_metric_u64(b, "ferry_agent_mqtt_connects_total", "counter", "Successful connections to the broker.",
                  m->connects);
    pt_metric_u64(b, "ferry_agent_mqtt_commit_failures_total", "counter",
                  "Bursts whose commit failed (left unacknowledged for redelivery).", m->commit_failures);
    pt_metric_u64(b, "ferry_agent_mqtt_bursts_total", "counter",
                  "Read bursts committed before their PUBACKs left (messages per burst = batching).",
                  m->bursts);
    pt_head(b, "ferry_agent_mqtt_state", "gauge", "The MQTT source state; 1 for the current one.");
    for (int st = 0; st <= MQTT_CONFIG_ERROR; st++)
      pt_sample_u64(b, "ferry_agent_mqtt_state", &(pt_label){"state", mqtt_state_name((mqtt_state)st)}, 1,
                    m->state == (mqtt_state)st ? 1 : 0);
  }
  if (b->err) return b->err == -ENOMEM ? -ENOMEM : -ENOSPC;
  return (int)b->len;
}

/* ---- handlers -------------------------------------------------------------- */

void status_healthz(httpd_req *req) {
  cJSON *o = cJSON_CreateObject();
  if (o && cJSON_AddStringToObject(o, "status", "ok")) httpd_respond_json(req, 200, o);
  else {
    cJSON_Delete(o);
    httpd_respond(req, 200, "application/json", "{\"status\":\"ok\"}", 15);
  }
}

void status_readyz(const status_sources *src, httpd_req *req) {
  journal_stats js;
  journal_get_stats(src->j, &js);
  if (!js.writable) {
    httpd_respond_error(req, 503, "not_ready", "the journal cannot be written: %s",
                        js.unwritable_reason[0] ? js.unwritable_reason : "unknown reason");
    return;
  }
  cJSON *o = cJSON_CreateObject();
  if (o && cJSON_AddStringToObject(o, "status", "ready")) httpd_respond_json(req, 200, o);
  else {
    cJSON_Delete(o);
    httpd_respond(req, 200, "application/json", "{\"status\":\"ready\"}", 18);
  }
}

void status_v1(const status_sources *src, httpd_req *req) {
  status_snapshot s;
  status_take(src, &s);
  cJSON *o = status_json(&s);
  if (!o) {
    httpd_respond_error(req, 500, "internal", "out of memory");
    return;
  }
  httpd_respond_json(req, 200, o);
}

void status_metrics(const status_sources *src, httpd_req *req) {
  status_snapshot s;
  status_take(src, &s);
  char *buf = malloc(STATUS_METRICS_MAX);
  int n = buf ? status_metrics_text(&s, buf, STATUS_METRICS_MAX) : -ENOMEM;
  if (n < 0) httpd_respond_error(req, 500, "internal", "cannot render metrics: %s", strerror(-n));
  else httpd_respond(req, 200, PT_CONTENT_TYPE, buf, (size_t)n);
  free(buf);
}
