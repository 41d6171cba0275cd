/* uploader: drives batches from the journal to the collector and decides
 * after every answer what the journal, the lanes, the pace and the retry
 * timer do next (SPEC §2 Upload, §4, §6.2). See uploader.h.
 *
 * Each slot (one upload) goes
 *   FREE ──cycle──▶ READING (journal worker builds the body of a run of seqs)
 *        ──▶ SENDING (curl transfer) ──200──▶ ACKING (journal applies it) ──▶ FREE
 *                                  └─fail──▶ FREE, and the uploader WAITS
 * A failure stops new uploads until the retry timer fires (the uploads
 * already in flight finish). A cycle fills free slots, as many as the pace
 * allows, live lane first; with nothing pending and nothing in flight a
 * heartbeat goes after heartbeat_interval of silence. Start, reconfigure
 * and stop live in uploader_life.c, the structs in uploader_int.h. */
#include "uploader.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backoff.h"
#include "log.h"
#include "timefmt.h"
#include "up_lanes.h"
#include "up_pacing.h"
#include "up_transport.h"
#include "uploader_int.h"

static uint64_t ms_of(double s) { return s <= 0 ? 0 : (uint64_t)(s * 1000.0 + 0.5); }

static unsigned busy_slots(const uploader *u) {
  unsigned n = 0;
  for (unsigned i = 0; i < UP_SLOTS; i++) n += u->slots[i].phase != SL_FREE;
  return n;
}

void uploader__batch_drop(up_slot *s) {
  if (s->batch_live) {
    journal_batch_clear(&s->batch);
    s->batch_live = false;
  }
}

/* The slot is done with (whatever happened). Freeing seqs that were taken
 * (sent or acknowledged) may make a lane worth reading again. */
static void slot_free(up_slot *s) {
  if (s->batch_live && s->batch.n_events) s->u->gen++;
  ut_xfer_drop(s->u->net, &s->x);
  uploader__batch_drop(s);
  s->phase = SL_FREE;
  s->heartbeat = false;
}

static void on_wake(uv_timer_t *t);

/* An attempt failed (or the journal did): remember it and wait delay_s. */
static void schedule_retry(uploader *u, double delay_s) {
  u->contact_due = true;
  u->st.retry_delay_s = delay_s;
  u->retry_deadline_mono = tf_mono_ms() + ms_of(delay_s);
  u->waiting = true;
  /* the loop's clock is the one read at the start of this iteration; a long
   * iteration would make the wait shorter than delay_s (a Retry-After that
   * comes back early) */
  uv_update_time(u->wake_timer.loop);
  uv_timer_start(&u->wake_timer, on_wake, ms_of(delay_s), 0);
}

/* The retry delay or the heartbeat interval ran out. */
static void on_wake(uv_timer_t *t) {
  uploader *u = t->data;
  if (u->stopping) return;
  u->waiting = false;
  uploader__up_cycle(u);
}

static void note_failure(uploader *u, const up_slot *s, const up_verdict *v, long status,
                         const char *detail) {
  up_state before = u->st.state;
  u->st.failures[v->fail]++;
  u->st.has_last_fail = true;
  u->st.last_fail = v->fail;
  snprintf(u->st.last_error, sizeof(u->st.last_error), "%.199s", detail);
  u->st.consecutive_failures++;
  u->st.state = v->state;
  if (!u->outage_start_mono) u->outage_start_mono = tf_mono_ms();
  flog_ctx ctx = {.component = "uploader",
                  .idempotency_key = s->batch.idem_key[0] ? s->batch.idem_key : NULL,
                  .request_id = s->request_id[0] ? s->request_id : NULL,
                  .first_seq = s->batch.first_seq,
                  .last_seq = s->batch.last_seq,
                  .events = (int64_t)s->batch.n_events,
                  .has_events = true,
                  .status = (int)status,
                  .error = detail,
                  .duration_ms = s->sent_mono ? (double)(tf_mono_ms() - s->sent_mono) : 0,
                  .has_duration = s->sent_mono != 0};
  bool new_hint = u->hint && u->hint != u->hint_logged;
  if (u->hint) u->hint_logged = u->hint;
  if (before != v->state || u->st.consecutive_failures == 1 || new_hint)
    flogx(FLOG_WARNING, &ctx, "collector %s: %s (%s)", up_state_name(v->state),
          status ? "answered" : "not reached", detail);
  else
    flogx(FLOG_DEBUG, &ctx, "collector %s again (%s), %llu failures in a row", up_state_name(v->state),
          detail, (unsigned long long)u->st.consecutive_failures);
}

/* Events the collector rejected in a 200 go to dead-letter: say so, with the
 * count, the reason and the first seq; at most one line per 10 s, the rest
 * counted into the next line. */
static void up_log_dead_letter(uploader *u, const up_slot *s, const journal_rejected *rej, size_t n) {
  uint64_t now = tf_mono_ms();
  if (u->dl_logged_mono && now - u->dl_logged_mono < 10000) {
    u->dl_held += n;
    return;
  }
  flog_ctx ctx = {.component = "uploader",
                  .idempotency_key = s->batch.idem_key[0] ? s->batch.idem_key : NULL,
                  .request_id = s->request_id,
                  .first_seq = rej[0].seq,
                  .events = (int64_t)n,
                  .has_events = true,
                  .error = rej[0].error};
  const char *hint = strcmp(rej[0].error, "timestamp_out_of_range") == 0
                         ? "; the event time is beyond what the collector accepts - check this box's clock "
                           "and its cameras'"
                         : "";
  if (u->dl_held)
    flogx(FLOG_WARNING, &ctx,
          "collector rejected %zu event(s) (first: seq %lld, %s) and %llu more since the last such line; "
          "moved to dead-letter (ferry-agent dead-letter export)%s",
          n, (long long)rej[0].seq, rej[0].error, (unsigned long long)u->dl_held, hint);
  else
    flogx(FLOG_WARNING, &ctx,
          "collector rejected %zu event(s) (first: seq %lld, %s); moved to dead-letter (ferry-agent "
          "dead-letter export)%s",
          n, (long long)rej[0].seq, rej[0].error, hint);
  u->dl_logged_mono = now;
  u->dl_held = 0;
}

static void on_ack_done(journal_ack *a);

static void start_ack(up_slot *s, journal_rejected *rej, size_t n_rej, bool dropped_reported) {
  s->ack_batch = s->batch; /* shallow copy; the batch stays live until the ack is done */
  if (!dropped_reported) s->ack_batch.dropped_upto_rowid = 0; /* a refused request reported nothing */
  s->rejected = rej;
  s->n_rejected = n_rej;
  memset(&s->ack, 0, sizeof(s->ack));
  s->ack.batch = &s->ack_batch;
  s->ack.rejected = rej;
  s->ack.n_rejected = n_rej;
  s->ack.done = on_ack_done;
  s->ack.data = s;
  s->phase = SL_ACKING;
  journal_apply_ack(s->u->j, &s->ack);
}

/* Retry later after a failed attempt of slot s (answered or not). */
static void fail_backoff(up_slot *s, up_verdict v, long status, bool transport_ok, CURLcode result) {
  uploader *u = s->u;
  char detail[512];
  if (!transport_ok) {
    const char *hint = up_tls_mismatch_hint((int)result, s->x.errbuf, u->https);
    long fresh = 0;
    if (s->x.easy) curl_easy_getinfo(s->x.easy, CURLINFO_NUM_CONNECTS, &fresh);
    /* libcurl's "select/poll returned error" (CURLE_SEND_ERROR): the socket
     * failed while the request was being sent. On a connection made for
     * this attempt and an http:// URL, that is a TLS server resetting a
     * plain-HTTP request; on a reused one, the collector closed it while
     * idle (retried at once on a new connection by the next attempt). */
    if (!hint && result == CURLE_SEND_ERROR && !u->https && fresh > 0)
      hint = "the collector reset the connection while the request was sent on an http:// URL: if it serves "
             "HTTPS (--tls-cert), use https://";
    else if (!hint && result == CURLE_SEND_ERROR && fresh == 0)
      hint = "the collector closed a kept-alive connection as it was reused; the next attempt opens a "
             "new one";
    u->hint = hint;
    const char *what = s->x.errbuf[0] ? s->x.errbuf : curl_easy_strerror(result);
    if (hint) snprintf(detail, sizeof(detail), "%s [%.120s]", hint, what);
    else snprintf(detail, sizeof(detail), "%s", what);
  } else if (status == 200) snprintf(detail, sizeof(detail), "200 without a valid ingest answer");
  else {
    char reason[200];
    up_refusal_reason(s->x.resp, s->x.resp_len, status, reason, sizeof(reason));
    snprintf(detail, sizeof(detail), "%ld %s", status, reason);
  }
  note_failure(u, s, &v, status, detail);
  u->hint = NULL;
  if (v.action == UP_ACT_BACKOFF) pc_on_busy(&u->pace);
  double delay, ra;
  if (v.action == UP_ACT_AT_MAX) delay = backoff_at_max(&u->bo);
  else if (transport_ok && status != 200 && s->x.retry_after[0] &&
           up_parse_retry_after(s->x.retry_after, tf_now_ms(), &ra) == 0)
    delay = backoff_retry_after(&u->bo, ra);
  else delay = backoff_next(&u->bo);
  slot_free(s);
  /* a later failure of another upload in flight does not shorten the wait */
  uint64_t until = tf_mono_ms() + ms_of(delay);
  if (!u->waiting || until > u->retry_deadline_mono) schedule_retry(u, delay);
}

void uploader__on_transfer_done(void *owner, ut_xfer *x, CURLcode result) {
  up_slot *s = owner;
  uploader *u = s->u;
  long status = 0;
  bool transport_ok = result == CURLE_OK;
  if (transport_ok) curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
  uint64_t now = tf_mono_ms();
  u->last_contact_mono = now;
  journal_rejected *rej = NULL;
  size_t n_rej = 0, ignored = 0;
  bool parsed = false;
  if (transport_ok && status == 200 && !x->resp_truncated)
    parsed = up_parse_ack(x->resp ? x->resp : "", x->resp_len, s->batch.seqs, s->batch.n_events, &rej, &n_rej,
                          &ignored) == 0;
  up_verdict v = up_classify(transport_ok, status, parsed);
  int tls = transport_ok ? 0 : up_tls_failure((int)result);
  if (tls) {
    v.fail = UP_FAIL_TLS;
    if (tls == 1) {
      v.action = UP_ACT_AT_MAX;
      v.state = UP_STATE_CONFIG_ERROR;
    }
  }
  char detail[512];

  switch (v.action) {
    case UP_ACT_ACK: {
      int64_t mf = up_answer_max_future_s(x->resp, x->resp_len);
      if (mf >= 0) u->st.collector_max_future_s = mf;
      if (u->st.state != UP_STATE_OK || u->st.consecutive_failures) {
        journal_stats js;
        journal_get_stats(u->j, &js);
        double out_s = u->outage_start_mono ? (double)(now - u->outage_start_mono) / 1000.0 : 0;
        flog_ctx ctx = {.component = "uploader", .request_id = s->request_id, .status = 200};
        flogx(FLOG_NOTICE, &ctx,
              "collector ok again after %.0f s and %llu failed attempts (last: %s); backlog %lld event(s) "
              "to catch up",
              out_s, (unsigned long long)u->st.consecutive_failures, u->st.last_error, (long long)js.backlog);
      }
      u->outage_start_mono = 0;
      {
        flog_ctx ctx = {.component = "uploader",
                        .idempotency_key = s->batch.idem_key[0] ? s->batch.idem_key : NULL,
                        .request_id = s->request_id,
                        .first_seq = s->batch.first_seq,
                        .last_seq = s->batch.last_seq,
                        .events = (int64_t)s->batch.n_events,
                        .has_events = true,
                        .status = 200,
                        .duration_ms = (double)(now - s->sent_mono),
                        .has_duration = true};
        flogx(FLOG_DEBUG, &ctx, "upload of %zu event(s) acknowledged (%zu rejected, %s lane)",
              s->batch.n_events, n_rej,
              s->heartbeat         ? "heartbeat"
              : s->lane == LN_LIVE ? "live"
                                   : "backfill");
      }
      if (n_rej) up_log_dead_letter(u, s, rej, n_rej);
      if (ignored) flog_warn("collector answer listed %zu rejected seqs not in the batch; ignored", ignored);
      u->st.state = UP_STATE_OK;
      u->st.consecutive_failures = 0;
      u->st.last_success_ms = tf_now_ms();
      u->st.retry_delay_s = 0;
      u->st.uploads_ok++;
      if (s->batch.n_events == 0) u->st.heartbeats++;
      else pc_on_ack(&u->pace, (double)(now - s->sent_mono));
      size_t max = s->lane == LN_LIVE ? u->cfg.batch_max_events : u->cfg.backfill_max_events;
      u->limit[s->lane] = up_limit_after_success(u->limit[s->lane], max);
      u->contact_due = false;
      backoff_reset(&u->bo);
      ut_xfer_drop(u->net, x);
      start_ack(s, rej, n_rej, true);
      return;
    }

    case UP_ACT_SHRINK:
      up_refusal_reason(x->resp, x->resp_len, status, detail, sizeof(detail));
      u->st.failures[UP_FAIL_REJECTED]++;
      u->st.has_last_fail = true;
      u->st.last_fail = UP_FAIL_REJECTED;
      snprintf(u->st.last_error, sizeof(u->st.last_error), "%ld %.180s", status, detail);
      ut_xfer_drop(u->net, x);
      if (s->batch.n_events > 1) {
        u->limit[s->lane] = up_limit_after_shrink(s->batch.n_events);
        flog_info("collector refused a batch of %zu events (%ld %s); retrying with %zu", s->batch.n_events,
                  status, detail, u->limit[s->lane]);
        slot_free(s);
        uploader__up_cycle(u);
        return;
      }
      if (s->batch.n_events == 1) {
        rej = calloc(1, sizeof(*rej));
        if (!rej) {
          flog_err("out of memory dead-lettering seq %lld", (long long)s->batch.first_seq);
          slot_free(s);
          schedule_retry(u, backoff_next(&u->bo));
          return;
        }
        rej->seq = s->batch.first_seq;
        snprintf(rej->error, sizeof(rej->error), "%.*s", (int)sizeof(rej->error) - 1, detail);
        flog_warn("collector refused event seq %lld alone (%ld %s); moving it to dead-letter",
                  (long long)rej->seq, status, detail);
        start_ack(s, rej, 1, false);
        return;
      }
      /* a heartbeat refused as malformed: nothing to halve; a config problem */
      v.action = UP_ACT_AT_MAX;
      v.state = UP_STATE_CONFIG_ERROR;
      v.fail = UP_FAIL_CONFIG_ERROR;
      u->st.failures[UP_FAIL_REJECTED]--;
      note_failure(u, s, &v, status, detail);
      slot_free(s);
      schedule_retry(u, backoff_at_max(&u->bo));
      return;

    case UP_ACT_BACKOFF:
    case UP_ACT_AT_MAX:
      free(rej);
      fail_backoff(s, v, status, transport_ok, result);
      return;
  }
}

static void on_batch_read(journal_batch *b) {
  up_slot *s = b->data;
  uploader *u = s->u;
  s->batch_live = true;
  if (u->stopping) {
    slot_free(s);
    uploader__up_maybe_finish_stop(u);
    return;
  }
  if (b->status != 0) {
    if (!u->last_batch_error) flog_err("journal: cannot build an upload batch: %s", strerror(-b->status));
    u->last_batch_error = true;
    slot_free(s);
    schedule_retry(u, backoff_next(&u->bo));
    return;
  }
  if (u->last_batch_error) flog_notice("journal: upload batches build again");
  u->last_batch_error = false;
  if (!s->heartbeat && b->n_events == 0) {
    /* nothing pending in that run: the lane is empty until something moves */
    slot_free(s);
    u->empty_gen[s->lane] = s->read_gen; /* unless something moved since it started */
    uploader__up_cycle(u);
    return;
  }
  size_t max_bytes = s->lane == LN_LIVE || s->heartbeat ? u->cfg.batch_max_bytes : u->cfg.backfill_max_bytes;
  if (b->body_len > max_bytes && b->n_events > 1) {
    /* should not happen (the journal bounds the raw body); never send it */
    u->limit[s->lane] = up_limit_after_shrink(b->n_events);
    slot_free(s);
    uploader__up_cycle(u);
    return;
  }
  if (b->n_events) s->range = (ln_range){b->first_seq, b->last_seq};
  if (b->idem_key[0]) {
    if (strcmp(s->attempt_key, b->idem_key) != 0) {
      /* the same batch retried in another slot keeps counting its attempts */
      unsigned prev = 0;
      for (unsigned i = 0; i < UP_SLOTS; i++)
        if (&u->slots[i] != s && strcmp(u->slots[i].attempt_key, b->idem_key) == 0)
          prev = u->slots[i].attempt;
      snprintf(s->attempt_key, sizeof(s->attempt_key), "%s", b->idem_key);
      s->attempt = prev;
    }
    s->attempt++;
    snprintf(s->request_id, sizeof(s->request_id), "%.200s/%u", b->idem_key, s->attempt);
  } else {
    s->attempt_key[0] = '\0';
    snprintf(s->request_id, sizeof(s->request_id), "heartbeat:%llu/1", (unsigned long long)++u->heartbeat_n);
  }
  ut_request rq = {.url = u->url,
                   .request_id = s->request_id,
                   .auth_header = u->auth_header,
                   .encoding = codec_name(b->codec) /* what the body was encoded with, not today's setting */,
                   .idem_key = b->idem_key,
                   .body = b->body,
                   .body_len = b->body_len,
                   .connect_timeout_s = u->cfg.connect_timeout_s,
                   .request_timeout_s = u->cfg.request_timeout_s,
                   .ca_file = u->ca_file,
                   .pinned_pubkey = u->pinned_pubkey,
                   .client_cert = u->client_cert,
                   .client_key = u->client_key};
  s->x.owner = s;
  int r = ut_send(u->net, &s->x, &rq);
  if (r < 0) {
    flog_err("cannot start an upload: %s", strerror(-r));
    slot_free(s);
    schedule_retry(u, backoff_next(&u->bo));
    return;
  }
  s->phase = SL_SENDING;
  s->sent_mono = tf_mono_ms();
  flog_debug("upload: %s %zu events (%zu bytes, %zu raw) %s",
             s->heartbeat         ? "heartbeat"
             : s->lane == LN_LIVE ? "live"
                                  : "backfill",
             b->n_events, b->body_len, b->raw_len, b->idem_key[0] ? b->idem_key : "");
  uploader__up_cycle(u); /* another slot may start */
}

static void on_ack_done(journal_ack *a) {
  up_slot *s = a->data;
  uploader *u = s->u;
  if (a->status != 0) {
    /* once per failure streak: a held or broken journal fails every retry */
    if (!u->last_ack_error)
      flog_err("journal: cannot apply the collector's answer (the batch will be sent again): %s",
               strerror(-a->status));
    u->last_ack_error = true;
  } else {
    if (u->last_ack_error) flog_notice("journal: the collector's answers apply again");
    u->last_ack_error = false;
    u->st.uploaded_events += s->batch.n_events - s->n_rejected;
    u->st.dead_lettered += s->n_rejected;
    if (s->batch.n_events) {
      ln_note_acked(&u->lanes, s->batch.first_seq, s->batch.last_seq, tf_mono_ms());
      if (s->lane == LN_LIVE) u->st.live_batches++;
      else u->st.backfill_batches++;
    }
  }
  free(s->rejected);
  s->rejected = NULL;
  s->n_rejected = 0;
  slot_free(s);
  if (u->stopping) {
    uploader__up_maybe_finish_stop(u);
    return;
  }
  if (a->status != 0) {
    schedule_retry(u, backoff_next(&u->bo));
    return;
  }
  uploader__up_cycle(u);
}

/* Start reading a batch into the free slot s. */
static void start_read(uploader *u, up_slot *s, ln_lane lane, const ln_range *r, bool heartbeat) {
  memset(&s->batch, 0, sizeof(s->batch));
  s->u = u;
  s->lane = lane;
  s->heartbeat = heartbeat;
  s->range = r ? *r : (ln_range){0, -1};
  bool live = lane == LN_LIVE;
  s->batch.max_events = heartbeat ? 0 : u->limit[lane];
  s->batch.max_bytes = live || heartbeat ? u->cfg.batch_max_bytes : u->cfg.backfill_max_bytes;
  s->batch.from_seq = r ? r->lo : 0;
  s->batch.to_seq = r && r->hi != INT64_MAX ? r->hi : 0;
  s->batch.codec = u->cfg.codec;
  s->batch.done = on_batch_read;
  s->batch.data = s;
  s->phase = SL_READING;
  s->read_gen = u->gen;
  if (journal_read_batch(u->j, &s->batch) < 0) { /* closing */
    s->phase = SL_FREE;
  }
}

static up_slot *free_slot(uploader *u) {
  for (unsigned i = 0; i < u->cfg.upload_window + 1 && i < UP_SLOTS; i++)
    if (u->slots[i].phase == SL_FREE) return &u->slots[i];
  return NULL;
}

static bool live_in_flight(const uploader *u) {
  for (unsigned i = 0; i < UP_SLOTS; i++)
    if (u->slots[i].phase != SL_FREE && !u->slots[i].heartbeat && u->slots[i].lane == LN_LIVE) return true;
  return false;
}

/* Fill free slots as the pace allows, or arm the heartbeat timer. */
void uploader__up_cycle(uploader *u) {
  if (u->stopping || u->waiting) return;
  journal_stats js;
  journal_get_stats(u->j, &js);
  uint64_t now = tf_mono_ms();
  ln_note_next_seq(&u->lanes, js.next_seq, now);
  if (js.next_seq != u->seen_next_seq) {
    u->seen_next_seq = js.next_seq;
    u->gen++;
  }
  for (;;) {
    /* the pace bounds the uploads in flight; one live upload may go beyond it */
    unsigned busy = busy_slots(u);
    bool room = busy < pc_allowed(&u->pace);
    bool live_room = room || !live_in_flight(u);
    if (!live_room) return;
    up_slot *s = free_slot(u);
    if (!s || js.backlog <= 0) break;
    ln_range ranges[UP_SLOTS], r;
    size_t n = 0;
    for (unsigned i = 0; i < UP_SLOTS; i++)
      if (u->slots[i].phase != SL_FREE && !u->slots[i].heartbeat) ranges[n++] = u->slots[i].range;
    ln_lane lane;
    if (u->empty_gen[LN_LIVE] != u->gen && ln_pick(&u->lanes, LN_LIVE, now, ranges, n, &r)) lane = LN_LIVE;
    else if (room && u->empty_gen[LN_BACKFILL] != u->gen &&
             ln_pick(&u->lanes, LN_BACKFILL, now, ranges, n, &r))
      lane = LN_BACKFILL;
    else break;
    uv_timer_stop(&u->wake_timer);
    start_read(u, s, lane, &r, false);
    if (s->phase == SL_FREE) return; /* the journal is closing */
  }
  if (busy_slots(u)) return;
  uint64_t hb_ms = ms_of(u->cfg.heartbeat_interval_s);
  if (!u->contact_due && now - u->last_contact_mono < hb_ms) {
    uv_timer_start(&u->wake_timer, on_wake, u->last_contact_mono + hb_ms - now, 0);
    return;
  }
  uv_timer_stop(&u->wake_timer);
  if (js.backlog > 0) /* events pending and no lane found any: look again after this */
    u->empty_gen[LN_LIVE] = u->empty_gen[LN_BACKFILL] = UINT64_MAX;
  start_read(u, &u->slots[0], LN_LIVE, NULL, true);
}

void uploader_kick(uploader *u) {
  if (!u || u->stopping) return;
  if (u->waiting) { /* no upload now, but the lanes learn when these events came */
    journal_stats js;
    journal_get_stats(u->j, &js);
    ln_note_next_seq(&u->lanes, js.next_seq, tf_mono_ms());
    return;
  }
  uploader__up_cycle(u);
}

void uploader_get_stats(const uploader *u, uploader_stats *ret) {
  *ret = u->st;
  uint64_t now = tf_mono_ms();
  ret->batch_limit = u->limit[LN_LIVE];
  ret->retry_scheduled = u->waiting;
  ret->next_retry_in_s = 0;
  if (u->waiting && u->retry_deadline_mono > now)
    ret->next_retry_in_s = (double)(u->retry_deadline_mono - now) / 1000.0;
  ret->inflight = busy_slots(u);
  ret->window = pc_allowed(&u->pace);
  ret->pace_decreases = u->pace.decreases;
  journal_stats js;
  journal_get_stats(u->j, &js);
  uploader_split(u, js.backlog, ret);
}

void uploader_split(const uploader *u, int64_t backlog, uploader_stats *st) {
  ln_split sp;
  ln_get_split(&u->lanes, backlog, tf_mono_ms(), &sp);
  st->live_backlog = sp.live;
  st->backfill_backlog = sp.backfill;
  st->live_oldest_s = sp.live_oldest_s;
}
