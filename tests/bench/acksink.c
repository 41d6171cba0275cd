/* ferry-acksink: a stand-in collector for the agent's benchmarks (bench only,
 * never installed). It answers every request with 200 and an upload answer
 * that accepts the whole batch, counted from the Idempotency-Key
 * ("agent:epoch:first-last" → last - first + 1 events; 0 without a key), and
 * throws the body away unread. What the agent's delivery costs is then the
 * agent's own: the Python stand-in it replaces spent about as much CPU per
 * event as the agent did, on the same two cores.
 *
 * It runs on libmicrohttpd's own polling thread (epoll),
 * prints "port=N" on stdout once it listens, and stops on SIGTERM or SIGINT,
 * printing "requests=R events=E".
 *
 * usage: ferry-acksink --port N   (0 = any free port) */
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_ullong n_requests, n_events;
static volatile sig_atomic_t stopping;

static void on_signal(int sig) {
  (void)sig;
  stopping = 1;
}

/* "agent:epoch:first-last" → last - first + 1; 0 when the key is absent or
 * not of that shape */
static uint64_t key_events(const char *key) {
  const char *colon = key ? strrchr(key, ':') : NULL;
  if (!colon) return 0;
  char *end;
  unsigned long long first = strtoull(colon + 1, &end, 10);
  if (*end != '-') return 0;
  unsigned long long last = strtoull(end + 1, &end, 10);
  if (*end != '\0' || last < first) return 0;
  return last - first + 1;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size,
                                  void **state) {
  (void)cls, (void)url, (void)method, (void)version, (void)upload;
  if (!*state) { /* headers only: come back with the body */
    *state = c;
    return MHD_YES;
  }
  if (*upload_size) { /* a chunk of the body: dropped */
    *upload_size = 0;
    return MHD_YES;
  }
  uint64_t n = key_events(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key"));
  atomic_fetch_add(&n_requests, 1);
  atomic_fetch_add(&n_events, n);
  char body[96];
  int len = snprintf(body, sizeof body, "{\"accepted\":%" PRIu64 ",\"duplicates\":0,\"rejected\":[]}", n);
  struct MHD_Response *r = MHD_create_response_from_buffer((size_t)len, body, MHD_RESPMEM_MUST_COPY);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
  enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
  MHD_destroy_response(r);
  return ok;
}

int main(int argc, char **argv) {
  long port = -1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--port") && i + 1 < argc) port = strtol(argv[++i], NULL, 10);
    else break;
  }
  if (port < 0 || port > 65535) {
    fprintf(stderr, "usage: ferry-acksink --port N (0 = any free port)\n");
    return 2;
  }
  /* blocked until sigsuspend, so a signal cannot slip in between the check
   * and the wait; MHD's thread inherits the mask and never takes them */
  sigset_t stop_set, wait_set;
  sigemptyset(&stop_set);
  sigaddset(&stop_set, SIGTERM);
  sigaddset(&stop_set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_set, &wait_set);
  sigdelset(&wait_set, SIGTERM);
  sigdelset(&wait_set, SIGINT);
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct MHD_Daemon *d =
      MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0,
                       NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                       MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_END);
  if (!d) {
    fprintf(stderr, "ferry-acksink: cannot listen on 127.0.0.1:%ld\n", port);
    return 1;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  printf("port=%u\n", info ? (unsigned)info->port : (unsigned)port);
  fflush(stdout);
  while (!stopping) sigsuspend(&wait_set);
  MHD_stop_daemon(d);
  printf("requests=%llu events=%llu\n", (unsigned long long)atomic_load(&n_requests),
         (unsigned long long)atomic_load(&n_events));
  return 0;
}
