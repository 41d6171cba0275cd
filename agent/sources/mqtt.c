/* mqtt: the MQTT source's client thread and its hand-off to the journal.
 * Why a thread of its own and hand-driven libmosquitto: see mqtt.h. */
#define _GNU_SOURCE /* pipe2, pthread_timedjoin_np */
#include "mqtt.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include "backoff.h"
#include "log.h"
#include "thread_name.h"
#include "timefmt.h"

/* One message's commit, relayed through the loop thread. */
typedef struct mq_req {
  journal_commit jc;
  mqtt_source *s;
  mapping_result res; /* owns the events */
  char *dead_body;    /* dead-letter row body, or NULL */
  char dead_reason[360];
  size_t skipped;
  struct mq_req *next;
} mq_req;

struct mqtt_source {
  /* fixed after start */
  uv_loop_t *loop;
  journal *j;
  char *host, *ca_file, *client_id, *username, *password;
  int port;
  bool tls;
  bool mqtt5;
  size_t max_ferry_bytes;
  double retry_initial_s, retry_max_s;
  void (*on_committed)(void *ud);
  void *ud;
  uv_async_t async;
  pthread_t thread;
  bool thread_started;
  int wake[2]; /* pipe: wakes the client thread's poll */

  /* client thread only */
  struct mosquitto *mosq;
  mapping *map;
  char *topics;            /* subscribed now */
  bool connected;          /* CONNACK 0 seen on this connection */
  uint64_t dead_logged_ms; /* the last dead-letter log line (rate limit) */
  uint64_t dead_unlogged;  /* dead-lettered since then, not logged */
  int connack_rc;          /* last CONNACK refusal, 0 = none */

  pthread_mutex_t lock; /* everything below */
  pthread_cond_t cond;
  bool stop;
  mq_req *inbox, *inbox_tail; /* waiting for the loop thread to submit */
  unsigned pending;           /* submitted or in the inbox, not done */
  bool burst_failed;          /* a commit of the current burst failed */
  mapping *next_map;          /* reload: waiting for the client thread */
  char *next_topics;
  bool reload;
  mqtt_stats st;

  /* loop thread only */
  unsigned in_journal; /* requests the journal holds (their done will run) */
  bool closing, async_closed;
};

const char *mqtt_state_name(mqtt_state st) {
  switch (st) {
    case MQTT_CONNECTED: return "connected";
    case MQTT_AUTH_ERROR: return "auth_error";
    case MQTT_CONFIG_ERROR: return "config_error";
    default: return "connecting";
  }
}

static void set_state(mqtt_source *s, mqtt_state st, const char *err) {
  pthread_mutex_lock(&s->lock);
  s->st.state = st;
  if (err) snprintf(s->st.last_error, sizeof(s->st.last_error), "%s", err);
  pthread_mutex_unlock(&s->lock);
}

static void req_free(mq_req *r) {
  if (!r) return;
  mapping_result_clear(&r->res);
  free(r->dead_body);
  free(r);
}

static void maybe_free(mqtt_source *s);

/* ---- loop thread: submit and complete ------------------------------------ */

static void on_commit_done(journal_commit *c) {
  mq_req *r = c->data;
  mqtt_source *s = r->s;
  s->in_journal--;
  pthread_mutex_lock(&s->lock);
  if (c->status != 0) {
    s->burst_failed = true;
    snprintf(s->st.last_error, sizeof(s->st.last_error), "journal: %.180s", c->error);
  } else {
    s->st.events += c->accepted;
    s->st.duplicates += c->duplicates;
    s->st.skipped += r->skipped;
    if (r->dead_body) s->st.mapping_errors++;
  }
  s->pending--;
  pthread_cond_broadcast(&s->cond);
  pthread_mutex_unlock(&s->lock);
  if (c->status == 0 && (c->accepted || r->dead_body) && s->on_committed) s->on_committed(s->ud);
  req_free(r);
  maybe_free(s);
}

static void on_async(uv_async_t *a) {
  mqtt_source *s = a->data;
  pthread_mutex_lock(&s->lock);
  mq_req *list = s->inbox;
  s->inbox = s->inbox_tail = NULL;
  pthread_mutex_unlock(&s->lock);
  while (list) {
    mq_req *r = list;
    list = r->next;
    r->jc.done = on_commit_done;
    r->jc.data = r;
    int rc = s->closing ? -ECANCELED : journal_submit(s->j, &r->jc);
    if (rc == 0) {
      s->in_journal++;
      continue;
    }
    /* not taken (queue full, closing): the message stays unacknowledged */
    pthread_mutex_lock(&s->lock);
    s->burst_failed = true;
    snprintf(s->st.last_error, sizeof(s->st.last_error), "journal: %s",
             rc == -EAGAIN ? "commit queue full" : "closing");
    s->pending--;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    req_free(r);
  }
}

/* ---- client thread: messages --------------------------------------------- */

/* The dead-letter body of an unmappable message: {"source":"mqtt","topic":..,
 * "payload":.. (text, or base64 when it is not UTF-8), "payload_bytes":n,
 * "truncated":bool}. */
static char *dead_body(const char *topic, const void *payload, size_t len) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  size_t keep = len > MQTT_DEAD_PAYLOAD_MAX ? MQTT_DEAD_PAYLOAD_MAX : len;
  while (keep < len && keep > 0 && (((const unsigned char *)payload)[keep] & 0xC0) == 0x80) keep--;
  cJSON_AddStringToObject(o, "source", "mqtt");
  cJSON_AddStringToObject(o, "topic", topic);
  char *text = malloc(keep + 1);
  if (text) {
    memcpy(text, payload, keep);
    text[keep] = '\0';
    if (ev_utf8_valid(text, keep) && strlen(text) == keep) {
      cJSON_AddStringToObject(o, "payload", text);
    } else {
      /* not text: hex keeps it exact and greppable */
      size_t hk = keep > MQTT_DEAD_PAYLOAD_MAX / 2 ? MQTT_DEAD_PAYLOAD_MAX / 2 : keep;
      char *hex = malloc(hk * 2 + 1);
      if (hex) {
        for (size_t i = 0; i < hk; i++) snprintf(hex + 2 * i, 3, "%02x", ((const unsigned char *)payload)[i]);
        cJSON_AddStringToObject(o, "payload_hex", hex);
        free(hex);
      }
      keep = hk;
    }
    free(text);
  }
  cJSON_AddNumberToObject(o, "payload_bytes", (double)len);
  cJSON_AddBoolToObject(o, "truncated", keep < len);
  char *out = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  return out;
}

static void enqueue(mqtt_source *s, mq_req *r) {
  pthread_mutex_lock(&s->lock);
  r->next = NULL;
  if (s->inbox_tail) s->inbox_tail->next = r;
  else s->inbox = r;
  s->inbox_tail = r;
  s->pending++;
  pthread_mutex_unlock(&s->lock);
  uv_async_send(&s->async);
}

/* One log line for a message sent to dead-letter, at most every
 * DEAD_LOG_EVERY_MS (the rest are counted into the next line). The line names
 * the topic and the rule, never payload values (the reason can quote one:
 * it is cut at its first quote); GET /v1/dead-letter has the whole record. */
#define DEAD_LOG_EVERY_MS 10000
static void note_dead(mqtt_source *s, const char *topic, const char *reason) {
  uint64_t now = tf_mono_ms();
  if (s->dead_logged_ms && now - s->dead_logged_ms < DEAD_LOG_EVERY_MS) {
    s->dead_unlogged++;
    return;
  }
  size_t n = strcspn(reason, "\"");
  flog_warn(
      "mqtt: a message on %.200s went to dead-letter (mapping_error: %.*s)%s; GET /v1/dead-letter has it",
      topic, (int)(n > 200 ? 200 : n), reason, s->dead_unlogged ? "; more since the last line" : "");
  s->dead_logged_ms = now;
  s->dead_unlogged = 0;
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg) {
  (void)m;
  mqtt_source *s = ud;
  pthread_mutex_lock(&s->lock);
  s->st.messages++;
  pthread_mutex_unlock(&s->lock);
  mq_req *r = calloc(1, sizeof(*r));
  if (!r) goto oom;
  r->s = s;
  const char *payload = msg->payload ? msg->payload : "";
  size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
  if (mapping_apply(s->map, msg->topic, payload, len, s->max_ferry_bytes, &r->res) < 0) goto oom;
  r->skipped = r->res.skipped;
  if (r->res.error[0]) {
    r->dead_body = dead_body(msg->topic, payload, len);
    if (!r->dead_body) goto oom;
    snprintf(r->dead_reason, sizeof(r->dead_reason), "mapping_error: %s", r->res.error);
    r->jc.dead_body = r->dead_body;
    r->jc.dead_reason = r->dead_reason;
    note_dead(s, msg->topic, r->res.error);
  } else {
    r->jc.events = r->res.events;
    r->jc.n = r->res.n;
  }
  enqueue(s, r);
  return;
oom:
  req_free(r);
  /* no commit: the burst fails and the message is redelivered */
  pthread_mutex_lock(&s->lock);
  s->burst_failed = true;
  snprintf(s->st.last_error, sizeof(s->st.last_error), "out of memory");
  pthread_mutex_unlock(&s->lock);
}

/* ---- client thread: connection -------------------------------------------- */

static void subscribe_list(mqtt_source *s, const char *list, bool sub) {
  if (!list) return;
  char *copy = strdup(list);
  if (!copy) return;
  for (char *save = NULL, *t = strtok_r(copy, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
    int rc = sub ? mosquitto_subscribe(s->mosq, NULL, t, 1) : mosquitto_unsubscribe(s->mosq, NULL, t);
    if (rc != MOSQ_ERR_SUCCESS)
      flog_warn("mqtt: %s %s: %s", sub ? "subscribe" : "unsubscribe", t, mosquitto_strerror(rc));
  }
  free(copy);
}

static bool listed(const char *list, const char *t) {
  size_t n = strlen(t);
  for (const char *p = list; p && *p;) {
    size_t l = strcspn(p, "\n");
    if (l == n && memcmp(p, t, n) == 0) return true;
    p += l;
    if (*p) p++;
  }
  return false;
}

static void on_connect(struct mosquitto *m, void *ud, int rc) {
  (void)m;
  mqtt_source *s = ud;
  if (rc != 0) {
    s->connack_rc = rc;
    return;
  }
  s->connected = true;
  s->connack_rc = 0;
  /* subscribing again on a resumed session is harmless and covers filters
   * added while we were away */
  subscribe_list(s, s->topics, true);
  pthread_mutex_lock(&s->lock);
  s->st.state = MQTT_CONNECTED;
  s->st.connects++;
  s->st.last_error[0] = '\0';
  pthread_mutex_unlock(&s->lock);
  flog_notice("mqtt: connected to %s:%d as %s", s->host, s->port, s->client_id);
}

static void apply_reload(mqtt_source *s) {
  pthread_mutex_lock(&s->lock);
  if (!s->reload) {
    pthread_mutex_unlock(&s->lock);
    return;
  }
  mapping *nm = s->next_map;
  char *nt = s->next_topics;
  s->next_map = NULL;
  s->next_topics = NULL;
  s->reload = false;
  pthread_mutex_unlock(&s->lock);
  mapping_free(s->map);
  s->map = nm;
  if (s->mosq && s->connected) {
    /* unsubscribe what went away, subscribe what is new */
    char *copy = s->topics ? strdup(s->topics) : NULL;
    for (char *save = NULL, *t = copy ? strtok_r(copy, "\n", &save) : NULL; t;
         t = strtok_r(NULL, "\n", &save))
      if (!listed(nt, t)) mosquitto_unsubscribe(s->mosq, NULL, t);
    free(copy);
    copy = nt ? strdup(nt) : NULL;
    for (char *save = NULL, *t = copy ? strtok_r(copy, "\n", &save) : NULL; t;
         t = strtok_r(NULL, "\n", &save))
      if (!listed(s->topics, t)) mosquitto_subscribe(s->mosq, NULL, t, 1);
    free(copy);
  }
  free(s->topics);
  s->topics = nt;
  flog_notice("mqtt: topics and mapping reloaded");
}

static bool stopping(mqtt_source *s) {
  pthread_mutex_lock(&s->lock);
  bool st = s->stop;
  pthread_mutex_unlock(&s->lock);
  return st;
}

/* Sleep up to ms, woken early by stop. */
static void nap(mqtt_source *s, int ms) {
  struct pollfd p = {.fd = s->wake[0], .events = POLLIN};
  uint64_t until = tf_mono_ms() + (uint64_t)ms;
  while (!stopping(s)) {
    uint64_t now = tf_mono_ms();
    if (now >= until) return;
    if (poll(&p, 1, (int)(until - now)) > 0) {
      char b[64];
      while (read(s->wake[0], b, sizeof(b)) > 0) {}
      apply_reload(s);
    }
  }
}

static void drop_client(mqtt_source *s) {
  if (!s->mosq) return;
  /* no loop_write: whatever is queued (PUBACKs of uncommitted messages) dies
   * with the socket */
  mosquitto_destroy(s->mosq);
  s->mosq = NULL;
  s->connected = false;
}

static int new_client(mqtt_source *s, char *err, size_t errlen) {
  s->mosq = mosquitto_new(s->client_id, false, s);
  if (!s->mosq) {
    snprintf(err, errlen, "mosquitto_new failed: %s", strerror(errno));
    return -ENOMEM;
  }
  mosquitto_int_option(s->mosq, MOSQ_OPT_PROTOCOL_VERSION, s->mqtt5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
  /* MQTT 5: the broker sends at most this many unacknowledged messages; a
   * burst (one commit) can take them all */
  if (s->mqtt5) mosquitto_int_option(s->mosq, MOSQ_OPT_RECEIVE_MAXIMUM, MQTT_BURST_MAX);
  /* queued packets (PUBACKs) leave only through our mosquitto_loop_write */
  mosquitto_threaded_set(s->mosq, true);
  mosquitto_connect_callback_set(s->mosq, on_connect);
  mosquitto_message_callback_set(s->mosq, on_message);
  int rc = MOSQ_ERR_SUCCESS;
  if (s->username) rc = mosquitto_username_pw_set(s->mosq, s->username, s->password);
  if (rc == MOSQ_ERR_SUCCESS && s->tls) {
    rc = mosquitto_tls_set(s->mosq, s->ca_file, s->ca_file ? NULL : "/etc/ssl/certs", NULL, NULL, NULL);
    if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_tls_insecure_set(s->mosq, false);
  }
  if (rc != MOSQ_ERR_SUCCESS) {
    snprintf(err, errlen, "%s", mosquitto_strerror(rc));
    drop_client(s);
    return -EINVAL;
  }
  return 0;
}

/* Wait until every commit of the burst is done. false: one failed (or we are stopping). */
static bool await_commits(mqtt_source *s) {
  pthread_mutex_lock(&s->lock);
  while (s->pending > 0 && !s->stop) pthread_cond_wait(&s->cond, &s->lock);
  bool ok = !s->burst_failed && !s->stop;
  s->burst_failed = false;
  if (!ok && !s->stop) s->st.commit_failures++;
  pthread_mutex_unlock(&s->lock);
  return ok;
}

static bool readable_now(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  return poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR));
}

/* One connection's life. Returns when it ends (error or stop). */
static void run_connection(mqtt_source *s) {
  char err[200];
  if (new_client(s, err, sizeof(err)) < 0) {
    set_state(s, MQTT_CONFIG_ERROR, err);
    return;
  }
  s->connack_rc = 0;
  int rc;
  if (s->mqtt5) {
    /* clean start off (mosquitto_new(.., false, ..)) and a session that never
     * expires: the broker keeps the subscription and the queue while we are away */
    mosquitto_property *props = NULL;
    rc = mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, UINT32_MAX);
    if (rc == MOSQ_ERR_SUCCESS)
      rc = mosquitto_connect_bind_v5(s->mosq, s->host, s->port, MQTT_KEEPALIVE_S, NULL, props);
    mosquitto_property_free_all(&props);
  } else {
    rc = mosquitto_connect(s->mosq, s->host, s->port, MQTT_KEEPALIVE_S);
  }
  if (rc != MOSQ_ERR_SUCCESS) {
    snprintf(err, sizeof(err), "connect %s:%d: %s", s->host, s->port,
             rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
    set_state(s, MQTT_CONNECTING, err);
    drop_client(s);
    return;
  }
  while (!stopping(s)) {
    int fd = mosquitto_socket(s->mosq);
    if (fd < 0) break;
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = s->wake[0], .events = POLLIN}};
    if (mosquitto_want_write(s->mosq)) p[0].events |= POLLOUT;
    int n = poll(p, 2, 1000);
    if (n < 0 && errno != EINTR) break;
    if (p[1].revents & POLLIN) {
      char b[64];
      while (read(s->wake[0], b, sizeof(b)) > 0) {}
      apply_reload(s);
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      /* read a burst; every message in it is committed before any PUBACK */
      int msgs = 0;
      pthread_mutex_lock(&s->lock);
      uint64_t before = s->st.messages;
      pthread_mutex_unlock(&s->lock);
      do {
        rc = mosquitto_loop_read(s->mosq, 1);
        msgs++;
      } while (rc == MOSQ_ERR_SUCCESS && msgs < MQTT_BURST_MAX && s->mosq && mosquitto_socket(s->mosq) >= 0 &&
               readable_now(mosquitto_socket(s->mosq)));
      bool committed = await_commits(s);
      pthread_mutex_lock(&s->lock);
      uint64_t got = s->st.messages - before;
      if (got) s->st.bursts++;
      pthread_mutex_unlock(&s->lock);
      if (got) flog_debug("mqtt: burst of %llu message(s), %d read(s)", (unsigned long long)got, msgs);
      if (!committed) {
        if (!stopping(s))
          flog_warn("mqtt: a commit failed; dropping the connection so the broker redelivers");
        break;
      }
      if (rc != MOSQ_ERR_SUCCESS) {
        snprintf(err, sizeof(err), "connection lost: %s",
                 rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
        set_state(s, MQTT_CONNECTING, err);
        break;
      }
      if (s->connack_rc) break;
    }
    if (mosquitto_want_write(s->mosq)) {
      rc = mosquitto_loop_write(s->mosq, 1);
      if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN) {
        set_state(s, MQTT_CONNECTING, mosquitto_strerror(rc));
        break;
      }
    }
    rc = mosquitto_loop_misc(s->mosq);
    if (rc != MOSQ_ERR_SUCCESS) {
      set_state(s, MQTT_CONNECTING, "keepalive: the broker stopped answering");
      break;
    }
  }
  if (s->connack_rc) {
    /* MQTT 3.1.1: 4 bad user name or password, 5 not authorised, 3 unavailable;
     * MQTT 5 reason codes: 134 bad user name or password, 135 not authorised,
     * 140 bad authentication method, 136 server unavailable, 137 busy, 159
     * connection rate exceeded */
    int c = s->connack_rc;
    bool auth = c == 4 || c == 5 || c == 134 || c == 135 || c == 140;
    bool busy = c == 3 || c == 136 || c == 137 || c == 159;
    snprintf(err, sizeof(err), "broker refused the connection: %s",
             s->mqtt5 ? mosquitto_reason_string(c) : mosquitto_connack_string(c));
    set_state(s, auth ? MQTT_AUTH_ERROR : busy ? MQTT_CONNECTING : MQTT_CONFIG_ERROR, err);
  } else if (!stopping(s)) {
    pthread_mutex_lock(&s->lock);
    if (s->st.state == MQTT_CONNECTED) s->st.state = MQTT_CONNECTING;
    pthread_mutex_unlock(&s->lock);
  }
  bool was = s->connected;
  drop_client(s);
  if (was) {
    pthread_mutex_lock(&s->lock);
    snprintf(err, sizeof(err), "%s", s->st.last_error[0] ? s->st.last_error : "stopped");
    pthread_mutex_unlock(&s->lock);
    flog_warn("mqtt: disconnected from %s:%d (%s); reconnecting", s->host, s->port, err);
  }
}

static void *client_thread(void *arg) {
  mqtt_source *s = arg;
  thread_name_set("mqtt");
  backoff bo;
  backoff_init(&bo, s->retry_initial_s, s->retry_max_s, (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)s);
  while (!stopping(s)) {
    uint64_t t0 = tf_mono_ms();
    run_connection(s);
    if (stopping(s)) break;
    pthread_mutex_lock(&s->lock);
    uint64_t connects = s->st.connects;
    mqtt_state st = s->st.state;
    pthread_mutex_unlock(&s->lock);
    (void)connects;
    /* a connection that lived a while resets the backoff */
    if (tf_mono_ms() - t0 > 10000) backoff_reset(&bo);
    double d = (st == MQTT_AUTH_ERROR || st == MQTT_CONFIG_ERROR) ? backoff_at_max(&bo) : backoff_next(&bo);
    nap(s, (int)(d * 1000.0) + 1);
  }
  drop_client(s);
  return NULL;
}

/* ---- life ------------------------------------------------------------------ */

static void free_source(mqtt_source *s) {
  mq_req *r = s->inbox;
  while (r) {
    mq_req *n = r->next;
    req_free(r);
    r = n;
  }
  mapping_free(s->map);
  mapping_free(s->next_map);
  free(s->next_topics);
  free(s->topics);
  free(s->host);
  free(s->ca_file);
  free(s->client_id);
  free(s->username);
  if (s->password) explicit_bzero(s->password, strlen(s->password));
  free(s->password);
  if (s->wake[0] >= 0) close(s->wake[0]);
  if (s->wake[1] >= 0) close(s->wake[1]);
  pthread_mutex_destroy(&s->lock);
  pthread_cond_destroy(&s->cond);
  free(s);
}

static void maybe_free(mqtt_source *s) {
  if (s->closing && s->async_closed && s->in_journal == 0) free_source(s);
}

static void on_async_closed(uv_handle_t *h) {
  mqtt_source *s = h->data;
  s->async_closed = true;
  maybe_free(s);
}

static char *dup_or_null(const char *v, bool *oom) {
  if (!v) return NULL;
  char *c = strdup(v);
  if (!c) *oom = true;
  return c;
}

int mqtt_source_start(const mqtt_config *cfg, mqtt_source **ret, char *err, size_t errlen) {
  mqtt_source *s = calloc(1, sizeof(*s));
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  s->wake[0] = s->wake[1] = -1;
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->cond, NULL);
  bool oom = false;
  s->loop = cfg->loop;
  s->j = cfg->j;
  s->host = dup_or_null(cfg->host, &oom);
  s->ca_file = dup_or_null(cfg->ca_file, &oom);
  s->client_id = dup_or_null(cfg->client_id, &oom);
  s->username = dup_or_null(cfg->username, &oom);
  s->password = dup_or_null(cfg->password, &oom);
  s->topics = dup_or_null(cfg->topics, &oom);
  s->port = cfg->port;
  s->tls = cfg->tls;
  s->mqtt5 = cfg->mqtt5;
  s->max_ferry_bytes = cfg->max_ferry_bytes;
  s->retry_initial_s = cfg->retry_initial_s;
  s->retry_max_s = cfg->retry_max_s;
  s->on_committed = cfg->on_committed;
  s->ud = cfg->ud;
  s->map = cfg->map;
  snprintf(s->st.broker, sizeof(s->st.broker), "%s://%s:%d", cfg->tls ? "mqtts" : "mqtt", cfg->host,
           cfg->port);
  if (oom || pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
    snprintf(err, errlen, "%s", oom ? "out of memory" : strerror(errno));
    s->map = NULL; /* the caller still owns it on failure */
    free_source(s);
    return oom ? -ENOMEM : -errno;
  }
  uv_async_init(s->loop, &s->async, on_async);
  s->async.data = s;
  uv_unref((uv_handle_t *)&s->async); /* the source never keeps the loop alive */
  int rc = pthread_create(&s->thread, NULL, client_thread, s);
  if (rc != 0) {
    snprintf(err, errlen, "cannot start the MQTT thread: %s", strerror(rc));
    s->map = NULL;
    s->closing = true;
    uv_close((uv_handle_t *)&s->async, on_async_closed);
    return -rc;
  }
  s->thread_started = true;
  *ret = s;
  return 0;
}

int mqtt_source_reload(mqtt_source *s, const char *topics, mapping *map) {
  char *t = topics ? strdup(topics) : NULL;
  if (topics && !t) {
    mapping_free(map);
    return -ENOMEM;
  }
  pthread_mutex_lock(&s->lock);
  mapping_free(s->next_map);
  free(s->next_topics);
  s->next_map = map;
  s->next_topics = t;
  s->reload = true;
  pthread_mutex_unlock(&s->lock);
  if (write(s->wake[1], "r", 1) < 0) { /* the pipe is full: a wake-up is pending anyway */
  }
  return 0;
}

void mqtt_source_get_stats(mqtt_source *s, mqtt_stats *ret) {
  pthread_mutex_lock(&s->lock);
  *ret = s->st;
  pthread_mutex_unlock(&s->lock);
}

void mqtt_source_stop(mqtt_source *s) {
  if (!s) return;
  pthread_mutex_lock(&s->lock);
  s->stop = true;
  pthread_cond_broadcast(&s->cond);
  pthread_mutex_unlock(&s->lock);
  if (write(s->wake[1], "s", 1) < 0) {}
  if (s->thread_started) {
    /* a blocking connect() to an unreachable broker may take long: do not
     * hold the shutdown for it (the thread touches nothing of the loop's) */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 2;
    if (pthread_timedjoin_np(s->thread, NULL, &ts) != 0) {
      flog_warn("mqtt: the client thread is still connecting; leaving it behind");
      pthread_detach(s->thread);
      return; /* never freed: the process is exiting */
    }
  }
  s->closing = true;
  on_async(&s->async); /* requests left in the inbox: dropped, unacknowledged */
  uv_close((uv_handle_t *)&s->async, on_async_closed);
}
