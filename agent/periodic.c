/* periodic: the agent's loop-timer chores — the systemd STATUS= line and the
 * progress check that decides whether the watchdog is fed. Split from main.c
 * to keep it short; works on main's app (main_int.h). */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "main_int.h"
#include "notify.h"
#include "stall.h"
#include "timefmt.h"

/* ---- periodic ------------------------------------------------------------ */

void agent__on_status_timer(uv_timer_t *t) {
  app *a = t->data;
  status_snapshot s;
  status_take(&a->src, &s);
  char line[200];
  if (a->stalled[0]) snprintf(line, sizeof(line), "STALLED: %.180s", a->stalled);
  else
    snprintf(line, sizeof(line), "collector %s; backlog %lld events; dead-letter %lld",
             up_state_name(s.us.state), (long long)s.js.backlog, (long long)s.js.dead_letter);
  if (strcmp(line, a->last_status) != 0) {
    notify_status("%s", line);
    snprintf(a->last_status, sizeof(a->last_status), "%s", line);
  }
}

/* Progress, as the watchdog sees it. The agent is progressing unless
 *  - commit requests wait in the journal queue and no group commit finishes,
 *  - the journal failed a write and no write has succeeded since, or
 *  - events wait in the backlog and no upload attempt finishes (whatever its
 *    outcome: a collector that is down or refuses us is not our fault and a
 *    restart would not help; attempts still finish, at the retry pace),
 * for longer than --watchdog-stall-s (uploads: plus the longest a healthy
 * uploader waits between two attempts, retry-max + 10 % and the request
 * timeout). An idle agent with an empty backlog is progressing. */
static bool progressing(app *a, char *why, size_t len) {
  uint64_t now = tf_mono_ms();
  uint64_t limit = (uint64_t)(a->cfg.watchdog_stall_s * 1000.0);
  journal_stats js;
  journal_get_stats(a->j, &js);
  uint64_t d = stall_observe(&a->st_commit, js.queued > 0, (uint64_t)js.commit_groups, now);
  if (d > limit) {
    snprintf(why, len, "journal: %lld commit request(s) waiting, no commit for %llu s", (long long)js.queued,
             (unsigned long long)(d / 1000));
    return false;
  }
  d = stall_observe(&a->st_unwritable, !js.writable, 0, now);
  if (d > limit) {
    snprintf(why, len, "journal unwritable for %llu s (%s)", (unsigned long long)(d / 1000),
             js.unwritable_reason);
    return false;
  }
  if (a->up) {
    uploader_stats us;
    uploader_get_stats(a->up, &us);
    uint64_t attempts = us.uploads_ok;
    for (int i = 0; i < UP_FAIL_COUNT_; i++) attempts += us.failures[i];
    attempts += (uint64_t)js.acked_seq;
    d = stall_observe(&a->st_upload, js.backlog > 0, attempts, now);
    uint64_t ulimit = limit + (uint64_t)((a->cfg.retry_max * 1.1 + a->cfg.request_timeout) * 1000.0);
    if (d > ulimit) {
      snprintf(why, len, "uploads: %lld events waiting, no upload attempt finished for %llu s",
               (long long)js.backlog, (unsigned long long)(d / 1000));
      return false;
    }
  }
  return true;
}

void agent__on_watchdog(uv_timer_t *t) {
  app *a = t->data;
  if (a->stopping) return;
  char why[sizeof(a->stalled)];
  if (progressing(a, why, sizeof(why))) {
    if (a->stalled[0]) {
      flog_notice("progressing again (was: %s)%s", a->stalled,
                  a->watchdog_on ? "; pinging the watchdog again" : "");
      a->stalled[0] = '\0';
      agent__on_status_timer(&a->status_timer);
    }
    if (a->watchdog_on) (void)notify_watchdog();
    return;
  }
  if (!a->stalled[0]) {
    flog_err("stalled: %s%s", why,
             a->watchdog_on ? "; no longer pinging the watchdog, systemd will restart the agent" : "");
    snprintf(a->stalled, sizeof(a->stalled), "%s", why);
    agent__on_status_timer(&a->status_timer);
  } else {
    snprintf(a->stalled, sizeof(a->stalled), "%s", why);
  }
}
