/* activity: refusal logging with rate limits, the per-interval summary and
 * per-agent rejection reasons (see activity.h). */
#include "activity.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "prom_text.h"
#include "timefmt.h"

typedef struct act_reason {
  char code[48];
  uint64_t n;
} act_reason;

typedef struct act_agent {
  char id[65];
  act_reason reasons[ACT_MAX_REASONS];
  uint64_t rejected;
  int64_t last_seq;
  char last_error[160];
  int64_t last_at_ms;
  int64_t backlog; /* latest reported, -1 unknown */
  bool seen;       /* in this interval */
} act_agent;

struct activity {
  act_agent *agents;
  size_t n;
  /* this interval */
  uint64_t batches, accepted, duplicates, rejected, refused;
  unsigned logged; /* refusal lines logged */
  uint64_t held_rejected, held_refused;
  char held_example[200];
  uint64_t since_ms; /* monotonic start of this interval */
};

activity *activity_new(void) {
  activity *a = calloc(1, sizeof *a);
  if (!a) return NULL;
  a->agents = calloc(ACT_MAX_AGENTS + 1, sizeof *a->agents);
  if (!a->agents) {
    free(a);
    return NULL;
  }
  a->since_ms = tf_mono_ms();
  return a;
}

void activity_free(activity *a) {
  if (!a) return;
  free(a->agents);
  free(a);
}

static act_agent *act__find(const activity *a, const char *id) {
  for (size_t i = 0; i < a->n; i++)
    if (strcmp(a->agents[i].id, id) == 0) return &a->agents[i];
  return NULL;
}

static act_agent *act__get(activity *a, const char *id) {
  act_agent *g = act__find(a, id);
  if (g) return g;
  if (a->n >= ACT_MAX_AGENTS) {
    g = &a->agents[ACT_MAX_AGENTS]; /* the overflow entry */
    if (!g->id[0]) snprintf(g->id, sizeof g->id, "other");
    return g;
  }
  g = &a->agents[a->n++];
  snprintf(g->id, sizeof g->id, "%s", id);
  g->backlog = -1;
  return g;
}

static void act__count_reason(act_agent *g, const char *error) {
  char code[48];
  size_t len = strcspn(error, ":");
  snprintf(code, sizeof code, "%.*s", (int)(len < sizeof code ? len : sizeof code - 1), error);
  for (int i = 0; i < ACT_MAX_REASONS; i++) {
    act_reason *r = &g->reasons[i];
    if (!r->code[0]) { snprintf(r->code, sizeof r->code, "%s", i == ACT_MAX_REASONS - 1 ? "other" : code); }
    if (strcmp(r->code, code) == 0 || i == ACT_MAX_REASONS - 1) {
      r->n++;
      return;
    }
  }
}

void activity_batch(activity *a, const char *agent_id, const char *request_id, const char *client,
                    uint64_t accepted, uint64_t duplicates, int64_t backlog, size_t n_rejected,
                    const int64_t *rej_seq, const char *const *rej_error) {
  act_agent *g = act__get(a, agent_id);
  g->seen = true;
  if (backlog >= 0) g->backlog = backlog;
  a->batches++;
  a->accepted += accepted;
  a->duplicates += duplicates;
  if (!n_rejected) return;
  a->rejected += n_rejected;
  g->rejected += n_rejected;
  for (size_t i = 0; i < n_rejected; i++) act__count_reason(g, rej_error[i]);
  g->last_seq = rej_seq[0];
  snprintf(g->last_error, sizeof g->last_error, "%s", rej_error[0]);
  g->last_at_ms = tf_now_ms();
  flog_ctx ctx = {.component = "ingest",
                  .agent_id = agent_id,
                  .request_id = request_id,
                  .client = client && *client ? client : NULL,
                  .first_seq = rej_seq[0],
                  .events = (int64_t)n_rejected,
                  .has_events = true,
                  .error = rej_error[0]};
  if (a->logged < ACT_LOG_BURST) {
    a->logged++;
    flogx(FLOG_WARNING, &ctx,
          "ingest: rejected %zu event(s) of %s (first: seq %lld, %s); the agent moves them to its "
          "dead-letter%s",
          n_rejected, agent_id, (long long)rej_seq[0], rej_error[0],
          strcmp(rej_error[0], "timestamp_out_of_range") == 0
              ? " - check the clock of that box and its cameras (see --max-future-s)"
              : "");
  } else {
    a->held_rejected += n_rejected;
    snprintf(a->held_example, sizeof a->held_example, "%s seq %lld: %s", agent_id, (long long)rej_seq[0],
             rej_error[0]);
  }
}

void activity_refused(activity *a, unsigned status, const char *code, const char *msg, const char *client,
                      const char *agent_id, const char *request_id) {
  a->refused++;
  if (agent_id) act__get(a, agent_id)->seen = true;
  if (a->logged >= ACT_LOG_BURST) {
    a->held_refused++;
    return;
  }
  a->logged++;
  bool auth = status == 401 || status == 403;
  flog_ctx ctx = {.component = auth ? "auth" : "ingest",
                  .agent_id = agent_id,
                  .request_id = request_id,
                  .client = client && *client ? client : NULL,
                  .status = (int)status,
                  .error = code};
  const char *what = status == 401   ? "refused a token"
                     : status == 403 ? "refused a token for this request"
                                     : "ingest: refused a batch";
  flogx(auth ? FLOG_WARNING : FLOG_NOTICE, &ctx, "%s (%u %s) from %s%s%s: %s", what, status, code,
        client && *client ? client : "a local socket", agent_id ? " claiming agent " : "",
        agent_id ? agent_id : "", msg);
}

void activity_tick(activity *a) {
  if (!a) return;
  uint64_t now = tf_mono_ms();
  double interval_s = (double)(now - a->since_ms) / 1000.0;
  a->since_ms = now;
  if (a->held_rejected || a->held_refused) {
    flog_warn("ingest: in the last %.0f s also %llu event(s) rejected and %llu request(s) refused that "
              "were not logged one by one%s%s",
              interval_s, (unsigned long long)a->held_rejected, (unsigned long long)a->held_refused,
              a->held_example[0] ? "; latest rejection: " : "", a->held_example);
  }
  size_t seen = 0;
  int64_t backlog = 0;
  for (size_t i = 0; i <= ACT_MAX_AGENTS && i < a->n; i++) {
    if (!a->agents[i].seen) continue;
    seen++;
    if (a->agents[i].backlog > 0) backlog += a->agents[i].backlog;
    a->agents[i].seen = false;
  }
  if (a->batches || a->refused) {
    flog_ctx ctx = {.component = "summary", .events = (int64_t)a->accepted, .has_events = true};
    flogx(FLOG_INFO, &ctx,
          "last %.0f s: %llu batches, %llu events accepted, %llu duplicates, %llu rejected, %llu requests "
          "refused; %zu agent(s) seen, backlog %lld event(s) at the agents",
          interval_s, (unsigned long long)a->batches, (unsigned long long)a->accepted,
          (unsigned long long)a->duplicates, (unsigned long long)a->rejected, (unsigned long long)a->refused,
          seen, (long long)backlog);
  }
  a->batches = a->accepted = a->duplicates = a->rejected = a->refused = 0;
  a->logged = 0;
  a->held_rejected = a->held_refused = 0;
  a->held_example[0] = '\0';
}

void activity_agent_json(const activity *a, const char *agent_id, cJSON *o) {
  const act_agent *g = a ? act__find(a, agent_id) : NULL;
  cJSON *r = cJSON_AddObjectToObject(o, "rejected_by_reason");
  if (g && r)
    for (int i = 0; i < ACT_MAX_REASONS && g->reasons[i].code[0]; i++)
      cJSON_AddNumberToObject(r, g->reasons[i].code, (double)g->reasons[i].n);
  if (!g || !g->rejected) {
    cJSON_AddNullToObject(o, "last_rejected");
    return;
  }
  cJSON *l = cJSON_AddObjectToObject(o, "last_rejected");
  if (!l) return;
  char at[TF_RFC3339_LEN];
  tf_format_ms(g->last_at_ms, at);
  cJSON_AddNumberToObject(l, "seq", (double)g->last_seq);
  cJSON_AddStringToObject(l, "error", g->last_error);
  cJSON_AddStringToObject(l, "at", at);
}

void activity_prom(const activity *a, strbuf *b) {
  static const char *const name = "ferry_collector_events_rejected_by_reason_total";
  pt_head(b, name, "counter",
          "Events the collector rejected (moved to the agent's dead-letter), by agent and reason, since the "
          "collector started.");
  for (size_t i = 0; a && i < a->n; i++) {
    const act_agent *g = &a->agents[i];
    for (int k = 0; k < ACT_MAX_REASONS && g->reasons[k].code[0]; k++)
      pt_sample_u64(b, name, (pt_label[]){{"agent", g->id}, {"reason", g->reasons[k].code}}, 2,
                    g->reasons[k].n);
  }
}
