/* httpd_int: the server and request objects, shared by httpd.c (driving
 * libmicrohttpd from the loop, request life) and httpd_req.c (accessors and
 * answers). Loop thread only. */
#ifndef FERRY_HTTPD_INT_H
#define FERRY_HTTPD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include <microhttpd.h>

#include "httpd.h"

typedef struct httpd_hdr {
  struct httpd_hdr *next;
  char *name;
  char *value;
} httpd_hdr;

struct httpd_req {
  httpd *h;                    /* NULL once httpd_close detached it */
  struct MHD_Connection *conn; /* NULL once MHD completed the request */
  httpd_req *prev, *next;      /* h->reqs: every request object alive */
  char *target;                /* request target as sent (copy) */
  char *path;                  /* target without query: points into target */
  char *method;
  char *body; /* NUL-terminated; len bytes used, cap allocated (+1) */
  size_t len, cap;
  size_t discarded; /* body bytes dropped after the answer was decided */
  httpd_hdr *hdrs;  /* response headers to add */
  void *data;
  void (*data_free)(void *data);
  struct MHD_Response *resp; /* answer waiting to be queued */
  unsigned status;
  bool started;         /* the access handler has seen it: counted in pending */
  bool owed;            /* on_request ran: exactly one answer is owed */
  bool answered;        /* httpd_respond ran */
  bool suspended;       /* MHD connection suspended, waiting for the answer */
  bool mhd_done;        /* MHD's completion callback ran */
  bool discard;         /* answer already decided (413...): swallow the body */
  bool in_handler;      /* inside the access handler: it queues r->resp itself */
  uint64_t t0_ns;       /* uv_hrtime when the headers were in (on_answer) */
  char id[129];         /* X-Request-ID: the client's (1-128 visible ASCII) or made here */
  char client[64];      /* client address, "" for a Unix socket */
  httpd_stream *stream; /* a streamed answer's state (owned by its MHD response) */
};

/* A streamed answer: owned by its MHD response (freed with it), linked to
 * its request while both live. */
struct httpd_stream {
  httpd_req *r; /* NULL once the request object is gone */
  httpd_stream_fn read;
  void (*done)(void *arg);
  void *arg;
};

struct httpd {
  uv_loop_t *loop;
  struct MHD_Daemon *d;
  uv_poll_t poll;
  uv_timer_t timer;
  httpd_config cfg;
  int listen_fd; /* -1 after quiesce, or owned by MHD while serving */
  unsigned port;
  char *unix_path; /* socket file we created, removed on stop */
  httpd_req *reqs;
  unsigned pending;
  bool kick; /* a "run soon" was asked for during MHD_run */
  bool in_run;
  bool closing;
  int open_handles;
  void (*done)(void *arg);
  void *done_arg;
  unsigned long mhd_errors;
  char mhd_last_error[160];
};

/* httpd.c */
char *httpd__strdup(const char *s);
void httpd__req_free(httpd_req *r);
void httpd__kick(httpd *h);

#endif
