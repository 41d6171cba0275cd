/* test_agent_tls: the agent's TLS settings — --pin-sha256 parsing into
 * libcurl's form, the cross-option checks (https only, cert with key), and
 * which libcurl results count as TLS failures and in which state. */
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "uploader.h"

#define PIN_A "rQWDPeOdbi0tjn7Bs6R0ibetDpqpcbWPbwP4nuzZ7bU="
#define PIN_B "DnV0Di7yJSjRpmKR6bw/ypYK5v8KL5vCZa6uRbnnEbw="

static void test_pins(void) {
  char out[512], err[200];
  CHECK_EQ_INT(agent_pin_to_curl(PIN_A, out, sizeof(out), err, sizeof(err)), 0);
  CHECK_EQ_STR(out, "sha256//" PIN_A);
  CHECK_EQ_INT(agent_pin_to_curl("sha256//" PIN_A "; " PIN_B, out, sizeof(out), err, sizeof(err)), 0);
  CHECK_EQ_STR(out, "sha256//" PIN_A ";sha256//" PIN_B);
  CHECK_EQ_INT(agent_pin_to_curl(PIN_A "," PIN_B, out, sizeof(out), err, sizeof(err)), 0);
  CHECK_EQ_STR(out, "sha256//" PIN_A ";sha256//" PIN_B);
  CHECK_EQ_INT(agent_pin_to_curl("", out, sizeof(out), err, sizeof(err)), -EINVAL);
  CHECK_EQ_INT(agent_pin_to_curl("abc=", out, sizeof(out), err, sizeof(err)), -EINVAL);
  CHECK(strstr(err, "pin_sha256") != NULL);
  /* hex (a common mistake) is refused */
  CHECK_EQ_INT(agent_pin_to_curl("ad0583d3e39d6e2d2d8e7ec1b3a47489b7ad0e9aa971b58f6f03f89eecd9edb5", out,
                                 sizeof(out), err, sizeof(err)),
               -EINVAL);
  CHECK_EQ_INT(
      agent_pin_to_curl("rQWDPeOdbi0tjn7Bs6R0ibetDpqpcbWPbwP4nuzZ7b!=", out, sizeof(out), err, sizeof(err)),
      -EINVAL);
  CHECK_EQ_INT(agent_pin_to_curl(PIN_A, out, 20, err, sizeof(err)), -EINVAL);
}

static int load(const char *const *argv, int argc, char *err, size_t errlen) {
  agent_config cfg;
  opt_cli cli;
  memset(&cfg, 0, sizeof(cfg));
  memset(&cli, 0, sizeof(cli));
  int r = agent_config_load(&cfg, argc, (char **)argv, &cli, err, errlen);
  if (r == 0 && strstr(argv[argc - 1], PIN_A)) CHECK_EQ_STR(cfg.pinned_pubkey, "sha256//" PIN_A);
  agent_config_clear(&cfg);
  return r;
}

static void test_config(void) {
  char err[300];
  const char *https_pin[] = {"ferry-agent",  "--agent-id", "a1", "--collector", "https://c.example:8700",
                             "--pin-sha256", PIN_A};
  CHECK_EQ_INT(load(https_pin, 7, err, sizeof(err)), 0);
  const char *http_pin[] = {"ferry-agent",           "--agent-id",   "a1", "--collector",
                            "http://127.0.0.1:8700", "--pin-sha256", PIN_A};
  CHECK_EQ_INT(load(http_pin, 7, err, sizeof(err)), -EINVAL);
  CHECK(strstr(err, "https://") != NULL);
  const char *cert_only[] = {"ferry-agent",       "--agent-id",        "a1",           "--collector",
                             "https://c.example", "--tls-client-cert", "/etc/hostname"};
  CHECK_EQ_INT(load(cert_only, 7, err, sizeof(err)), -EINVAL);
  CHECK(strstr(err, "tls_client_key") != NULL);
  const char *missing_ca[] = {"ferry-agent", "--agent-id",         "a1", "--collector", "https://c.example",
                              "--ca-file",   "/nonexistent/ca.pem"};
  CHECK_EQ_INT(load(missing_ca, 7, err, sizeof(err)), -EINVAL);
  CHECK(strstr(err, "ca_file") != NULL);
}

static void test_classes(void) {
  CHECK_EQ_INT(up_tls_failure(CURLE_OK), 0);
  CHECK_EQ_INT(up_tls_failure(CURLE_COULDNT_CONNECT), 0);
  CHECK_EQ_INT(up_tls_failure(CURLE_OPERATION_TIMEDOUT), 0);
  CHECK_EQ_INT(up_tls_failure(CURLE_PEER_FAILED_VERIFICATION), 1);
  CHECK_EQ_INT(up_tls_failure(CURLE_SSL_PINNEDPUBKEYNOTMATCH), 1);
  CHECK_EQ_INT(up_tls_failure(CURLE_SSL_CERTPROBLEM), 1);
  CHECK_EQ_INT(up_tls_failure(CURLE_SSL_CACERT_BADFILE), 1);
  CHECK_EQ_INT(up_tls_failure(CURLE_SSL_CONNECT_ERROR), 2);
  CHECK_EQ_STR(up_fail_name(UP_FAIL_TLS), "tls");
}

int main(void) {
  test_pins();
  test_config();
  test_classes();
  return check_finish("test_agent_tls");
}
