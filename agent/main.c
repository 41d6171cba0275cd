/* ferry-agent: the daemon beside an inference box. main wires the modules
 * together on one libuv loop — options, the journal (its own thread), the
 * local HTTP API (ingest, status, dead-letter), the uploader — and owns the
 * process's life: readiness, signals, and a shutdown that answers every
 * request it already took within 5 s. It also hosts the `dead-letter` CLI.
 * Under systemd (Type=notify) it reports READY=1, STATUS= lines, reloads on
 * SIGHUP (reload.c) and pings the watchdog only while the pipeline makes
 * progress (periodic.c); the app struct they share is in main_int.h. */
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "secret_file.h"
#include "config.h"
#include "dead_letter.h"
#include "footprint.h"
#include "httpd.h"
#include "httpd_route.h"
#include "ingest.h"
#include "journal.h"
#include "json_arena.h"
#include "log.h"
#include "main_int.h"
#include "pathcheck.h"
#include "looplag.h"
#include "mapping.h"
#include "mqtt.h"
#include <mosquitto.h>
#include "notify.h"
#include "sizes.h"
#include "stall.h"
#include "timefmt.h"
#include "status.h"
#include "uploader.h"
#include "version.h"
#include "version_info.h"

#define SHUTDOWN_BUDGET_MS 4500  /* everything done within 5 s of the signal */
#define FLUSH_GRACE_MS     200   /* let the last answers leave before closing sockets */
#define STATUS_EVERY_MS    15000 /* STATUS= line refresh */
#define MACHINE_ID_MAX     128
#define PROGRESS_EVERY_MS  5000 /* progress check when no watchdog asks for more often */

static void close_handle(uv_handle_t *h) {
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* ---- HTTP routing --------------------------------------------------------- */

typedef enum { R_EVENTS, R_HEALTHZ, R_READYZ, R_STATUS, R_METRICS, R_DL } route_t;

static const httpd_route routes[] = {
    {R_EVENTS, "/v1/events", NULL, "POST", 0},
    {R_HEALTHZ, "/healthz", NULL, "GET", 0},
    {R_READYZ, "/readyz", NULL, "GET", 0},
    {R_STATUS, "/v1/status", NULL, "GET", 0},
    {R_METRICS, "/metrics", NULL, "GET", 0},
    {R_DL, NULL, dl_api_owns, NULL, 0}, /* dead_letter.c checks its methods */
};
#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

static httpd_verdict on_headers(httpd_req *req, void *ud) {
  app *a = ud;
  const char *m = httpd_req_method(req);
  const httpd_route *r = httpd_route_find(routes, N_ROUTES, httpd_req_path(req));
  if (!r) {
    httpd_respond_error(req, 404, "not_found", "no such endpoint: %.200s", httpd_req_path(req));
    return HTTPD_ANSWERED;
  }
  if (!httpd_route_method_ok(r, m)) {
    httpd_req_add_header(req, "Allow", httpd_route_allow(r));
    if (r->id == R_EVENTS)
      httpd_respond_error(req, 405, "method_not_allowed", "%.16s /v1/events: use POST", m);
    else httpd_respond_error(req, 405, "method_not_allowed", "%.16s %.200s: use GET", m, httpd_req_path(req));
    return HTTPD_ANSWERED;
  }
  switch ((route_t)r->id) {
    case R_EVENTS: return ingest_on_headers(a->in, req);
    case R_DL: return dl_api_on_headers(a->dl, req);
    default: return HTTPD_READ_BODY;
  }
}

static void on_request(httpd_req *req, void *ud) {
  app *a = ud;
  const httpd_route *r = httpd_route_find(routes, N_ROUTES, httpd_req_path(req));
  if (!r) {
    httpd_respond_error(req, 404, "not_found", "no such endpoint");
    return;
  }
  switch ((route_t)r->id) {
    case R_EVENTS: ingest_on_request(a->in, req); break;
    case R_HEALTHZ: status_healthz(req); break;
    case R_READYZ: status_readyz(&a->src, req); break;
    case R_STATUS: status_v1(&a->src, req); break;
    case R_METRICS: status_metrics(&a->src, req); break;
    case R_DL: dl_api_on_request(a->dl, req); break;
  }
}

/* ---- glue callbacks ----------------------------------------------------- */

static void kick_uploader(void *ud) {
  app *a = ud;
  if (a->up && !a->stopping) uploader_kick(a->up);
}

/* The collector's --max-future-s once it told us (ingest answers carry it),
 * else our own --max-future-s. */
static double ingest_max_future_s(void *ud) {
  app *a = ud;
  if (a->up) {
    uploader_stats st;
    uploader_get_stats(a->up, &st);
    if (st.collector_max_future_s >= 0) return (double)st.collector_max_future_s;
  }
  return a->cfg.max_future_s;
}

static void check_stopped(app *a);

static void on_ingest_drained(void *ud) {
  app *a = ud;
  a->ingest_drained = true;
  check_stopped(a);
}

static void on_dl_drained(void *ud) {
  app *a = ud;
  a->dl_drained = true;
  check_stopped(a);
}

static void on_uploader_stopped(void *ud) {
  app *a = ud;
  a->up = NULL;
  a->src.up = NULL;
  a->uploader_stopped = true;
  check_stopped(a);
}

/* ---- shutdown ------------------------------------------------------------ */

static void finish(app *a) {
  if (a->closed) return;
  a->closed = true;
  mqtt_source_stop(a->mq); /* unacknowledged messages stay with the broker */
  a->mq = NULL;
  a->src.mq = NULL;
  journal_close(a->j); /* final commit + checkpoint; blocking is fine now */
  a->j = NULL;
  close_handle((uv_handle_t *)&a->sig_term);
  close_handle((uv_handle_t *)&a->sig_int);
  close_handle((uv_handle_t *)&a->sig_hup);
  close_handle((uv_handle_t *)&a->guard);
  close_handle((uv_handle_t *)&a->flush);
  close_handle((uv_handle_t *)&a->status_timer);
  close_handle((uv_handle_t *)&a->watchdog);
  looplag_close(&a->lag);
  flog_notice("stopped");
}

static void on_httpd_closed(void *arg) {
  app *a = arg;
  a->h = NULL;
  finish(a);
}

static void on_flush_done(uv_timer_t *t) {
  app *a = t->data;
  if (a->h) httpd_close(a->h, on_httpd_closed, a);
  else finish(a);
}

static void check_stopped(app *a) {
  if (!a->stopping || a->flushing) return;
  if (!a->ingest_drained || !a->dl_drained || !a->uploader_stopped) return;
  a->flushing = true;
  /* every request has its answer queued; give the sockets a moment to carry
   * them out before the server closes its connections */
  uv_timer_start(&a->flush, on_flush_done, FLUSH_GRACE_MS, 0);
}

static void on_guard(uv_timer_t *t) {
  app *a = t->data;
  flog_warn("shutdown: still waiting after %d ms (ingest %s, dead-letter %s, uploader %s); "
            "closing now — the journal keeps every committed event",
            SHUTDOWN_BUDGET_MS, a->ingest_drained ? "done" : "busy", a->dl_drained ? "done" : "busy",
            a->uploader_stopped ? "stopped" : "busy");
  if (a->h) {
    httpd *h = a->h;
    a->h = NULL;
    httpd_close(h, NULL, NULL);
  }
  if (a->j) journal_close(a->j);
  a->j = NULL;
  exit(0);
}

static void begin_stop(app *a, const char *why) {
  a->stopping = true;
  flog_notice("%s: stopping (answering requests in progress, then closing the journal)", why);
  notify_stopping();
  uv_timer_start(&a->guard, on_guard, SHUTDOWN_BUDGET_MS, 0);
  uv_timer_stop(&a->status_timer);
  if (a->h) httpd_stop_listening(a->h);
  ingest_stop(a->in);
  dl_api_stop(a->dl);
  if (a->up) uploader_stop(a->up, on_uploader_stopped, a);
  else a->uploader_stopped = true;
  check_stopped(a);
}

static void on_signal(uv_signal_t *s, int signum) {
  app *a = s->data;
  if (signum == SIGHUP) {
    if (!a->stopping) agent__reload(a);
    return;
  }
  if (a->stopping) {
    flog_warn("%s again: exiting at once", strsignal(signum));
    _exit(1);
  }
  begin_stop(a, strsignal(signum));
}

/* ---- start --------------------------------------------------------------- */

/* /etc/machine-id or NULL when there is none (containers, other systems). */
static char *read_machine_id(const char *path) {
  if (!path || !*path) return NULL;
  FILE *f = fopen(path, "re");
  if (!f) return NULL;
  char buf[MACHINE_ID_MAX];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  size_t len = strcspn(buf, " \t\r\n");
  buf[len] = '\0';
  return len ? strdup(buf) : NULL;
}

static int start_mqtt(app *a, char *err, size_t errlen) {
  agent_config *c = &a->cfg;
  mapping *m = NULL;
  char *password = NULL;
  int r;
  if (c->mapping && (r = mapping_load_file(c->mapping, &m, err, errlen)) < 0) return r;
  if (c->mqtt_password_file) {
    bool others = false;
    char e2[200];
    r = secret_file_read(c->mqtt_password_file, AGENT_TOKEN_MAX, &password, &others, e2, sizeof(e2));
    if (r < 0) {
      snprintf(err, errlen, "mqtt_password_file: %s", e2);
      mapping_free(m);
      return -EINVAL;
    }
    if (others)
      flog_warn("mqtt_password_file: %s is readable by others; chmod o-r it", c->mqtt_password_file);
  }
  mqtt_config mc = {.loop = a->loop,
                    .j = a->j,
                    .host = c->mqtt_host,
                    .port = c->mqtt_port,
                    .tls = c->mqtt_tls,
                    .mqtt5 = c->mqtt_protocol == AGENT_MQTT_V5,
                    .ca_file = c->mqtt_ca_file,
                    .client_id = c->mqtt_client_id,
                    .username = c->mqtt_username,
                    .password = password,
                    .topics = c->mqtt_topic,
                    .map = m,
                    .max_ferry_bytes = (size_t)c->max_body_bytes,
                    .retry_initial_s = c->retry_initial,
                    .retry_max_s = c->retry_max,
                    .on_committed = kick_uploader,
                    .ud = a};
  r = mqtt_source_start(&mc, &a->mq, err, errlen);
  if (password) explicit_bzero(password, strlen(password));
  free(password);
  if (r < 0) mapping_free(m);
  else
    flog_notice("mqtt: subscribing to %s on %s://%s:%d (mapping %s)", c->mqtt_topic,
                c->mqtt_tls ? "mqtts" : "mqtt", c->mqtt_host, c->mqtt_port, c->mapping ? c->mapping : "none");
  return r;
}

static int run_daemon(app *a) {
  agent_config *c = &a->cfg;
  char err[256];
  int r;

  a->machine_id = read_machine_id(c->machine_id_file);
  if (!a->machine_id) flog_info("no machine id in %s; the journal records none", c->machine_id_file);

  a->loop = uv_default_loop();
  journal_opts jo = {
      .path = c->journal,
      .agent_id = c->agent_id,
      .site = c->site,
      .machine_id = a->machine_id,
      .durability_fsync = c->durability == AGENT_DURABILITY_FSYNC,
      .max_journal_bytes = c->max_journal_bytes,
      .max_wal_bytes = c->max_wal_bytes,
      .max_dead_letter_bytes = c->max_dead_letter_bytes,
      .overflow_reject = c->overflow == AGENT_OVERFLOW_REJECT,
      .dedup_max_bytes = c->dedup_max_bytes,
  };
  err[0] = '\0';
  r = journal_open(a->loop, &jo, &a->j, err, sizeof(err));
  if (r == -EPROTO) {
    flog_err("journal %s: %s", c->journal, err);
    return 3;
  }
  if (r < 0) {
    flog_err("journal %s: %s", c->journal, err[0] ? err : strerror(-r));
    return 1;
  }
  journal_stats js;
  journal_get_stats(a->j, &js);
  if (js.quarantined)
    flog_err("journal: the previous journal was moved to quarantine/ (%s); a new epoch %s "
             "starts — events it still held must be recovered by hand",
             js.quarantine_reason, js.epoch);
  flog_info("journal %s: epoch %s, next seq %lld, backlog %lld", c->journal, js.epoch, (long long)js.next_seq,
            (long long)js.backlog);

  ingest_config ic = {.loop = a->loop,
                      .j = a->j,
                      .ingest_token = c->ingest_token,
                      .on_committed = kick_uploader,
                      .on_drained = on_ingest_drained,
                      .max_future_s = ingest_max_future_s,
                      .ud = a};
  dl_api_config dc = {.j = a->j,
                      .token = c->ingest_token,
                      .export_max_bytes = size_from_i64(c->max_dead_letter_bytes * 2 + (1 << 20)),
                      .on_requeued = kick_uploader,
                      .on_drained = on_dl_drained,
                      .ud = a};
  if (ingest_new(&ic, &a->in) < 0 || dl_api_new(&dc, &a->dl) < 0) {
    flog_err("out of memory");
    journal_close(a->j);
    return 1;
  }
  a->src = (status_sources){.j = a->j, .in = a->in, .agent_id = c->agent_id};

  uv_signal_init(a->loop, &a->sig_term);
  uv_signal_init(a->loop, &a->sig_int);
  uv_signal_init(a->loop, &a->sig_hup);
  a->sig_term.data = a->sig_int.data = a->sig_hup.data = a;
  uv_signal_start(&a->sig_term, on_signal, SIGTERM);
  uv_signal_start(&a->sig_int, on_signal, SIGINT);
  uv_signal_start(&a->sig_hup, on_signal, SIGHUP);
  uv_timer_init(a->loop, &a->guard);
  uv_timer_init(a->loop, &a->flush);
  uv_timer_init(a->loop, &a->status_timer);
  uv_timer_init(a->loop, &a->watchdog);
  a->guard.data = a->flush.data = a->status_timer.data = a->watchdog.data = a;
  uv_unref((uv_handle_t *)&a->guard);

  httpd_config hc = {.listen = c->listen,
                     .max_body = (size_t)c->max_body_bytes,
                     .max_connections = (unsigned)c->max_connections,
                     .conn_timeout_s = (unsigned)c->conn_timeout_s,
                     .on_headers = on_headers,
                     .on_request = on_request,
                     .ud = a};
  r = httpd_start(a->loop, &hc, &a->h, err, sizeof(err));
  if (r < 0) {
    flog_err("%s", err);
    journal_close(a->j);
    return 1;
  }

  uploader_config uc = agent__uploader_config_of(c);
  r = uploader_start(a->loop, a->j, &uc, &a->up, err, sizeof(err));
  if (r < 0) {
    flog_err("uploader: %s", err);
    httpd_close(a->h, NULL, NULL);
    journal_close(a->j);
    return 1;
  }
  a->src.up = a->up;

  if (c->mqtt_url) {
    r = start_mqtt(a, err, sizeof(err));
    if (r < 0) {
      flog_err("mqtt: %s", err);
      uploader_stop(a->up, NULL, NULL);
      httpd_close(a->h, NULL, NULL);
      journal_close(a->j);
      return r == -EINVAL ? 2 : 1;
    }
    a->src.mq = a->mq;
  }
  if (getenv("FERRY_TEST_HOLD_JOURNAL")) {
    /* test hook: nothing commits (the no-loss tests kill -9 the agent between
     * receipt and commit) */
    flog_warn("FERRY_TEST_HOLD_JOURNAL is set: the journal commits nothing");
    journal_test_hold(a->j, true);
  }

  if (strncmp(c->listen, "unix:", 5) == 0)
    flog_notice("ferry-agent %s: agent %s listening on %s, uploading to %s", FERRY_VERSION, c->agent_id,
                c->listen, c->collector);
  else
    flog_notice("ferry-agent %s: agent %s listening on %s (port %u), uploading to %s", FERRY_VERSION,
                c->agent_id, c->listen, httpd_port(a->h), c->collector);
  notify_ready();
  agent__on_status_timer(&a->status_timer);
  uv_timer_start(&a->status_timer, agent__on_status_timer, STATUS_EVERY_MS, STATUS_EVERY_MS);
  /* the progress check runs with or without a watchdog (a stall is logged
   * either way); with one, at least twice per WatchdogSec= */
  uint64_t wd = notify_watchdog_usec();
  a->watchdog_on = wd != 0;
  uint64_t every = PROGRESS_EVERY_MS;
  if (wd && wd / 2000 < every) every = wd / 2000 ? wd / 2000 : 1;
  agent__on_watchdog(&a->watchdog);
  uv_timer_start(&a->watchdog, agent__on_watchdog, every, every);

  if (looplag_start(a->loop, &a->lag) == 0) a->src.lag = &a->lag;
  uv_run(a->loop, UV_RUN_DEFAULT);
  /* the loop ends once finish() closed the last handles */
  if (uv_loop_close(a->loop) != 0) {
    uv_run(a->loop, UV_RUN_NOWAIT);
    uv_loop_close(a->loop);
  }
  ingest_free(a->in);
  dl_api_free(a->dl);
  return 0;
}

int main(int argc, char **argv) {
  app a;
  memset(&a, 0, sizeof(a));
  opt_cli cli;
  char err[512];
  footprint_apply();
  signal(SIGPIPE, SIG_IGN);
  ja_install(); /* cJSON trees of the ingest parse in per-thread arenas */

  int r = agent_config_load(&a.cfg, argc, argv, &cli, err, sizeof(err));
  if (r < 0) {
    fprintf(stderr, "ferry-agent: %s\n", err);
    agent_config_clear(&a.cfg);
    return 2;
  }
  if (cli.help) {
    opt_print_help(agent_opt_defs, agent_opt_count, "ferry-agent",
                   "store-and-forward of inference events to a ferry collector.\n"
                   "Also: ferry-agent [options] dead-letter export|requeue|purge",
                   stdout);
    agent_config_clear(&a.cfg);
    return 0;
  }
  if (cli.version) {
    ferry_print_version(stdout, "ferry-agent");
    agent_config_clear(&a.cfg);
    return 0;
  }
  if (cli.print_config) {
    opt_print_effective(agent_opt_defs, agent_opt_count, &a.cfg, &cli, "ferry-agent",
                        "Installed as /etc/ferry/agent.jsonc; `systemctl reload ferry-agent` re-reads it.",
                        stdout);
    agent_config_clear(&a.cfg);
    return 0;
  }
  a.argc = argc;
  a.argv = argv;
  flog_set_level(FLOG_ERR + a.cfg.log_level);
  flog_set_format(a.cfg.log_format);
  flog_set_component("agent");

  bool dl_cli = cli.nargs >= 1 && strcmp(cli.args[0], "dead-letter") == 0;
  if (cli.nargs > 0 && !dl_cli) {
    fprintf(stderr, "ferry-agent: unexpected argument \"%s\" (did you mean dead-letter?)\n", cli.args[0]);
    agent_config_clear(&a.cfg);
    return 2;
  }
  if (dl_cli && cli.nargs != 2) {
    fprintf(stderr, "ferry-agent: usage: ferry-agent [options] dead-letter export|requeue|purge\n");
    agent_config_clear(&a.cfg);
    return 2;
  }
  if (!dl_cli && !a.cfg.map_test) {
    for (int i = 0; i < a.cfg.n_warnings; i++) flog_warn("%s", a.cfg.warnings[i]);
    for (int i = 0; i < cli.n_secret_on_cli; i++)
      flog_warn("--%s given on the command line is visible to every user (ps); prefer %s",
                cli.secret_on_cli[i],
                strcmp(cli.secret_on_cli[i], "auth-token") == 0 ? "--auth-token-file or FERRY_AUTH_TOKEN"
                                                                : "the config file or the environment");
  }
  if (a.cfg.map_test) {
    /* --map-test runs nothing: no journal, no network */
    r = agent__run_map_test(&a.cfg);
    agent_config_clear(&a.cfg);
    return r;
  }
  /* the journal's directory must exist and be writable (checked here, not in
   * agent_config_validate, which only looks at the options themselves) */
  if (path_check_db_file("journal", a.cfg.journal, err, sizeof(err)) < 0) {
    fprintf(stderr, "ferry-agent: %s\n", err);
    agent_config_clear(&a.cfg);
    return 2;
  }
  if (a.cfg.mapping && !dl_cli) {
    /* the mapping is part of the configuration: a bad one stops here */
    mapping *m = NULL;
    if (mapping_load_file(a.cfg.mapping, &m, err, sizeof(err)) < 0) {
      fprintf(stderr, "ferry-agent: %s\n", err);
      agent_config_clear(&a.cfg);
      return 2;
    }
    mapping_free(m);
  }
  if (cli.check_config) {
    printf("ferry-agent: configuration ok (agent %s, listen %s, collector %s)\n", a.cfg.agent_id,
           a.cfg.listen, a.cfg.collector);
    agent_config_clear(&a.cfg);
    return 0;
  }
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    fprintf(stderr, "ferry-agent: cannot initialise libcurl\n");
    agent_config_clear(&a.cfg);
    return 1;
  }
  mosquitto_lib_init();
  int rc;
  if (dl_cli) rc = dl_cli_run(&a.cfg, cli.args[1], stdout, stderr);
  else rc = run_daemon(&a);
  curl_global_cleanup();
  mosquitto_lib_cleanup();
  free(a.machine_id);
  agent_config_clear(&a.cfg);
  return rc;
}
