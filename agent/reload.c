/* reload: what SIGHUP does to the running agent — the options it applies
 * (the rest wait for a restart) and the uploader settings they make. Split
 * from main.c to keep it short; works on main's app (main_int.h). */
#include <string.h>

#include "log.h"
#include "main_int.h"
#include "mapping.h"
#include "notify.h"
#include "options.h"

/* ---- reload (SIGHUP) ------------------------------------------------------ */

/* Options a reload applies to the running agent; every other option is fixed
 * for the life of the process (the listener, the journal and what it was
 * opened with), and a change to one is reported and left for a restart. */
static const char *const live_options[] = {"log-level",
                                           "collector",
                                           "auth-token",
                                           "auth-token-file",
                                           "batch-max-events",
                                           "backfill-batch-max-events",
                                           "live-window",
                                           "upload-window",
                                           "batch-max-bytes",
                                           "collector-max-body-bytes",
                                           "compression",
                                           "retry-initial",
                                           "retry-max",
                                           "heartbeat-interval",
                                           "connect-timeout",
                                           "request-timeout",
                                           "insecure-http",
                                           "watchdog-stall-s",
                                           "mqtt-topic",
                                           "mapping",
                                           NULL};

static bool is_live(const char *name) {
  for (const char *const *p = live_options; *p; p++)
    if (strcmp(*p, name) == 0) return true;
  return false;
}

uploader_config agent__uploader_config_of(const agent_config *c) {
  codec_t codec = c->compression == AGENT_COMPRESSION_ZSTD   ? CODEC_ZSTD
                  : c->compression == AGENT_COMPRESSION_GZIP ? CODEC_GZIP
                                                             : CODEC_IDENTITY;
  int64_t max_bytes =
      c->batch_max_bytes < c->collector_max_body_bytes ? c->batch_max_bytes : c->collector_max_body_bytes;
  int64_t bf_events = c->backfill_batch_max_events;
  if (!bf_events) bf_events = c->batch_max_events * 4 < 10000 ? c->batch_max_events * 4 : 10000;
  if (bf_events < c->batch_max_events) bf_events = c->batch_max_events;
  int64_t bf_bytes = c->batch_max_bytes * 4;
  if (bf_bytes > c->collector_max_body_bytes) bf_bytes = c->collector_max_body_bytes;
  if (bf_bytes < max_bytes) bf_bytes = max_bytes;
  return (uploader_config){.collector = c->collector,
                           .backfill_max_events = (size_t)bf_events,
                           .backfill_max_bytes = (size_t)bf_bytes,
                           .live_window_s = c->live_window,
                           .upload_window = (unsigned)c->upload_window,
                           .auth_token = c->auth_token,
                           .batch_max_events = (size_t)c->batch_max_events,
                           .batch_max_bytes = (size_t)max_bytes,
                           .codec = codec,
                           .retry_initial_s = c->retry_initial,
                           .retry_max_s = c->retry_max,
                           .heartbeat_interval_s = c->heartbeat_interval,
                           .connect_timeout_s = c->connect_timeout,
                           .request_timeout_s = c->request_timeout,
                           .ca_file = c->ca_file,
                           .pinned_pubkey = c->pinned_pubkey,
                           .client_cert = c->tls_client_cert,
                           .client_key = c->tls_client_key};
}


void agent__reload(app *a) {
  (void)notify_reloading();
  agent_config next;
  memset(&next, 0, sizeof(next));
  opt_cli cli;
  char err[512];
  int r = agent_config_load(&next, a->argc, a->argv, &cli, err, sizeof(err));
  if (r < 0) {
    flog_err("SIGHUP: configuration not reloaded, the running one is kept: %s", err);
    agent_config_clear(&next);
    (void)notify_ready();
    return;
  }
  for (int i = 0; i < next.n_warnings; i++) flog_warn("%s", next.warnings[i]);
  int applied = 0, kept = 0;
  for (size_t i = 0; i < agent_opt_count; i++) {
    const opt_def *d = &agent_opt_defs[i];
    if (opt_field_equal(d, &a->cfg, &next)) continue;
    char was[160], now[160], key[64];
    opt_key(d, key, sizeof(key));
    opt_format_value(d, &a->cfg, was, sizeof(was));
    opt_format_value(d, &next, now, sizeof(now));
    if (is_live(d->name)) {
      opt_field_swap(d, &a->cfg, &next); /* next now holds the old value, freed below */
      applied++;
      if (d->flags & OPT_F_SECRET) flog_notice("SIGHUP: %s changed", key);
      else flog_notice("SIGHUP: %s: %s -> %s", key, was, now);
    } else {
      kept++;
      flog_warn("SIGHUP: %s changed to %s, which needs a restart; keeping %s", key,
                (d->flags & OPT_F_SECRET) ? "a new value" : now, was);
    }
  }
  agent_config_clear(&next);
  flog_set_level(FLOG_ERR + a->cfg.log_level);
  if (a->up) {
    uploader_config uc = agent__uploader_config_of(&a->cfg);
    r = uploader_reconfigure(a->up, &uc);
    if (r < 0) flog_err("SIGHUP: the uploader keeps its previous settings: %s", strerror(-r));
  }
  if (a->mq) {
    /* topics and mapping: the mapping file is read again even when its
     * name did not change (its contents may have) */
    mapping *m = NULL;
    char merr[512];
    if (a->cfg.mapping && mapping_load_file(a->cfg.mapping, &m, merr, sizeof(merr)) < 0)
      flog_err("SIGHUP: MQTT mapping not reloaded, the running one is kept: %s", merr);
    else if (mqtt_source_reload(a->mq, a->cfg.mqtt_topic, m) < 0)
      flog_err("SIGHUP: MQTT source not reloaded: out of memory");
  }
  flog_notice("SIGHUP: configuration reloaded: %d option(s) applied, %d kept until restart", applied, kept);
  a->last_status[0] = '\0';
  (void)notify_ready();
  agent__on_status_timer(&a->status_timer);
}
