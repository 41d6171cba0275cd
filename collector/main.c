/* ferry-collector: the central HTTP service that authenticates agents, stores
 * every event exactly once and tracks each agent's delivery (SPEC §3). This
 * file is the lifecycle: options, store, writer thread, HTTP listener,
 * signals (SIGTERM/SIGINT drain and exit 0; SIGHUP reloads the configuration
 * — tokens, log level and ingest limits apply at once, the TLS certificate,
 * key and client CA are re-read, the rest is reported and kept until a
 * restart), systemd's READY=1 / STATUS= / watchdog, which is fed only while
 * the database writer makes progress, and the "token" subcommand.
 * Exit codes: 0 ok, 1 runtime failure, 2 configuration error. */
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "app.h"
#include "catchup.h"
#include "idem_inflight.h"
#include "config.h"
#include "activity.h"
#include "json_arena.h"
#include "log.h"
#include "mem_tune.h"
#include "notify.h"
#include "prom.h"
#include "readers.h"
#include "reg_cache.h"
#include "routes.h"
#include "sizes.h"
#include "registry_cmd.h"
#include "token_cmd.h"
#include "stall.h"
#include "timefmt.h"
#include "version_info.h"

#define SHUTDOWN_POLL_MS  50
#define STATUS_EVERY_MS   15000 /* STATUS= refresh */
#define PROGRESS_EVERY_MS 5000  /* progress check when no watchdog asks for more often */

typedef struct col_main {
  col_app app;
  uv_signal_t sig_term, sig_int, sig_hup;
  uv_timer_t drain, status, watchdog, summary;
  int exit_code;
  int argc; /* the command line, parsed again on SIGHUP */
  char **argv;
  bool watchdog_on;
  stall_track st_queue, st_unhealthy;
  char stalled[200]; /* why the watchdog is not fed; "" when progressing */
  char last_status[240];
} col_main;

static void cm__close_handles(col_main *m);

static void cm__writer_stopped(void *arg) {
  col_main *m = arg;
  m->app.wr = NULL;
  cm__close_handles(m);
}

static void cm__httpd_closed(void *arg) {
  col_main *m = arg;
  m->app.http = NULL;
  if (m->app.wr) wr_stop(m->app.wr, cm__writer_stopped, m);
  else cm__close_handles(m);
}

static void cm__close_handles(col_main *m) {
  uv_close((uv_handle_t *)&m->sig_term, NULL);
  uv_close((uv_handle_t *)&m->sig_int, NULL);
  uv_close((uv_handle_t *)&m->sig_hup, NULL);
  uv_close((uv_handle_t *)&m->drain, NULL);
  uv_close((uv_handle_t *)&m->status, NULL);
  uv_close((uv_handle_t *)&m->watchdog, NULL);
  uv_close((uv_handle_t *)&m->summary, NULL);
  reg_cache_stop(m->app.reg);
}

/* Wait until every request that reached a handler is answered (each is
 * bounded by the writer's commit limit), then close the listener and writer. */
static void cm__drain(uv_timer_t *t) {
  col_main *m = t->data;
  if (m->app.inflight) return;
  uv_timer_stop(t);
  flog_info("all requests answered; closing");
  if (m->app.http) httpd_close(m->app.http, cm__httpd_closed, m);
  else cm__httpd_closed(m);
}

static void cm__on_stop(uv_signal_t *s, int signum) {
  col_main *m = s->data;
  if (m->app.stopping) {
    flog_notice("%s again: still waiting for %u request(s)", strsignal(signum), m->app.inflight);
    return;
  }
  flog_notice("%s: stopping (finishing %u request(s) in flight)", strsignal(signum), m->app.inflight);
  (void)notify_stopping();
  m->app.stopping = true;
  uv_timer_stop(&m->status);
  uv_timer_stop(&m->watchdog);
  uv_timer_stop(&m->summary);
  activity_tick(m->app.activity);
  if (m->app.http) httpd_stop_listening(m->app.http);
  uv_timer_start(&m->drain, cm__drain, 0, SHUTDOWN_POLL_MS);
}

/* SIGHUP, TLS part: new handshakes get the new certificate; connections
 * already established (requests mid-flight included) keep theirs. */
static void tls_reload(col_main *m) {
  if (!m->app.tls) return;
  char err[512];
  if (tls_server_reload(m->app.tls, err, sizeof(err)) < 0) {
    flog_err("SIGHUP: TLS files not reloaded, keeping the previous certificate: %s", err);
    return;
  }
  flog_notice("SIGHUP: TLS certificate reloaded: %s, expires in %lld day(s)%s",
              tls_server_subject(m->app.tls), (long long)(tls_server_expires_in_s(m->app.tls) / 86400),
              tls_server_wants_client_cert(m->app.tls) ? "; client CA reloaded" : "");
}

static void cm__on_summary(uv_timer_t *t) {
  col_main *m = t->data;
  activity_tick(m->app.activity);
}

static void cm__on_status(uv_timer_t *t) {
  col_main *m = t->data;
  col_app *app = &m->app;
  char line[240];
  if (m->stalled[0]) snprintf(line, sizeof(line), "STALLED: %.200s", m->stalled);
  else
    snprintf(line, sizeof(line), "serving on %.80s; %llu batches, %llu events stored; writer queue %zu",
             app->cfg->listen, (unsigned long long)app->stats.batches,
             (unsigned long long)app->stats.accepted, app->wr ? wr_pending(app->wr) : (size_t)0);
  if (strcmp(line, m->last_status) != 0) {
    (void)notify_status("%s", line);
    snprintf(m->last_status, sizeof(m->last_status), "%s", line);
  }
}

/* Progress, as the watchdog sees it: the database writer is progressing
 * unless it has work queued and completes none, or its last database
 * operation failed (or one has been running past max-commit-wait-s) and
 * nothing has succeeded since, for longer than --watchdog-stall-s. An idle
 * collector is progressing; so is one whose agents are all offline. */
static bool cm__progressing(col_main *m, char *why, size_t len) {
  col_app *app = &m->app;
  if (!app->wr) return true;
  uint64_t now = tf_mono_ms(), last_ok = 0;
  uint64_t limit = (uint64_t)(app->cfg->watchdog_stall_s * 1000.0);
  char reason[160];
  reason[0] = '\0';
  bool healthy = wr_healthy(app->wr, &last_ok, reason, sizeof(reason));
  size_t pending = wr_pending(app->wr);
  uint64_t d = stall_observe(&m->st_queue, pending > 0, last_ok, now);
  if (d > limit) {
    snprintf(why, len, "database writer: %zu job(s) waiting, none done for %llu s", pending,
             (unsigned long long)(d / 1000));
    return false;
  }
  d = stall_observe(&m->st_unhealthy, !healthy, 0, now);
  if (d > limit) {
    snprintf(why, len, "%s, for %llu s", reason, (unsigned long long)(d / 1000));
    return false;
  }
  return true;
}

static void cm__on_watchdog(uv_timer_t *t) {
  col_main *m = t->data;
  if (m->app.stopping) return;
  char why[sizeof(m->stalled)];
  if (cm__progressing(m, why, sizeof(why))) {
    if (m->stalled[0]) {
      flog_notice("progressing again (was: %s)", m->stalled);
      m->stalled[0] = '\0';
      cm__on_status(&m->status);
    }
    if (m->watchdog_on) (void)notify_watchdog();
    return;
  }
  if (!m->stalled[0]) {
    flog_err("stalled: %s%s", why,
             m->watchdog_on ? "; no longer pinging the watchdog, systemd will restart the collector" : "");
    snprintf(m->stalled, sizeof(m->stalled), "%s", why);
    cm__on_status(&m->status);
  } else {
    snprintf(m->stalled, sizeof(m->stalled), "%s", why);
  }
}

/* Options a reload applies at once; the others (listener, database, writer
 * limits) are fixed for the life of the process and a change is reported. */
static const char *const cm__live[] = {
    "log-level",        "auth-token",       "auth-token-file",  "tokens-file",
    "insecure-no-auth", "read-token",       "read-token-file",  "insecure-open-reads",
    "admin-token",      "admin-token-file", "unknown-ids",      "max-future-s",
    "max-batch-events", "retention-days",   "watchdog-stall-s", NULL};

static bool cm__is_live(const char *name) {
  for (const char *const *p = cm__live; *p; p++)
    if (strcmp(*p, name) == 0) return true;
  return false;
}

static void cm__warn(const col_config *cfg, const opt_cli *cli);

static void cm__on_hup(uv_signal_t *s, int signum) {
  (void)signum;
  col_main *m = s->data;
  col_app *app = &m->app;
  if (app->stopping) return;
  (void)notify_reloading();
  tls_reload(m);
  static col_config next; /* static: the loop thread is the only user */
  col_auth auth;
  opt_cli cli;
  char err[512];
  memset(&next, 0, sizeof(next));
  memset(&auth, 0, sizeof(auth));
  memset(&cli, 0, sizeof(cli));
  int r = opt_parse(col_opt_defs, col_n_opt_defs, &next, m->argc, m->argv, &cli, err, sizeof(err));
  if (r == 0) r = col_config_finish(&next, &auth, err, sizeof(err));
  if (r < 0) {
    flog_err("SIGHUP: configuration not reloaded, the running one is kept: %s", err);
    auth_clear(&auth);
    col_config_clear(&next);
    (void)notify_ready();
    return;
  }
  int applied = 0, kept = 0;
  for (size_t i = 0; i < col_n_opt_defs; i++) {
    const opt_def *d = &col_opt_defs[i];
    if (opt_field_equal(d, app->cfg, &next)) continue;
    char was[160], now[160], key[64];
    opt_key(d, key, sizeof(key));
    opt_format_value(d, app->cfg, was, sizeof(was));
    opt_format_value(d, &next, now, sizeof(now));
    if (cm__is_live(d->name)) {
      opt_field_swap(d, app->cfg, &next);
      applied++;
      if (d->flags & OPT_F_SECRET) flog_notice("SIGHUP: %s changed", key);
      else flog_notice("SIGHUP: %s: %s -> %s", key, was, now);
    } else {
      kept++;
      flog_warn("SIGHUP: %s changed to %s, which needs a restart; keeping %s", key,
                (d->flags & OPT_F_SECRET) ? "a new value" : now, was);
    }
  }
  /* every token option is live: the new auth (token files re-read, the
   * tokens file included) replaces the old one whole */
  auth_clear(&app->auth);
  app->auth = auth;
  col_config_clear(&next);
  flog_set_level(col_config_flog_level(app->cfg));
  cm__warn(app->cfg, &cli);
  flog_notice("SIGHUP: configuration reloaded (%zu agent token(s) in the tokens file): %d option(s) "
              "applied, %d kept until restart",
              app->auth.tokens ? auth_tokens_count(app->auth.tokens) : (size_t)0, applied, kept);
  (void)notify_ready();
}

static void cm__warn(const col_config *cfg, const opt_cli *cli) {
  for (int i = 0; i < cli->n_secret_on_cli; i++)
    flog_warn("--%s given on the command line is visible to other users (ps); prefer the _file option",
              cli->secret_on_cli[i]);
  if (cfg->auth_token || cfg->auth_token_file)
    flog_warn("a shared agent token is configured: any agent holding it may upload as any agent_id "
              "not in the tokens file; prefer per-agent tokens (tokens_file)");
  if (cfg->insecure_no_auth) flog_warn("insecure_no_auth: uploads are accepted without a token");
  if (cfg->insecure_open_reads)
    flog_warn("insecure_open_reads: per-worker figures are readable without a token");
  if (!cfg->tls_cert && strncmp(cfg->listen, "127.", 4) != 0 && strncmp(cfg->listen, "[::1]", 5) != 0 &&
      strncmp(cfg->listen, "unix:", 5) != 0)
    flog_warn("serving plain HTTP on %s: agent tokens cross the network in clear; set tls_cert and tls_key",
              cfg->listen);
}

/* Bound glibc's malloc arenas before any thread starts: with one arena per
 * thread (up to 8 x cores), each ingest and writer thread keeps the pages
 * its parsed batches freed, and a fleet's catch-up measured 6 arenas holding
 * 124 of the collector's 148 MiB (docs/benchmarks.md). Large blocks (the
 * rollup builds' slices) get their own mappings (mem_tune.h). */
static void cm__malloc_tune(const col_config *cfg) {
  mt_applied ap;
  if (mt_apply(cfg->malloc_arenas, &ap) < 0)
    flog_warn("malloc settings (malloc-arenas %lld, mmap threshold %d): not all applied",
              (long long)cfg->malloc_arenas, MT_MMAP_THRESHOLD);
}

int main(int argc, char **argv) {
  static col_config cfg;
  static col_main m;
  opt_cli cli;
  char err[512];
  signal(SIGPIPE, SIG_IGN);
  /* no global allocation statistics: every SQLite malloc would take a mutex
   * for them (only before SQLite is first used) */
  (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  ja_install(); /* cJSON trees of batch parses in per-thread arenas */

  memset(&cli, 0, sizeof(cli));
  opt_set_aliases(col_opt_defs, col_opt_aliases, col_n_opt_aliases);
  int r = opt_parse(col_opt_defs, col_n_opt_defs, &cfg, argc, argv, &cli, err, sizeof(err));
  if (r < 0) {
    fprintf(stderr, "ferry-collector: %s\n", err);
    return 2;
  }
  if (cli.help) {
    opt_print_help(col_opt_defs, col_n_opt_defs, "ferry-collector",
                   "Receive ferry-agent uploads, store each event once, track delivery.\n"
                   "Also: ferry-collector token new AGENT_ID, ferry-collector token hash AGENT_ID\n"
                   "      (make a per-agent token / hash one, as lines for --tokens-file)",
                   stdout);
    col_config_clear(&cfg);
    return 0;
  }
  if (cli.version) {
    ferry_print_version(stdout, "ferry-collector");
    col_config_clear(&cfg);
    return 0;
  }
  if (cli.print_config) {
    opt_print_effective(
        col_opt_defs, col_n_opt_defs, &cfg, &cli, "ferry-collector",
        "Installed as /etc/ferry/collector.jsonc; `systemctl reload ferry-collector` re-reads it.", stdout);
    col_config_clear(&cfg);
    return 0;
  }
  m.argc = argc;
  m.argv = argv;
  if (cli.nargs > 0 && strcmp(cli.args[0], "token") == 0) {
    col_config_clear(&cfg);
    return token_cmd(cli.nargs, cli.args, stdout, stderr);
  }
  if (cli.nargs > 0 && strcmp(cli.args[0], "registry") == 0) {
    flog_set_level(FLOG_WARNING);
    r = registry_cmd(&cfg, cli.nargs, cli.args, stdout, stderr);
    col_config_clear(&cfg);
    return r;
  }
  if (cli.nargs > 0) {
    fprintf(stderr, "ferry-collector: unexpected argument \"%s\"\n", cli.args[0]);
    col_config_clear(&cfg);
    return 2;
  }
  flog_set_level(col_config_flog_level(&cfg));
  flog_set_format(cfg.log_format);
  flog_set_component("collector");
  cm__malloc_tune(&cfg);
  col_app *app = &m.app;
  app->cfg = &cfg;
  r = col_config_finish(&cfg, &app->auth, err, sizeof(err));
  if (r < 0) {
    fprintf(stderr, "ferry-collector: %s\n", err);
    auth_clear(&app->auth);
    col_config_clear(&cfg);
    return 2;
  }
  if (cfg.tls_cert) {
    r = tls_server_load(cfg.tls_cert, cfg.tls_key, cfg.tls_client_ca, &app->tls, err, sizeof(err));
    if (r < 0) {
      fprintf(stderr, "ferry-collector: tls_cert: %s\n", err);
      auth_clear(&app->auth);
      col_config_clear(&cfg);
      return 2;
    }
    tls_server_activate(app->tls);
  }
  cm__warn(&cfg, &cli);
  if (cli.check_config) {
    tls_server_free(app->tls);
    char db_ok[512], agents_auth[160];
    col_config_db_display(&cfg, db_ok, sizeof(db_ok));
    const col_auth *au = &app->auth;
    if (au->tokens)
      snprintf(agents_auth, sizeof agents_auth, "per-agent tokens for %zu agent(s)%s",
               auth_tokens_agents(au->tokens), au->have_shared ? " and a shared token" : "");
    else if (au->have_shared) snprintf(agents_auth, sizeof agents_auth, "a shared agent token");
    else snprintf(agents_auth, sizeof agents_auth, "none (insecure_no_auth)");
    printf("ferry-collector: configuration ok (listen %s over %s%s, database %s %s, agents: %s, reads: "
           "%s)\n",
           cfg.listen, cfg.tls_cert ? "HTTPS" : "plain HTTP",
           cfg.tls_client_ca ? " with client certificates" : "",
           cfg.db_kind == COL_DB_POSTGRES ? "postgres" : "sqlite", db_ok, agents_auth,
           au->have_read ? "read token" : "open (insecure_open_reads)");
    auth_clear(&app->auth);
    col_config_clear(&cfg);
    return 0;
  }

  m.exit_code = 1;
  app->loop = uv_default_loop();
  char db_shown[512];
  col_config_db_display(&cfg, db_shown, sizeof(db_shown));
  r = cfg.db_kind == COL_DB_POSTGRES
          ? store_pg_open(cfg.db_path, cfg.max_state_s * 1000, &app->st, err, sizeof(err))
          : store_sqlite_open(cfg.db_path, cfg.max_state_s * 1000, &app->st, err, sizeof(err));
  if (r == 0 && cfg.db_kind != COL_DB_POSTGRES &&
      (r = store_sqlite_set_cache(app->st, cfg.sqlite_cache, cfg.sqlite_reader_cache)) < 0)
    snprintf(err, sizeof(err), "cannot size the page caches");
  if (r < 0) {
    flog_err("cannot open the database %s: %s", db_shown, err);
    goto out;
  }
  wr_limits lim = {
      .queue_max = (size_t)cfg.queue_max,
      .queue_max_bytes = size_from_i64(cfg.queue_max_bytes),
      .max_wait_ms = (uint64_t)cfg.max_commit_wait_s * 1000,
      .purge_before_ms = (uint64_t)cfg.idempotency_days * 86400000ULL,
  };
  if ((r = rd_pool_new(app->st, 4, &app->readers)) < 0 || !(app->prom = prom_new()) ||
      !(app->activity = activity_new())) {
    flog_err("cannot set up the metrics readers: out of memory");
    goto out;
  }
  if ((r = reg_cache_new(&app->reg)) < 0 || (r = reg_cache_load(app->reg, app->st)) < 0) {
    flog_err("cannot read the plant registry: %s",
             r == -ENOMEM ? "out of memory" : app->st->ops->last_error(app->st));
    goto out;
  }
  r = wr_start(app->loop, app->st, &lim, &app->wr);
  if (r < 0) {
    flog_err("cannot start the database writer thread: %s", uv_strerror(r));
    goto out;
  }
  unsigned max_inflight = (unsigned)cfg.max_ingest_inflight;
  if (!max_inflight) max_inflight = 2u * uv_available_parallelism();
  app->parse_max = uv_available_parallelism();
  flog_info("ingest: at most %u batch(es) applied at once%s", max_inflight,
            cfg.max_ingest_inflight ? "" : " (2 x the CPU cores)");
  unsigned queue_max = (unsigned)cfg.max_ingest_queue;
  if (!queue_max) queue_max = 8u * max_inflight;
  uint64_t queue_bytes = (uint64_t)cfg.max_ingest_queue_bytes;
  if (!queue_bytes) queue_bytes = 4u * (uint64_t)cfg.max_body_bytes;
  flog_info("ingest: at most %u more batch(es) admitted, holding %llu bytes of bodies%s", queue_max,
            (unsigned long long)queue_bytes, cfg.max_ingest_queue_bytes ? "" : " (4 x max-body-bytes)");
  rl_config rlc = {.max_inflight = max_inflight,
                   .queue_max = queue_max,
                   .queue_bytes = queue_bytes,
                   .rate = cfg.agent_rate,
                   .burst = (unsigned)cfg.agent_burst,
                   .max_concurrent = (unsigned)cfg.agent_max_concurrent};
  if (rl_new(&rlc, &app->rl) < 0 || !(app->catchup = cu_new(0))) {
    flog_err("out of memory");
    goto out;
  }
  httpd_config hc = {
      .tls_cert_cb = app->tls ? tls_server_cert_callback() : NULL,
      .tls_client_ca_pem = tls_server_client_ca_pem(app->tls),
      .listen = cfg.listen,
      .max_body = (size_t)cfg.max_body_bytes,
      .max_connections = (unsigned)cfg.max_connections,
      .conn_timeout_s = (unsigned)cfg.conn_timeout_s,
      .on_headers = routes_on_headers,
      .on_request = routes_on_request,
      .on_answer = prom_on_answer,
      .ud = app,
  };
  uv_signal_init(app->loop, &m.sig_term);
  uv_signal_init(app->loop, &m.sig_int);
  uv_signal_init(app->loop, &m.sig_hup);
  uv_timer_init(app->loop, &m.drain);
  uv_timer_init(app->loop, &m.status);
  uv_timer_init(app->loop, &m.watchdog);
  uv_timer_init(app->loop, &m.summary);
  m.summary.data = &m;
  m.sig_term.data = m.sig_int.data = m.sig_hup.data = m.drain.data = &m;
  m.status.data = m.watchdog.data = &m;
  uv_signal_start(&m.sig_term, cm__on_stop, SIGTERM);
  uv_signal_start(&m.sig_int, cm__on_stop, SIGINT);
  uv_signal_start(&m.sig_hup, cm__on_hup, SIGHUP);

  r = httpd_start(app->loop, &hc, &app->http, err, sizeof(err));
  if (r < 0) {
    flog_err("cannot serve HTTP: %s", err);
    app->stopping = true;
    wr_stop(app->wr, cm__writer_stopped, &m);
    uv_run(app->loop, UV_RUN_DEFAULT);
    goto out;
  }
  flog_notice("ferry-collector listening on %s (port %u, %s), database %s", cfg.listen, httpd_port(app->http),
              app->tls ? "HTTPS" : "HTTP", db_shown);
  if (app->tls) {
    int64_t left = tls_server_expires_in_s(app->tls);
    flog(left < 14 * 86400 ? FLOG_WARNING : FLOG_INFO, "TLS certificate %s expires in %lld day(s)%s",
         tls_server_subject(app->tls), (long long)(left / 86400),
         tls_server_wants_client_cert(app->tls) ? "; agents need a client certificate" : "");
  }
  if (reg_cache_start(app->reg, app->loop, app->readers) < 0) flog_warn("registry: no periodic re-read");
  (void)notify_ready();
  cm__on_status(&m.status);
  uv_timer_start(&m.status, cm__on_status, STATUS_EVERY_MS, STATUS_EVERY_MS);
  if (app->activity)
    uv_timer_start(&m.summary, cm__on_summary, (uint64_t)cfg.log_summary_s * 1000,
                   (uint64_t)cfg.log_summary_s * 1000);
  /* the progress check runs with or without a watchdog (a stall is logged
   * either way); with one, at least twice per WatchdogSec= */
  uint64_t wd = notify_watchdog_usec(), every = PROGRESS_EVERY_MS;
  m.watchdog_on = wd != 0;
  if (wd && wd / 2000 < every) every = wd / 2000 ? wd / 2000 : 1;
  cm__on_watchdog(&m.watchdog);
  uv_timer_start(&m.watchdog, cm__on_watchdog, every, every);

  r = uv_run(app->loop, UV_RUN_DEFAULT);
  flog_notice("stopped: %llu batches (%llu events accepted, %llu duplicates, %llu rejected)",
              (unsigned long long)app->stats.batches, (unsigned long long)app->stats.accepted,
              (unsigned long long)app->stats.duplicates, (unsigned long long)app->stats.rejected);
  m.exit_code = 0;
out:
  rd_pool_free(app->readers);
  reg_cache_free(app->reg);
  prom_free(app->prom);
  activity_free(app->activity);
  cu_free(app->catchup);
  rl_free(app->rl);
  tls_server_free(app->tls);
  if (app->st) app->st->ops->close(app->st);
  idem_inflight_free(app->idem);
  uv_loop_close(app->loop);
  auth_clear(&app->auth);
  col_config_clear(&cfg);
  return m.exit_code;
}
