/* uploader_int: the uploader's state, shared by uploader.c (each upload,
 * slot by slot) and uploader_life.c (start, reconfigure, stop). Loop thread
 * only. */
#ifndef FERRY_AGENT_UPLOADER_INT_H
#define FERRY_AGENT_UPLOADER_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "backoff.h"
#include "journal.h"
#include "up_lanes.h"
#include "up_pacing.h"
#include "up_transport.h"
#include "uploader.h"

typedef enum { SL_FREE, SL_READING, SL_SENDING, SL_ACKING } sl_phase;

/* The window, plus one slot that only the live lane may use: a live batch
 * never waits for a backfill upload to be answered. */
#define UP_SLOTS (UP_WINDOW_MAX + 1)

typedef struct up_slot {
  struct uploader *u;
  sl_phase phase;
  ln_lane lane;
  bool heartbeat;
  ln_range range; /* seqs it covers: asked while READING, [first, last] after */
  journal_batch batch;
  bool batch_live;
  journal_ack ack;
  journal_batch ack_batch; /* what the ack refers to (copy; see single dead-letter) */
  journal_rejected *rejected;
  size_t n_rejected;
  ut_xfer x;
  uint64_t sent_mono;
  uint64_t read_gen; /* u->gen when the read started */
  /* X-Request-ID: {idempotency_key}/{attempt}; heartbeats: heartbeat:{n}/1 */
  char attempt_key[200];
  unsigned attempt;
  char request_id[240];
} up_slot;

struct uploader {
  uv_loop_t *loop;
  journal *j;
  uploader_config cfg;
  char *collector, *url, *auth_header;
  char *ca_file, *pinned_pubkey, *client_cert, *client_key;
  ut_multi *net;
  uv_timer_t wake_timer; /* retry or heartbeat */
  bool wake_open;

  up_slot slots[UP_SLOTS];
  bool waiting;     /* a retry is due: no new upload before the timer */
  bool contact_due; /* send something (heartbeat at least) at the next cycle */
  bool stopping;
  backoff bo;
  size_t limit[2]; /* batch event limit per lane (halved on 400/413/422) */
  ln_state lanes;
  pc_state pace;
  uint64_t gen;          /* moves on new events, answers, failures */
  uint64_t empty_gen[2]; /* gen when a read of the lane found nothing (+1: none) */
  int64_t seen_next_seq;

  uint64_t last_contact_mono; /* end of the last attempt */
  uint64_t retry_deadline_mono;
  bool last_batch_error; /* journal_read_batch failed last time (log once) */
  bool last_ack_error;   /* journal_apply_ack failed last time (log once) */

  uint64_t heartbeat_n;
  uint64_t outage_start_mono; /* first failure of the current run, 0 when ok */
  uint64_t dl_logged_mono;    /* last dead-letter line; more within 10 s are counted */
  uint64_t dl_held;
  bool https;
  const char *hint;        /* the mismatch hint of the failure being noted, or NULL */
  const char *hint_logged; /* the latest hint logged at warning level */

  uploader_stats st;
  void (*stop_done)(void *);
  void *stop_arg;
};

/* uploader.c */
void uploader__up_cycle(uploader *u);
void uploader__up_maybe_finish_stop(uploader *u);
void uploader__batch_drop(up_slot *s);
void uploader__on_transfer_done(void *owner, ut_xfer *x, CURLcode result);

#endif
