/* ferry-camsim: a simulated factory CCTV inference box.
 *
 * N workers at M workstations alternate working / idle / absent with plausible
 * dwell times (seconds to minutes); while working they produce units
 * (product_count events with count 1-3); now and then a product_count arrives
 * without a worker (a machine counter). Each workstation has one camera, and
 * every event names its camera, the model version and a confidence.
 *
 * The events are posted to a ferry-agent's local ingest API (POST /v1/events)
 * at --rate events per second in --batch sized requests, or printed as NDJSON
 * with --print. A failed post is retried with a short backoff. On exit one line
 * sums up: "sent=S accepted=A duplicates=D failed=F retries=R".
 *
 * Time: the simulation runs on a clock that advances --speed times faster than
 * the wall clock, so dwell times shrink and a demo shows movement. Without
 * --start the events carry the wall-clock time; with --start the events carry
 * the simulated time, which then advances by speed/rate seconds per event
 * (independent of how fast the agent answers), so --seed + --start makes the
 * output fully reproducible.
 *
 * A client tool: blocking libcurl easy calls are fine here. Depends only on
 * libcurl and cJSON so it builds before the rest of ferry does. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#define CAMSIM_VERSION "0.1.0"

/* ---------------------------------------------------------------- options */

typedef struct {
  const char *agent;
  double rate;     /* events per second; 0 = as fast as possible */
  long batch;      /* events per POST; 1 = single object */
  long long count; /* total events, 0 = unlimited */
  double duration; /* seconds, 0 = unlimited */
  const char *ingest_token;
  uint64_t seed;
  bool seed_given;
  bool random_ids;
  bool ndjson;
  bool quiet;
  bool print;
  int workers;
  int workstations;
  double speed;
  bool start_given;
  int64_t start_ms;
  const char *model_version;
  int retries;      /* extra attempts per request */
  double flush_s;   /* post a partial batch after this long */
  double timeout_s; /* per request */
} options;

static volatile sig_atomic_t g_stop;

static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("ferry-camsim: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(2);
}

static void usage(FILE *f) {
  fputs("usage: ferry-camsim [options]\n"
        "Simulated inference box: posts realistic worker/workstation events to a ferry-agent.\n"
        "\n"
        "  --agent URL          agent base URL (default http://127.0.0.1:8787) or unix:/PATH\n"
        "  --rate N             events per second (default 5; 0 = as fast as possible)\n"
        "  --batch N            events per POST (default 1 = single object; >1 = JSON array)\n"
        "  --ndjson             post batches as application/x-ndjson\n"
        "  --count N            send N events then exit (default 0 = forever)\n"
        "  --duration S         stop after S seconds (default 0 = forever)\n"
        "  --workers N          simulated workers (default 6)\n"
        "  --workstations N     workstations, one camera each (default 4)\n"
        "  --speed F            simulated time runs F times faster (default 1)\n"
        "  --start RFC3339      use simulated timestamps starting here (reproducible)\n"
        "  --seed N             random seed (default: from time and pid)\n"
        "  --random-ids         event ids <camera>-<UUIDv4> instead of <camera>-<run>-<counter>\n"
        "  --ingest-token T     bearer token for the agent's local API\n"
        "  --model-version V    model_version on every event (default yolo-ws-2.4.1)\n"
        "  --retries N          extra attempts for a failed POST (default 8)\n"
        "  --timeout S          per-request timeout in seconds (default 30)\n"
        "  --print              print the events as NDJSON to stdout instead of posting\n"
        "  --quiet              no progress lines, only errors and the summary\n"
        "  --version, --help\n"
        "\n"
        "On exit prints: sent=S accepted=A duplicates=D failed=F retries=R\n"
        "(stdout; stderr with --print). Exit 0 when no event failed, 1 otherwise, 2 on bad usage.\n",
        f);
}

static double parse_double(const char *name, const char *s, double min) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !isfinite(v) || v < min)
    die("--%s: invalid value '%s' (a number >= %g)", name, s, min);
  return v;
}

static long long parse_ll(const char *name, const char *s, long long min, long long max) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < min || v > max)
    die("--%s: invalid value '%s' (an integer %lld..%lld)", name, s, min, max);
  return v;
}

/* days since 1970-01-01 of a proleptic Gregorian date */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = (unsigned)(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

/* Minimal RFC 3339 parser: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM). */
static int parse_rfc3339(const char *s, int64_t *out) {
  int y, mo, d, h, mi, sec, n = 0;
  if (sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
    return -1;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59) return -1;
  const char *p = s + n;
  int ms = 0;
  if (*p == '.') {
    p++;
    int digits = 0;
    if (!isdigit((unsigned char)*p)) return -1;
    while (isdigit((unsigned char)*p)) {
      if (digits < 3) ms = ms * 10 + (*p - '0');
      digits++;
      p++;
    }
    while (digits < 3) {
      ms *= 10;
      digits++;
    }
  }
  int off_min = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int oh, om, m2 = 0;
    if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &m2) != 2 || m2 != 5 || oh > 23 || om > 59) return -1;
    off_min = (oh * 60 + om) * (*p == '-' ? -1 : 1);
    p += 6;
  } else {
    return -1;
  }
  if (*p) return -1;
  int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
  *out = ((days * 86400 + h * 3600 + mi * 60 + sec) - (int64_t)off_min * 60) * 1000 + ms;
  return 0;
}

static void format_ms(int64_t ms, char out[64]) {
  time_t secs = (time_t)(ms / 1000);
  int frac = (int)(ms % 1000);
  if (frac < 0) {
    frac += 1000;
    secs -= 1;
  }
  struct tm tm;
  gmtime_r(&secs, &tm);
  snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
           tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s) {
  if (s <= 0) return;
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR && !g_stop) {}
}

/* ------------------------------------------------------------------ random */

static uint64_t rng_s[4];

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static void rng_seed(uint64_t seed) {
  for (int i = 0; i < 4; i++) rng_s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(void) { /* xoshiro256** */
  const uint64_t result = rotl(rng_s[1] * 5, 7) * 9;
  const uint64_t t = rng_s[1] << 17;
  rng_s[2] ^= rng_s[0];
  rng_s[3] ^= rng_s[1];
  rng_s[1] ^= rng_s[2];
  rng_s[0] ^= rng_s[3];
  rng_s[2] ^= t;
  rng_s[3] = rotl(rng_s[3], 45);
  return result;
}

static double rng_unit(void) { return (double)(rng_next() >> 11) * 0x1.0p-53; }
static int rng_int(int lo, int hi) { return lo + (int)(rng_next() % (uint64_t)(hi - lo + 1)); }

/* log-normal-ish dwell around median, clamped, in milliseconds */
static int64_t dwell_ms(double median_s, double lo_s, double hi_s) {
  /* Box-Muller */
  double u1 = rng_unit(), u2 = rng_unit();
  if (u1 < 1e-12) u1 = 1e-12;
  double z = sqrt(-2.0 * log(u1)) * cos(2 * M_PI * u2);
  double v = median_s * exp(0.6 * z);
  if (v < lo_s) v = lo_s;
  if (v > hi_s) v = hi_s;
  return (int64_t)(v * 1000.0);
}

/* -------------------------------------------------------------- simulation */

enum { ST_WORKING = 0, ST_IDLE = 1, ST_ABSENT = 2 };
static const char *const state_names[] = {"working", "idle", "absent"};

typedef struct {
  char id[16];
  int station;
  int state;
  bool announce;       /* state event still to be emitted */
  int64_t next_change; /* simulated ms */
} worker;

typedef struct {
  const options *o;
  worker *w;
  int nw;
  char run_id[9];
  uint64_t counter;
  int64_t sim_origin; /* simulated ms at start */
} sim;

static int64_t state_dwell(int state) {
  switch (state) {
    case ST_WORKING: return dwell_ms(240, 20, 1800);
    case ST_IDLE: return dwell_ms(45, 5, 600);
    default: return dwell_ms(120, 15, 1200);
  }
}

static int next_state(int cur) {
  double u = rng_unit();
  switch (cur) {
    case ST_WORKING: return u < 0.75 ? ST_IDLE : ST_ABSENT;
    case ST_IDLE: return u < 0.8 ? ST_WORKING : ST_ABSENT;
    default: return u < 0.65 ? ST_WORKING : ST_IDLE;
  }
}

static void sim_init(sim *s, const options *o, int64_t origin) {
  s->o = o;
  s->nw = o->workers;
  s->w = calloc((size_t)o->workers, sizeof(worker));
  if (!s->w) die("out of memory");
  snprintf(s->run_id, sizeof s->run_id, "%08" PRIx32, (uint32_t)rng_next());
  s->sim_origin = origin;
  for (int i = 0; i < s->nw; i++) {
    worker *w = &s->w[i];
    snprintf(w->id, sizeof w->id, "W-%03d", i + 1);
    w->station = i % o->workstations;
    double u = rng_unit();
    w->state = u < 0.6 ? ST_WORKING : u < 0.85 ? ST_IDLE : ST_ABSENT;
    w->announce = true;
    /* first change somewhere inside the first dwell, so changes are spread */
    w->next_change = origin + (int64_t)(rng_unit() * (double)state_dwell(w->state));
  }
}

static void append_common(char *buf, size_t cap, size_t *len, const sim *s, int station, int64_t ts_ms,
                          double confidence) {
  char ts[64], eid[160];
  char cam[24];
  snprintf(cam, sizeof cam, "cam-%02d", station + 1);
  if (s->o->random_ids) {
    uint64_t a = rng_next(), b = rng_next();
    a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL; /* version 4 */
    b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL; /* variant 10 */
    snprintf(eid, sizeof eid, "%s-%08" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%012" PRIx64, cam,
             a >> 32, (a >> 16) & 0xffff, a & 0xffff, b >> 48, b & (uint64_t)0xffffffffffffULL);
  } else {
    snprintf(eid, sizeof eid, "%s-%s-%" PRIu64, cam, s->run_id, s->counter);
  }
  format_ms(ts_ms, ts);
  *len += (size_t)snprintf(buf + *len, cap - *len,
                           "{\"event_id\":\"%s\",\"timestamp\":\"%s\",\"workstation_id\":\"WS-%02d\","
                           "\"camera_id\":\"%s\",\"model_version\":\"%s\",\"confidence\":%.3f",
                           eid, ts, station + 1, cam, s->o->model_version, confidence);
}

/* Produce the next event at simulated time now_sim, stamped ts_ms, into buf
 * (a JSON object, no newline). */
static size_t sim_next(sim *s, int64_t now_sim, int64_t ts_ms, char *buf, size_t cap) {
  size_t len = 0;
  s->counter++;
  /* 1. a due state change (earliest first) or a pending announcement */
  worker *due = NULL;
  for (int i = 0; i < s->nw; i++) {
    worker *w = &s->w[i];
    if (w->announce) {
      due = w;
      break;
    }
    if (w->next_change <= now_sim && (!due || w->next_change < due->next_change)) due = w;
  }
  if (due) {
    if (!due->announce) {
      int prev = due->state;
      due->state = next_state(prev);
      /* coming back from a break, sometimes at another station */
      if (prev == ST_ABSENT && s->o->workstations > 1 && rng_unit() < 0.25)
        due->station = rng_int(0, s->o->workstations - 1);
      int64_t base = due->next_change;
      if (base < now_sim - 60000) base = now_sim; /* far behind: restart from now */
      due->next_change = base + state_dwell(due->state);
    }
    due->announce = false;
    append_common(buf, cap, &len, s, due->station, ts_ms, 0.70 + 0.29 * rng_unit());
    len += (size_t)snprintf(buf + len, cap - len, ",\"event_type\":\"%s\",\"worker_id\":\"%s\"}",
                            state_names[due->state], due->id);
    return len;
  }
  /* 2. a unit: mostly from a working worker, sometimes a bare machine count */
  int working[1024], nworking = 0;
  for (int i = 0; i < s->nw && nworking < 1024; i++)
    if (s->w[i].state == ST_WORKING) working[nworking++] = i;
  int cnt = rng_int(1, 3);
  if (nworking > 0 && rng_unit() >= 0.05) {
    worker *w = &s->w[working[rng_int(0, nworking - 1)]];
    append_common(buf, cap, &len, s, w->station, ts_ms, 0.85 + 0.149 * rng_unit());
    len +=
        (size_t)snprintf(buf + len, cap - len,
                         ",\"event_type\":\"product_count\",\"worker_id\":\"%s\",\"count\":%d}", w->id, cnt);
  } else {
    int st = rng_int(0, s->o->workstations - 1);
    append_common(buf, cap, &len, s, st, ts_ms, 0.85 + 0.149 * rng_unit());
    len += (size_t)snprintf(buf + len, cap - len, ",\"event_type\":\"product_count\",\"count\":%d}", cnt);
  }
  return len;
}

/* ------------------------------------------------------------------ upload */

typedef struct {
  char *p;
  size_t len, cap;
} buf_t;

static void buf_reserve(buf_t *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap) return;
  size_t nc = b->cap ? b->cap : 4096;
  while (nc < b->len + extra + 1) nc *= 2;
  char *np = realloc(b->p, nc);
  if (!np) die("out of memory");
  b->p = np;
  b->cap = nc;
}

static void buf_add(buf_t *b, const char *s, size_t n) {
  buf_reserve(b, n);
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud) {
  buf_t *b = ud;
  size_t n = size * nmemb;
  if (b->len < 65536) buf_add(b, ptr, n);
  return n;
}

typedef struct {
  CURL *curl;
  struct curl_slist *hdrs;
  char url[2048];
  long long sent, accepted, duplicates, failed, retries, requests;
} poster;

static void poster_init(poster *p, const options *o) {
  memset(p, 0, sizeof *p);
  p->curl = curl_easy_init();
  if (!p->curl) die("curl_easy_init failed");
  const char *base = o->agent;
  if (strncmp(base, "unix:", 5) == 0) {
    curl_easy_setopt(p->curl, CURLOPT_UNIX_SOCKET_PATH, base + 5);
    snprintf(p->url, sizeof p->url, "http://localhost/v1/events");
  } else {
    const char *scheme = strstr(base, "://");
    const char *path = scheme ? strchr(scheme + 3, '/') : NULL;
    if (path && strcmp(path, "/") != 0) {
      snprintf(p->url, sizeof p->url, "%s", base);
    } else {
      size_t n = path ? (size_t)(path - base) : strlen(base);
      snprintf(p->url, sizeof p->url, "%.*s/v1/events", (int)n, base);
    }
  }
  const char *ct = o->ndjson ? "Content-Type: application/x-ndjson" : "Content-Type: application/json";
  p->hdrs = curl_slist_append(p->hdrs, ct);
  p->hdrs = curl_slist_append(p->hdrs, "Expect:");
  p->hdrs = curl_slist_append(p->hdrs, "User-Agent: ferry-camsim/" CAMSIM_VERSION);
  if (o->ingest_token) {
    char h[1200];
    snprintf(h, sizeof h, "Authorization: Bearer %s", o->ingest_token);
    p->hdrs = curl_slist_append(p->hdrs, h);
  }
  curl_easy_setopt(p->curl, CURLOPT_URL, p->url);
  curl_easy_setopt(p->curl, CURLOPT_HTTPHEADER, p->hdrs);
  curl_easy_setopt(p->curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(p->curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(p->curl, CURLOPT_TIMEOUT_MS, (long)(o->timeout_s * 1000));
  curl_easy_setopt(p->curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(p->curl, CURLOPT_TCP_NODELAY, 1L);
}

/* POST body (n events). Returns true when the agent answered 202. */
static bool post_batch(poster *p, const options *o, const char *body, size_t len, long n) {
  double delay = 0.1;
  p->sent += n;
  for (int attempt = 0;; attempt++) {
    buf_t resp = {0};
    curl_easy_setopt(p->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(p->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(p->curl, CURLOPT_WRITEDATA, &resp);
    p->requests++;
    CURLcode rc = curl_easy_perform(p->curl);
    long status = 0;
    bool retryable = true;
    if (rc == CURLE_OK) {
      curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &status);
      if (status == 202) {
        long long acc = 0, dup = 0;
        cJSON *j = resp.p ? cJSON_Parse(resp.p) : NULL;
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "accepted");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "duplicates");
        if (cJSON_IsNumber(a) && cJSON_IsNumber(d)) {
          acc = (long long)a->valuedouble;
          dup = (long long)d->valuedouble;
        } else {
          fprintf(stderr, "ferry-camsim: 202 without an ingest answer: %.200s\n", resp.p ? resp.p : "");
        }
        cJSON_Delete(j);
        p->accepted += acc;
        p->duplicates += dup;
        free(resp.p);
        return true;
      }
      /* 408, 429, 5xx (503 journal unwritable, 507 journal full) are worth a retry;
       * any other answer means this request itself is wrong. */
      retryable = status == 408 || status == 429 || status >= 500;
      fprintf(stderr, "ferry-camsim: POST %s: HTTP %ld: %.300s\n", p->url, status, resp.p ? resp.p : "");
    } else {
      fprintf(stderr, "ferry-camsim: POST %s: %s\n", p->url, curl_easy_strerror(rc));
    }
    free(resp.p);
    if (!retryable || attempt >= o->retries || g_stop) break;
    p->retries++;
    sleep_s(delay * (0.5 + 0.5 * ((double)rand() / RAND_MAX)));
    delay = delay * 2 > 3.0 ? 3.0 : delay * 2;
  }
  p->failed += n;
  return false;
}

/* -------------------------------------------------------------------- main */

int main(int argc, char **argv) {
  options o = {
      .agent = "http://127.0.0.1:8787",
      .rate = 5,
      .batch = 1,
      .workers = 6,
      .workstations = 4,
      .speed = 1,
      .model_version = "yolo-ws-2.4.1",
      .retries = 8,
      .flush_s = 1.0,
      .timeout_s = 30,
  };
  enum {
    O_AGENT = 256,
    O_RATE,
    O_BATCH,
    O_COUNT,
    O_DURATION,
    O_TOKEN,
    O_SEED,
    O_RANDOM_IDS,
    O_NDJSON,
    O_QUIET,
    O_PRINT,
    O_WORKERS,
    O_STATIONS,
    O_SPEED,
    O_START,
    O_MODEL,
    O_RETRIES,
    O_TIMEOUT,
    O_VERSION,
    O_HELP
  };
  static const struct option longopts[] = {
      {"agent", required_argument, 0, O_AGENT},
      {"rate", required_argument, 0, O_RATE},
      {"batch", required_argument, 0, O_BATCH},
      {"count", required_argument, 0, O_COUNT},
      {"duration", required_argument, 0, O_DURATION},
      {"ingest-token", required_argument, 0, O_TOKEN},
      {"seed", required_argument, 0, O_SEED},
      {"random-ids", no_argument, 0, O_RANDOM_IDS},
      {"ndjson", no_argument, 0, O_NDJSON},
      {"quiet", no_argument, 0, O_QUIET},
      {"print", no_argument, 0, O_PRINT},
      {"workers", required_argument, 0, O_WORKERS},
      {"workstations", required_argument, 0, O_STATIONS},
      {"speed", required_argument, 0, O_SPEED},
      {"start", required_argument, 0, O_START},
      {"model-version", required_argument, 0, O_MODEL},
      {"retries", required_argument, 0, O_RETRIES},
      {"timeout", required_argument, 0, O_TIMEOUT},
      {"version", no_argument, 0, O_VERSION},
      {"help", no_argument, 0, O_HELP},
      {0, 0, 0, 0},
  };
  int c;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
    switch (c) {
      case O_AGENT: o.agent = optarg; break;
      case O_RATE: o.rate = parse_double("rate", optarg, 0); break;
      case O_BATCH: o.batch = (long)parse_ll("batch", optarg, 1, 1000000); break;
      case O_COUNT: o.count = parse_ll("count", optarg, 0, LLONG_MAX); break;
      case O_DURATION: o.duration = parse_double("duration", optarg, 0); break;
      case O_TOKEN: o.ingest_token = optarg; break;
      case O_SEED:
        o.seed = (uint64_t)parse_ll("seed", optarg, 0, LLONG_MAX);
        o.seed_given = true;
        break;
      case O_RANDOM_IDS: o.random_ids = true; break;
      case O_NDJSON: o.ndjson = true; break;
      case O_QUIET: o.quiet = true; break;
      case O_PRINT: o.print = true; break;
      case O_WORKERS: o.workers = (int)parse_ll("workers", optarg, 1, 1000); break;
      case O_STATIONS: o.workstations = (int)parse_ll("workstations", optarg, 1, 99); break;
      case O_SPEED: o.speed = parse_double("speed", optarg, 1e-6); break;
      case O_START:
        if (parse_rfc3339(optarg, &o.start_ms) != 0)
          die("--start: invalid value '%s' (RFC 3339, e.g. 2026-03-01T08:00:00Z)", optarg);
        o.start_given = true;
        break;
      case O_MODEL:
        if (strlen(optarg) > 64 || strpbrk(optarg, "\"\\"))
          die("--model-version: at most 64 characters, no quotes");
        o.model_version = optarg;
        break;
      case O_RETRIES: o.retries = (int)parse_ll("retries", optarg, 0, 1000); break;
      case O_TIMEOUT: o.timeout_s = parse_double("timeout", optarg, 0.001); break;
      case O_VERSION: printf("ferry-camsim %s\n", CAMSIM_VERSION); return 0;
      case 'h':
      case O_HELP: usage(stdout); return 0;
      case 'V': printf("ferry-camsim %s\n", CAMSIM_VERSION); return 0;
      default:
        fprintf(stderr, "ferry-camsim: unknown or incomplete option '%s'\n", argv[optind - 1]);
        usage(stderr);
        return 2;
    }
  }
  if (optind < argc) die("unexpected argument '%s'", argv[optind]);
  if (!o.print && strncmp(o.agent, "http://", 7) != 0 && strncmp(o.agent, "https://", 8) != 0 &&
      strncmp(o.agent, "unix:/", 6) != 0)
    die("--agent: invalid value '%s' (http://HOST:PORT or unix:/PATH)", o.agent);

  if (!o.seed_given) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    o.seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40);
  }
  rng_seed(o.seed);
  srand((unsigned)o.seed);

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  const double t0 = mono_s();
  const int64_t wall0 = wall_ms();
  sim s;
  memset(&s, 0, sizeof s);
  sim_init(&s, &o, o.start_given ? o.start_ms : wall0);
  /* simulated ms per event when the clock is virtual (--start) */
  const double step_ms = 1000.0 / (o.rate > 0 ? o.rate : 5.0) * o.speed;

  poster p;
  memset(&p, 0, sizeof p);
  if (!o.print) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    poster_init(&p, &o);
  }
  FILE *summary_out = o.print ? stderr : stdout;

  buf_t body = {0};
  long in_batch = 0;
  double batch_started = 0;
  long long produced = 0;
  double sched_shift = 0;
  double next_progress = t0 + 5;
  char ev[2048];

  for (;;) {
    if (g_stop) break;
    double now = mono_s();
    bool out_of_time = o.duration > 0 && now - t0 >= o.duration;
    bool out_of_events = o.count > 0 && produced >= o.count;
    if (out_of_time || out_of_events) break;

    /* pacing: produce event k no earlier than t0 + k/rate, but never flush
     * a partial batch later than flush_s after its first event */
    if (o.rate > 0) {
      double due = t0 + sched_shift + (double)produced / o.rate;
      if (due > now) {
        double wait = due - now;
        if (in_batch > 0 && !o.print) {
          double flush_at = batch_started + o.flush_s;
          if (flush_at <= now) goto flush;
          if (flush_at < due) wait = flush_at - now;
        }
        if (o.duration > 0 && t0 + o.duration < now + wait) wait = t0 + o.duration - now;
        sleep_s(wait);
        continue;
      }
      /* more than a second behind (slow agent): drop the debt instead of bursting */
      if (now - due > 1.0) sched_shift += now - due - 1.0;
    }

    {
      int64_t now_sim, ts;
      if (o.start_given) {
        now_sim = o.start_ms + (int64_t)((double)produced * step_ms);
        ts = now_sim;
      } else {
        int64_t w = wall_ms();
        now_sim = wall0 + (int64_t)((double)(w - wall0) * o.speed);
        ts = w;
      }
      size_t n = sim_next(&s, now_sim, ts, ev, sizeof ev);
      produced++;
      if (o.print) {
        fwrite(ev, 1, n, stdout);
        fputc('\n', stdout);
        continue;
      }
      if (in_batch == 0) {
        body.len = 0;
        batch_started = mono_s();
        if (o.batch > 1 && !o.ndjson) buf_add(&body, "[", 1);
      } else if (!o.ndjson) {
        buf_add(&body, ",", 1);
      }
      buf_add(&body, ev, n);
      if (o.ndjson) buf_add(&body, "\n", 1);
      in_batch++;
      if (in_batch < o.batch && !(o.count > 0 && produced >= o.count)) continue;
    }
  flush:
    if (in_batch > 0) {
      if (o.batch > 1 && !o.ndjson) buf_add(&body, "]", 1);
      post_batch(&p, &o, body.p, body.len, in_batch);
      in_batch = 0;
    }
    if (!o.quiet && !o.print && mono_s() >= next_progress) {
      next_progress = mono_s() + 5;
      fprintf(stderr, "ferry-camsim: %.0fs sent=%lld accepted=%lld duplicates=%lld failed=%lld\n",
              mono_s() - t0, p.sent, p.accepted, p.duplicates, p.failed);
    }
  }
  /* whatever is batched is still posted (also on SIGTERM: it was produced) */
  if (!o.print && in_batch > 0) {
    if (o.batch > 1 && !o.ndjson) buf_add(&body, "]", 1);
    post_batch(&p, &o, body.p, body.len, in_batch);
  }
  if (o.print) {
    fflush(stdout);
    p.sent = produced;
  }
  fprintf(summary_out, "sent=%lld accepted=%lld duplicates=%lld failed=%lld retries=%lld\n", p.sent,
          p.accepted, p.duplicates, p.failed, p.retries);
  fflush(summary_out);
  if (!o.print) {
    curl_slist_free_all(p.hdrs);
    curl_easy_cleanup(p.curl);
    curl_global_cleanup();
  }
  free(body.p);
  free(s.w);
  return p.failed > 0 ? 1 : 0;
}
