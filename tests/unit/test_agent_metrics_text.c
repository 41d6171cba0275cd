/* test_agent_metrics_text: /metrics is well-formed Prometheus text 0.0.4
 * (HELP/TYPE before samples, counters end in _total, label values escaped,
 * every value a number, no series twice), carries the metrics the SPEC names,
 * and /v1/status has exactly the SPEC's fields. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "status.h"

#define MAX_SERIES 256

static bool name_char(char c, bool first) {
  return isalpha((unsigned char)c) || c == '_' || c == ':' || (!first && isdigit((unsigned char)c));
}

/* Check one exposition; returns the number of problems (each printed). */
static int lint(const char *text, char series[][160], int *ret_nseries) {
  char typed[64][80];
  char types[64][16];
  int ntyped = 0, problems = 0, nseries = 0;
  const char *p = text;
  int lineno = 0;
  while (*p) {
    const char *nl = strchr(p, '\n');
    if (!nl) {
      fprintf(stderr, "no final newline\n");
      return problems + 1;
    }
    char line[512];
    size_t len = (size_t)(nl - p);
    if (len >= sizeof(line)) {
      fprintf(stderr, "line %d too long\n", lineno);
      return problems + 1;
    }
    memcpy(line, p, len);
    line[len] = '\0';
    p = nl + 1;
    lineno++;
    if (strncmp(line, "# HELP ", 7) == 0) continue;
    if (strncmp(line, "# TYPE ", 7) == 0) {
      char name[80], type[16];
      if (sscanf(line + 7, "%79s %15s", name, type) != 2 ||
          (strcmp(type, "counter") && strcmp(type, "gauge"))) {
        fprintf(stderr, "bad TYPE line: %s\n", line);
        problems++;
        continue;
      }
      size_t nl2 = strlen(name);
      if (strcmp(type, "counter") == 0 && (nl2 < 6 || strcmp(name + nl2 - 6, "_total") != 0)) {
        fprintf(stderr, "counter without _total: %s\n", name);
        problems++;
      }
      for (int i = 0; i < ntyped; i++)
        if (strcmp(typed[i], name) == 0) {
          fprintf(stderr, "TYPE twice: %s\n", name);
          problems++;
        }
      if (ntyped < 64) {
        snprintf(typed[ntyped], sizeof(typed[0]), "%s", name);
        snprintf(types[ntyped], sizeof(types[0]), "%s", type);
        ntyped++;
      }
      continue;
    }
    if (line[0] == '#' || line[0] == '\0') {
      fprintf(stderr, "unexpected line: '%s'\n", line);
      problems++;
      continue;
    }
    /* sample: name{k="v",...} value */
    size_t i = 0;
    while (line[i] && name_char(line[i], i == 0)) i++;
    char name[80];
    snprintf(name, sizeof(name), "%.*s", (int)i, line);
    if (i == 0) {
      fprintf(stderr, "sample without a name: %s\n", line);
      problems++;
      continue;
    }
    if (line[i] == '{') {
      i++;
      for (;;) {
        size_t k0 = i;
        while (line[i] && name_char(line[i], i == k0)) i++;
        if (i == k0 || line[i] != '=' || line[i + 1] != '"') {
          fprintf(stderr, "bad label in: %s\n", line);
          problems++;
          break;
        }
        i += 2;
        while (line[i] && line[i] != '"') {
          if (line[i] == '\\') {
            if (line[i + 1] != '\\' && line[i + 1] != '"' && line[i + 1] != 'n') {
              fprintf(stderr, "bad escape in: %s\n", line);
              problems++;
            }
            i++;
          }
          i++;
        }
        if (line[i] != '"') {
          fprintf(stderr, "unterminated label value: %s\n", line);
          problems++;
          break;
        }
        i++;
        if (line[i] == ',') {
          i++;
          continue;
        }
        if (line[i] == '}') {
          i++;
          break;
        }
        fprintf(stderr, "bad label list: %s\n", line);
        problems++;
        break;
      }
    }
    if (line[i] != ' ') {
      fprintf(stderr, "no space before value: %s\n", line);
      problems++;
      continue;
    }
    char *end;
    strtod(line + i + 1, &end);
    if (end == line + i + 1 || *end != '\0') {
      fprintf(stderr, "bad value: %s\n", line);
      problems++;
    }
    bool found = false;
    for (int t = 0; t < ntyped; t++) found |= strcmp(typed[t], name) == 0;
    if (!found) {
      fprintf(stderr, "sample before its TYPE: %s\n", name);
      problems++;
    }
    char key[160];
    snprintf(key, sizeof(key), "%.*s", (int)i, line);
    for (int s = 0; s < nseries; s++)
      if (strcmp(series[s], key) == 0) {
        fprintf(stderr, "series twice: %s\n", key);
        problems++;
      }
    if (nseries < MAX_SERIES) snprintf(series[nseries++], 160, "%s", key);
  }
  *ret_nseries = nseries;
  return problems;
}

static bool has_series(char series[][160], int n, const char *key) {
  for (int i = 0; i < n; i++)
    if (strcmp(series[i], key) == 0) return true;
  return false;
}

static const char *sample_value(const char *text, const char *key) {
  static char v[64];
  size_t kl = strlen(key);
  for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
    if (strncmp(p, key, kl) == 0 && p[kl] == ' ') {
      size_t n = strcspn(p + kl + 1, "\n");
      snprintf(v, sizeof(v), "%.*s", (int)n, p + kl + 1);
      return v;
    }
  }
  return NULL;
}

int main(void) {
  status_snapshot s;
  memset(&s, 0, sizeof(s));
  s.agent_id = "line-3.box_7";
  s.version = "0.1.0 \"weird\\\n";
  s.now_ms = 1772352000000LL; /* 2026-03-01T08:00:00Z */
  snprintf(s.js.epoch, sizeof(s.js.epoch), "0123456789abcdef");
  s.js.next_seq = 1001;
  s.js.acked_seq = 900;
  s.js.backlog = 100;
  s.js.oldest_ingested_at_ms = s.now_ms - 12500; /* 12.5 s old */
  s.js.journal_bytes = 409600;
  s.js.wal_bytes = 8192;
  s.js.dropped_total = 7;
  s.js.dead_letter = 2;
  s.js.quarantined = 1;
  s.js.writable = true;
  s.ic.accepted = 1000;
  s.ic.duplicates = 5;
  s.ic.rejected_events = 3;
  s.ic.rejected_requests = 1;
  s.us.state = UP_STATE_RETRYING;
  s.us.consecutive_failures = 4;
  s.us.uploaded_events = 900;
  s.us.failures[UP_FAIL_RETRYING] = 4;
  s.us.failures[UP_FAIL_UNREACHABLE] = 1;
  s.us.retry_delay_s = 3.25;
  s.us.next_retry_in_s = 1.5;
  s.us.last_success_ms = s.now_ms - 60000;
  s.us.batch_limit = 1000;

  static char buf[STATUS_METRICS_MAX];
  int n = status_metrics_text(&s, buf, sizeof(buf));
  CHECK(n > 0);
  if (n <= 0) return check_finish("test_agent_metrics_text");
  CHECK_EQ_INT((int)strlen(buf), n);

  static char series[MAX_SERIES][160];
  int nseries = 0;
  CHECK_EQ_INT(lint(buf, series, &nseries), 0);

  const char *required[] = {
      "ferry_agent_events_ingested_total",
      "ferry_agent_events_duplicates_total",
      "ferry_agent_events_rejected_total",
      "ferry_agent_uploaded_events_total",
      "ferry_agent_backlog_events",
      "ferry_agent_oldest_pending_seconds",
      "ferry_agent_journal_bytes",
      "ferry_agent_wal_bytes",
      "ferry_agent_dropped_events_total",
      "ferry_agent_dead_letter_events",
      "ferry_agent_retry_delay_seconds",
      "ferry_agent_journal_quarantined_total",
      "ferry_agent_upload_failures_total{class=\"unreachable\"}",
      "ferry_agent_upload_failures_total{class=\"retrying\"}",
      "ferry_agent_upload_failures_total{class=\"auth_error\"}",
      "ferry_agent_upload_failures_total{class=\"config_error\"}",
      "ferry_agent_upload_failures_total{class=\"rejected\"}",
      "ferry_agent_collector_state{state=\"ok\"}",
      "ferry_agent_collector_state{state=\"retrying\"}",
      "ferry_agent_collector_state{state=\"auth_error\"}",
      "ferry_agent_collector_state{state=\"config_error\"}",
      "ferry_agent_collector_state{state=\"unreachable\"}",
  };
  for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
    bool ok = has_series(series, nseries, required[i]);
    if (!ok) fprintf(stderr, "missing series %s\n", required[i]);
    CHECK(ok);
  }
  CHECK_EQ_STR(sample_value(buf, "ferry_agent_events_ingested_total"), "1000");
  CHECK_EQ_STR(sample_value(buf, "ferry_agent_backlog_events"), "100");
  CHECK_EQ_STR(sample_value(buf, "ferry_agent_oldest_pending_seconds"), "12.500");
  CHECK_EQ_STR(sample_value(buf, "ferry_agent_retry_delay_seconds"), "3.250");
  CHECK_EQ_STR(sample_value(buf, "ferry_agent_collector_state{state=\"retrying\"}"), "1");
  CHECK_EQ_STR(sample_value(buf, "ferry_agent_collector_state{state=\"ok\"}"), "0");
  CHECK_EQ_STR(sample_value(buf, "ferry_agent_upload_failures_total{class=\"retrying\"}"), "4");
  CHECK_EQ_STR(sample_value(buf, "ferry_agent_dropped_events_total"), "7");
  /* the odd version string is escaped, not breaking the line */
  CHECK(strstr(buf, "version=\"0.1.0 \\\"weird\\\\\\n\"") != NULL);

  /* too small a buffer fails cleanly */
  char small[100];
  CHECK_EQ_INT(status_metrics_text(&s, small, sizeof(small)), -ENOSPC);
  CHECK_EQ_INT(status_metrics_text(&s, small, 0), -ENOSPC);

  /* no backlog → age 0 */
  status_snapshot e = s;
  e.js.backlog = 0;
  CHECK(status_oldest_pending_s(&e) == 0);
  e.js.backlog = 1;
  e.js.oldest_ingested_at_ms = e.now_ms + 5000; /* clock stepped back */
  CHECK(status_oldest_pending_s(&e) == 0);

  /* /v1/status */
  cJSON *o = status_json(&s);
  CHECK(o != NULL);
  const char *fields[] = {"agent_id",      "epoch",       "backlog",  "oldest_pending_s",
                          "journal_bytes", "wal_bytes",   "next_seq", "acked_seq",
                          "dropped",       "dead_letter", "collector"};
  for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
    CHECK(cJSON_GetObjectItemCaseSensitive(o, fields[i]) != NULL);
  CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "epoch")), "0123456789abcdef");
  CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "oldest_pending_s")) == 12.5);
  CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "next_seq")), 1001);
  CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "acked_seq")), 900);
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "collector");
  CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "state")), "retrying");
  CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "consecutive_failures")), 4);
  CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "last_success")),
               "2026-03-01T07:59:00.000Z");
  CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "next_retry_in_s")) == 1.5);
  cJSON_Delete(o);
  s.us.last_success_ms = 0;
  o = status_json(&s);
  c = cJSON_GetObjectItemCaseSensitive(o, "collector");
  CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(c, "last_success")));
  cJSON_Delete(o);

  return check_finish("test_agent_metrics_text");
}
