/* main_int: what ferry-agent's main.c shares with the files split from it. */
#ifndef FERRY_AGENT_MAIN_INT_H
#define FERRY_AGENT_MAIN_INT_H

#include <stdbool.h>
#include <uv.h>

#include "config.h"
#include "dead_letter.h"
#include "httpd.h"
#include "ingest.h"
#include "journal.h"
#include "looplag.h"
#include "mqtt.h"
#include "stall.h"
#include "status.h"
#include "uploader.h"

typedef struct app {
  uv_loop_t *loop;
  agent_config cfg;
  char *machine_id;
  journal *j;
  httpd *h;
  ingest *in;
  dl_api *dl;
  uploader *up;
  mqtt_source *mq;
  status_sources src;
  uv_signal_t sig_term, sig_int, sig_hup;
  uv_timer_t guard, flush, status_timer, watchdog;
  bool stopping, ingest_drained, dl_drained, uploader_stopped, flushing, closed;
  char last_status[200];
  int argc; /* the command line, parsed again on SIGHUP */
  char **argv;
  bool watchdog_on; /* systemd asked for WATCHDOG=1 pings */
  stall_track st_commit, st_unwritable, st_upload;
  char stalled[200]; /* why the watchdog is not fed; "" when progressing */
  looplag lag;
} app;

/* map_test.c: the --map-test action; the process exit code (0, 1 or 2). */
int agent__run_map_test(const agent_config *c);

/* reload.c: SIGHUP; the uploader settings an agent_config makes. */
void agent__reload(app *a);
uploader_config agent__uploader_config_of(const agent_config *c);

/* periodic.c: the STATUS= line timer and the watchdog / progress timer. */
void agent__on_status_timer(uv_timer_t *t);
void agent__on_watchdog(uv_timer_t *t);

#endif
