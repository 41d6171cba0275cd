/* uploader_life: the uploader's start, reconfigure (SIGHUP) and stop — the
 * copies of its settings it owns, and the order its handles close in. Split
 * from uploader.c, which keeps what happens to each upload; both work on the
 * struct in uploader_int.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backoff.h"
#include "log.h"
#include "timefmt.h"
#include "uploader.h"
#include "uploader_int.h"

static char *join_url(const char *base, const char *path) {
  size_t bl = strlen(base);
  while (bl && base[bl - 1] == '/') bl--;
  size_t pl = strlen(path);
  char *s = malloc(bl + pl + 1);
  if (!s) return NULL;
  memcpy(s, base, bl);
  memcpy(s + bl, path, pl + 1);
  return s;
}

static char *auth_header_of(const char *token) {
  size_t n = strlen(token) + sizeof("Authorization: Bearer ");
  char *h = malloc(n);
  if (h) snprintf(h, n, "Authorization: Bearer %s", token);
  return h;
}

/* Bounds of the sizes in cfg that follow other settings. */
static void normalize(uploader_config *c) {
  if (c->batch_max_events == 0) c->batch_max_events = 1;
  if (c->backfill_max_events == 0) c->backfill_max_events = c->batch_max_events;
  if (c->backfill_max_bytes == 0) c->backfill_max_bytes = c->batch_max_bytes;
  if (c->upload_window < 1) c->upload_window = 1;
  if (c->upload_window > UP_SLOTS) c->upload_window = UP_SLOTS;
}

static void free_strings(uploader *u) {
  free(u->collector);
  free(u->url);
  free(u->ca_file);
  free(u->pinned_pubkey);
  free(u->client_cert);
  free(u->client_key);
  if (u->auth_header) {
    explicit_bzero(u->auth_header, strlen(u->auth_header));
    free(u->auth_header);
  }
}

int uploader_start(uv_loop_t *loop, journal *j, const uploader_config *cfg, uploader **ret, char *err,
                   size_t errlen) {
  uploader *u = calloc(1, sizeof(*u));
  if (!u) {
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
  if (!(vi->features & CURL_VERSION_ASYNCHDNS))
    flog_warn("libcurl %s resolves names synchronously: a slow DNS server can stall the agent's "
              "loop; use a libcurl built with the threaded resolver or c-ares",
              vi->version);
  u->loop = loop;
  u->j = j;
  u->cfg = *cfg;
  u->collector = strdup(cfg->collector);
  u->url = join_url(cfg->collector, "/v1/ingest");
  u->https = cfg->collector && strncasecmp(cfg->collector, "https:", 6) == 0;
  u->st.collector_max_future_s = -1;
  if (cfg->auth_token) u->auth_header = auth_header_of(cfg->auth_token);
  bool nomem = false;
#define UP_DUP(f)                                         \
  do {                                                    \
    if (cfg->f && !(u->f = strdup(cfg->f))) nomem = true; \
  } while (0)
  UP_DUP(ca_file);
  UP_DUP(pinned_pubkey);
  UP_DUP(client_cert);
  UP_DUP(client_key);
#undef UP_DUP
  if (!u->collector || !u->url || (cfg->auth_token && !u->auth_header) || nomem ||
      !(u->net = ut_new(loop, uploader__on_transfer_done))) {
    snprintf(err, errlen, "out of memory");
    free_strings(u);
    free(u);
    return -ENOMEM;
  }
  u->cfg.collector = u->collector;
  u->cfg.auth_token = NULL; /* only the header is kept */
  normalize(&u->cfg);
  u->limit[LN_LIVE] = u->cfg.batch_max_events;
  u->limit[LN_BACKFILL] = u->cfg.backfill_max_events;
  for (unsigned i = 0; i < UP_SLOTS; i++) u->slots[i].u = u;
  u->empty_gen[LN_LIVE] = u->empty_gen[LN_BACKFILL] = UINT64_MAX;
  uv_timer_init(loop, &u->wake_timer);
  u->wake_timer.data = u;
  u->wake_open = true;
  uint64_t seed = tf_mono_ms() ^ ((uint64_t)tf_now_ms() << 20) ^ (uint64_t)(uintptr_t)u;
  backoff_init(&u->bo, cfg->retry_initial_s, cfg->retry_max_s, seed ? seed : 1);
  journal_stats js;
  journal_get_stats(j, &js);
  uint64_t now = tf_mono_ms();
  ln_init(&u->lanes, u->cfg.live_window_s, js.next_seq, now);
  pc_init(&u->pace, u->cfg.upload_window);
  u->st.state = UP_STATE_OK;
  u->contact_due = true; /* introduce ourselves at once */
  uploader__up_cycle(u);
  *ret = u;
  return 0;
}

int uploader_reconfigure(uploader *u, const uploader_config *cfg) {
  char *collector = strdup(cfg->collector);
  char *url = join_url(cfg->collector, "/v1/ingest");
  char *auth = cfg->auth_token ? auth_header_of(cfg->auth_token) : NULL;
  if (!collector || !url || (cfg->auth_token && !auth)) {
    free(collector);
    free(url);
    free(auth);
    return -ENOMEM;
  }
  bool target_changed = strcmp(url, u->url) != 0 || (auth == NULL) != (u->auth_header == NULL) ||
                        (auth && strcmp(auth, u->auth_header) != 0);
  /* transfers in flight hold their own copies (libcurl copies the URL and
   * the header list belongs to the transfer) */
  free(u->collector);
  free(u->url);
  if (u->auth_header) {
    explicit_bzero(u->auth_header, strlen(u->auth_header));
    free(u->auth_header);
  }
  u->collector = collector;
  u->url = url;
  u->https = strncasecmp(url, "https:", 6) == 0;
  u->auth_header = auth;
  u->cfg = *cfg;
  u->cfg.collector = u->collector;
  u->cfg.auth_token = NULL;
  /* the TLS files stay those of the start (a restart changes them) */
  u->cfg.ca_file = u->ca_file;
  u->cfg.pinned_pubkey = u->pinned_pubkey;
  u->cfg.client_cert = u->client_cert;
  u->cfg.client_key = u->client_key;
  normalize(&u->cfg);
  if (u->limit[LN_LIVE] > u->cfg.batch_max_events) u->limit[LN_LIVE] = u->cfg.batch_max_events;
  if (u->limit[LN_BACKFILL] > u->cfg.backfill_max_events) u->limit[LN_BACKFILL] = u->cfg.backfill_max_events;
  ln_set_window(&u->lanes, u->cfg.live_window_s);
  pc_set_max(&u->pace, u->cfg.upload_window);
  unsigned attempt = u->bo.attempt;
  uint64_t rng = u->bo.rng;
  backoff_init(&u->bo, cfg->retry_initial_s, cfg->retry_max_s, rng ? rng : 1);
  u->bo.attempt = attempt;
  if (target_changed && !u->stopping && u->waiting) {
    backoff_reset(&u->bo);
    uv_timer_stop(&u->wake_timer);
    u->waiting = false;
    uploader__up_cycle(u);
  } else if (!u->stopping && !u->waiting) {
    uploader__up_cycle(u); /* re-arm the heartbeat timer with the new interval */
  }
  return 0;
}

static void on_net_closed(void *arg) {
  uploader *u = arg;
  u->net = NULL;
  uploader__up_maybe_finish_stop(u);
}

static void on_wake_closed(uv_handle_t *h) {
  uploader *u = h->data;
  u->wake_open = false;
  uploader__up_maybe_finish_stop(u);
}

void uploader__up_maybe_finish_stop(uploader *u) {
  if (!u->stopping) return;
  for (unsigned i = 0; i < UP_SLOTS; i++)
    if (u->slots[i].phase == SL_READING || u->slots[i].phase == SL_ACKING)
      return; /* the journal still holds our request; wait for its done */
  if (u->net && u->wake_open) {
    if (uv_is_closing((uv_handle_t *)&u->wake_timer)) return;
    for (unsigned i = 0; i < UP_SLOTS; i++) {
      ut_xfer_drop(u->net, &u->slots[i].x);
      uploader__batch_drop(&u->slots[i]);
      u->slots[i].phase = SL_FREE;
    }
    uv_close((uv_handle_t *)&u->wake_timer, on_wake_closed);
    ut_close(u->net, on_net_closed, u);
    return; /* the close callbacks call back in */
  }
  if (u->net || u->wake_open) return;
  void (*done)(void *) = u->stop_done;
  void *arg = u->stop_arg;
  free_strings(u);
  free(u);
  if (done) done(arg);
}

void uploader_stop(uploader *u, void (*done)(void *arg), void *arg) {
  if (!u || u->stopping) return;
  u->stopping = true;
  u->stop_done = done;
  u->stop_arg = arg;
  uv_timer_stop(&u->wake_timer);
  unsigned sending = 0;
  for (unsigned i = 0; i < UP_SLOTS; i++) sending += u->slots[i].phase == SL_SENDING;
  if (sending) flog_info("%u upload(s) in flight cancelled; their events stay in the journal", sending);
  u->waiting = false;
  uploader__up_maybe_finish_stop(u);
}
