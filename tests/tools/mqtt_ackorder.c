/* ferry-mqtt-ackorder: shows, against a real broker, when libmosquitto sends
 * the PUBACK of a QoS 1 message relative to the application's on_message, in
 * each way of driving the library (tests only, never installed):
 *
 *   unthreaded    mosquitto_loop() in the caller's thread (no threaded_set)
 *   external      poll() + mosquitto_loop_read/write/misc, no threaded_set
 *                 (what an external loop on uv_poll does)
 *   threaded-set  as external, with mosquitto_threaded_set(true), writing only
 *                 after on_message returned (the agent's MQTT source)
 *   loop-start    mosquitto_loop_start(): the library's own thread
 *
 * --phase crash: a persistent session (clean session off) subscribes with
 * QoS 1, prints "ready", and _exit()s inside on_message of the first message,
 * the way a crash between receipt and commit would end it.
 * --phase drain: the same client id comes back and prints every message it
 * gets until one whose payload is "marker" ("got PAYLOAD" lines). If the
 * crashed message is printed before the marker, the broker redelivered it:
 * its PUBACK had not left before on_message ran. */
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <mosquitto.h>

static const char *phase;
static volatile bool subscribed, done;

static void on_connect(struct mosquitto *m, void *ud, int rc) {
  if (rc) {
    fprintf(stderr, "connack %d\n", rc);
    _exit(2);
  }
  if (strcmp(phase, "crash") == 0) mosquitto_subscribe(m, NULL, (const char *)ud, 1);
  else subscribed = true;
}

static void on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *q) {
  subscribed = true;
  printf("ready\n");
  fflush(stdout);
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg) {
  printf("got %.*s\n", msg->payloadlen, (const char *)msg->payload);
  fflush(stdout);
  if (strcmp(phase, "crash") == 0) _exit(3); /* "crash" before the commit */
  if (msg->payloadlen == 6 && memcmp(msg->payload, "marker", 6) == 0) done = true;
}

int main(int argc, char **argv) {
  int port = 0;
  const char *topic = "ackorder", *mode = "threaded-set", *id = "ackorder";
  phase = "crash";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--port") == 0) port = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--topic") == 0) topic = argv[i + 1];
    else if (strcmp(argv[i], "--mode") == 0) mode = argv[i + 1];
    else if (strcmp(argv[i], "--phase") == 0) phase = argv[i + 1];
    else if (strcmp(argv[i], "--client-id") == 0) id = argv[i + 1];
  }
  if (!port) {
    fprintf(stderr, "usage: ferry-mqtt-ackorder --port P [--topic T] --mode unthreaded|external|threaded-set|"
                    "loop-start --phase crash|drain [--client-id ID]\n");
    return 2;
  }
  mosquitto_lib_init();
  struct mosquitto *m = mosquitto_new(id, false, (void *)topic);
  mosquitto_connect_callback_set(m, on_connect);
  mosquitto_subscribe_callback_set(m, on_subscribe);
  mosquitto_message_callback_set(m, on_message);
  bool manual = strcmp(mode, "external") == 0 || strcmp(mode, "threaded-set") == 0;
  if (strcmp(mode, "threaded-set") == 0) mosquitto_threaded_set(m, true);
  if (mosquitto_connect(m, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS) return 2;
  if (strcmp(mode, "loop-start") == 0) {
    mosquitto_loop_start(m);
    while (!done) usleep(10000);
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, false);
  } else if (!manual) {
    while (!done)
      if (mosquitto_loop(m, 1000, 1) != MOSQ_ERR_SUCCESS) return 4;
  } else {
    while (!done) {
      struct pollfd p = {.fd = mosquitto_socket(m), .events = POLLIN};
      if (mosquitto_want_write(m)) p.events |= POLLOUT;
      if (poll(&p, 1, 1000) < 0) return 4;
      if ((p.revents & POLLIN) && mosquitto_loop_read(m, 1) != MOSQ_ERR_SUCCESS) return 4;
      if (mosquitto_want_write(m) && mosquitto_loop_write(m, 1) != MOSQ_ERR_SUCCESS) return 4;
      mosquitto_loop_misc(m);
    }
    mosquitto_disconnect(m);
    mosquitto_loop_write(m, 1);
  }
  mosquitto_destroy(m);
  mosquitto_lib_cleanup();
  return 0;
}
