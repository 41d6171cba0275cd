/* test_notify: the sd_notify messages reach a socket that plays systemd —
 * a datagram socket owned by this test, named by NOTIFY_SOCKET, both as a
 * path and in the abstract namespace. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "notify.h"

/* Receive one datagram as a string; "" on nothing (the receive timeout only
 * keeps a broken sender from hanging the test, nothing is timed). */
static const char *recv_msg(int fd) {
  static char buf[2048];
  ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
  if (n < 0) n = 0;
  buf[n] = '\0';
  return buf;
}

static int make_socket(struct sockaddr_un *sa, socklen_t salen) {
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (bind(fd, (struct sockaddr *)sa, salen) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static void exercise(int fd) {
  CHECK(notify_ready() > 0);
  CHECK_EQ_STR(recv_msg(fd), "READY=1");
  CHECK(notify_status("backlog %d events, collector %s", 42, "ok") > 0);
  CHECK_EQ_STR(recv_msg(fd), "STATUS=backlog 42 events, collector ok");
  /* a line break must not smuggle in another assignment */
  CHECK(notify_status("line one\nREADY=1") > 0);
  CHECK_EQ_STR(recv_msg(fd), "STATUS=line one READY=1");
  CHECK(notify_watchdog() > 0);
  CHECK_EQ_STR(recv_msg(fd), "WATCHDOG=1");
  CHECK(notify_reloading() > 0);
  CHECK(strncmp(recv_msg(fd), "RELOADING=1\nMONOTONIC_USEC=", 27) == 0);
  CHECK(notify_stopping() > 0);
  CHECK_EQ_STR(recv_msg(fd), "STOPPING=1");
}

static void test_path_socket(void) {
  char dir[] = "/tmp/ferry-test-notify-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s/notify.sock", dir);
  int fd = make_socket(&sa, sizeof sa);
  CHECK(fd >= 0);
  if (fd >= 0) {
    setenv("NOTIFY_SOCKET", sa.sun_path, 1);
    exercise(fd);
    close(fd);
  }
  unlink(sa.sun_path);
  rmdir(dir);
}

static void test_abstract_socket(void) {
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  char name[64];
  int len = snprintf(name, sizeof name, "ferry-test-notify-%ld", (long)getpid());
  memcpy(sa.sun_path + 1, name, (size_t)len); /* sun_path[0] = 0: abstract */
  int fd = make_socket(&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)len));
  CHECK(fd >= 0);
  if (fd < 0) return;
  char env[80];
  snprintf(env, sizeof env, "@%s", name);
  setenv("NOTIFY_SOCKET", env, 1);
  exercise(fd);
  close(fd);
}

static void test_no_socket(void) {
  unsetenv("NOTIFY_SOCKET");
  CHECK_EQ_INT(notify_ready(), 0);
  CHECK_EQ_INT(notify_status("x"), 0);
  CHECK_EQ_INT(notify_watchdog(), 0);
  CHECK_EQ_INT(notify_stopping(), 0);
  /* a socket path nobody listens on is an error, not a crash */
  setenv("NOTIFY_SOCKET", "/nonexistent/ferry-notify.sock", 1);
  CHECK(notify_ready() < 0);
  unsetenv("NOTIFY_SOCKET");
}

static void test_watchdog_usec(void) {
  char pid[32];
  unsetenv("WATCHDOG_USEC");
  unsetenv("WATCHDOG_PID");
  CHECK_EQ_INT(notify_watchdog_usec(), 0);
  setenv("WATCHDOG_USEC", "5000000", 1);
  snprintf(pid, sizeof pid, "%ld", (long)getpid());
  setenv("WATCHDOG_PID", pid, 1);
  CHECK_EQ_INT(notify_watchdog_usec(), 5000000);
  setenv("WATCHDOG_PID", "1", 1); /* meant for another process */
  CHECK_EQ_INT(notify_watchdog_usec(), 0);
  unsetenv("WATCHDOG_PID");
  CHECK_EQ_INT(notify_watchdog_usec(), 5000000);
  setenv("WATCHDOG_USEC", "soon", 1);
  CHECK_EQ_INT(notify_watchdog_usec(), 0);
  unsetenv("WATCHDOG_USEC");
}

int main(void) {
  test_path_socket();
  test_abstract_socket();
  test_no_socket();
  test_watchdog_usec();
  return check_finish("test_notify");
}
