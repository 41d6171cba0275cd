/* mqtt: the agent's MQTT source (SPEC §6.1) — an ordinary MQTT 3.1.1 client
 * on libmosquitto with a persistent session (clean session off) and QoS 1
 * subscriptions, whose messages become events in the same journal as the
 * local API's.
 *
 * The acknowledgement rule. libmosquitto 2.0 (Debian 12: 2.0.11) queues the
 * PUBACK of a QoS 1 message *before* it calls on_message; with the library in
 * its default unthreaded mode packet__queue writes it to the socket at once,
 * i.e. before the application saw the message, so an external loop on
 * uv_poll cannot hold it back. With mosquitto_threaded_set(true) queued
 * packets are written only by mosquitto_loop_write. This source therefore
 * runs the client on its own thread and drives the library by hand:
 *   poll → mosquitto_loop_read (several messages: each is mapped on this
 *   thread and handed to the journal through the loop thread) → wait until
 *   every one of them is committed (events, or the payload in dead-letter)
 *   → only then mosquitto_loop_write, which sends their PUBACKs.
 * If a commit fails the client is destroyed without writing (the PUBACKs are
 * never sent) and reconnects with backoff; the broker redelivers and the
 * journal deduplicates by event_id. The loop thread only relays commits.
 *
 * Threads: the client thread owns the mosquitto object and the mapping in
 * use; the loop thread calls journal_submit and runs the completions; the
 * counters are read under a mutex. */
#ifndef FERRY_SOURCES_MQTT_H
#define FERRY_SOURCES_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "journal.h"
#include "mapping.h"

#define MQTT_KEEPALIVE_S      30
#define MQTT_BURST_MAX        256 /* messages read before their commits are awaited */
/* payload bytes kept in a dead-letter row: its export line (JSON-escaped,
 * up to 6x) stays under the journal export's 64 KiB line bound */
#define MQTT_DEAD_PAYLOAD_MAX (8 * 1024)

typedef enum { MQTT_CONNECTING = 0, MQTT_CONNECTED, MQTT_AUTH_ERROR, MQTT_CONFIG_ERROR } mqtt_state;

typedef struct mqtt_stats {
  mqtt_state state;
  char broker[300];         /* "mqtt://HOST:PORT" */
  uint64_t messages;        /* messages received (redeliveries included) */
  uint64_t events;          /* events newly stored */
  uint64_t duplicates;      /* events already in the journal (redeliveries) */
  uint64_t skipped;         /* messages / items left out by a skip rule or an unmapped value */
  uint64_t mapping_errors;  /* messages stored in dead-letter */
  uint64_t connects;        /* successful connections */
  uint64_t commit_failures; /* bursts whose commit failed (connection dropped, redelivery) */
  uint64_t bursts;          /* read bursts committed before their PUBACKs (messages / bursts = batch) */
  char last_error[200];
} mqtt_stats;

typedef struct mqtt_config {
  uv_loop_t *loop;
  journal *j;
  const char *host;
  int port;
  bool tls;
  const char *ca_file; /* NULL: system store */
  const char *client_id;
  const char *username; /* NULL: none */
  const char *password; /* NULL: none */
  bool mqtt5;           /* MQTT 5 (else 3.1.1) */
  const char *topics;   /* filters joined by '\n' */
  mapping *map;         /* taken over by the source (may be NULL) */
  size_t max_ferry_bytes;
  double retry_initial_s, retry_max_s;
  void (*on_committed)(void *ud); /* events were newly stored (uploader_kick) */
  void *ud;
} mqtt_config;

typedef struct mqtt_source mqtt_source;

/* Start the client thread. Strings are copied. 0 or a negative errno with err. */
int mqtt_source_start(const mqtt_config *cfg, mqtt_source **ret, char *err, size_t errlen);
/* SIGHUP: new topic filters and mapping (taken over), applied by the client
 * thread between bursts (unsubscribe / subscribe the difference). */
int mqtt_source_reload(mqtt_source *s, const char *topics, mapping *map);
void mqtt_source_get_stats(mqtt_source *s, mqtt_stats *ret);
/* Stop the thread (commits in flight complete or are dropped unacknowledged,
 * which the broker redelivers) and free. Loop thread; call before
 * journal_close. Safe with NULL. */
void mqtt_source_stop(mqtt_source *s);

const char *mqtt_state_name(mqtt_state st);

#endif
