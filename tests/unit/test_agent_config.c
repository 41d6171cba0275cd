/* test_agent_config: the agent's cross-option rules — agent id syntax and the
 * refusal of "localhost", loopback detection for --listen and --collector,
 * the token file, and the one-line errors that name the key. */
#include <errno.h>
#include <stdarg.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secret_file.h"
#include "check.h"
#include "config.h"

/* Parse argv (NULL-terminated list after the program name) into a fresh config. */
static int load(agent_config *cfg, char *err, size_t errlen, ...) {
  char *argv[32];
  int argc = 0;
  va_list ap;
  argv[argc++] = "ferry-agent";
  va_start(ap, errlen);
  for (char *a; (a = va_arg(ap, char *)) && argc < 31;) argv[argc++] = a;
  va_end(ap);
  argv[argc] = NULL;
  memset(cfg, 0, sizeof(*cfg));
  opt_cli cli;
  err[0] = '\0';
  return agent_config_load(cfg, argc, argv, &cli, err, errlen);
}

static void write_file(const char *path, const char *text, mode_t mode) {
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
  chmod(path, mode);
}

int main(void) {
  char err[512];
  agent_config c;
  /* the environment must not leak into these cases */
  const char *vars[] = {"FERRY_AUTH_TOKEN",   "FERRY_AGENT_ID", "FERRY_LISTEN",         "FERRY_COLLECTOR",
                        "FERRY_INGEST_TOKEN", "FERRY_CONFIG",   "FERRY_AUTH_TOKEN_FILE"};
  for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) unsetenv(vars[i]);

  /* agent id syntax */
  CHECK(agent_id_valid("box-01.line_3"));
  CHECK(agent_id_valid("a"));
  CHECK(!agent_id_valid(""));
  CHECK(!agent_id_valid("has space"));
  CHECK(!agent_id_valid("slash/no"));
  CHECK(!agent_id_valid("colon:no"));
  CHECK(!agent_id_valid("caf\xc3\xa9"));
  char id64[66];
  memset(id64, 'a', 64);
  id64[64] = '\0';
  CHECK(agent_id_valid(id64));
  id64[64] = 'a';
  id64[65] = '\0';
  CHECK(!agent_id_valid(id64));

  /* loopback hosts */
  CHECK(agent_host_is_loopback("127.0.0.1", 9));
  CHECK(agent_host_is_loopback("127.1.2.3", 9));
  CHECK(agent_host_is_loopback("localhost", 9));
  CHECK(agent_host_is_loopback("LocalHost", 9));
  CHECK(agent_host_is_loopback("::1", 3));
  CHECK(agent_host_is_loopback("[::1]", 5));
  CHECK(!agent_host_is_loopback("128.0.0.1", 9));
  CHECK(!agent_host_is_loopback("0.0.0.0", 7));
  CHECK(!agent_host_is_loopback("10.1.2.3", 8));
  CHECK(!agent_host_is_loopback("127.0.0.1.example.com", 21));
  CHECK(!agent_host_is_loopback("localhost.evil", 14));
  CHECK(!agent_host_is_loopback("127.0.0.256", 11));
  CHECK(!agent_host_is_loopback("[::]", 4));
  CHECK(!agent_host_is_loopback("", 0));

  /* --listen */
  CHECK_EQ_INT(agent_listen_is_loopback("127.0.0.1:8787"), 1);
  CHECK_EQ_INT(agent_listen_is_loopback("[::1]:8787"), 1);
  CHECK_EQ_INT(agent_listen_is_loopback("localhost:0"), 1);
  CHECK_EQ_INT(agent_listen_is_loopback("unix:/run/ferry/agent.sock"), 1);
  CHECK_EQ_INT(agent_listen_is_loopback("0.0.0.0:8787"), 0);
  CHECK_EQ_INT(agent_listen_is_loopback("[::]:8787"), 0);
  CHECK_EQ_INT(agent_listen_is_loopback("192.168.1.10:8787"), 0);
  CHECK_EQ_INT(agent_listen_is_loopback("8787"), -EINVAL);
  CHECK_EQ_INT(agent_listen_is_loopback("127.0.0.1:"), -EINVAL);
  CHECK_EQ_INT(agent_listen_is_loopback("127.0.0.1:99999"), -EINVAL);
  CHECK_EQ_INT(agent_listen_is_loopback("::1:8787"), -EINVAL);
  CHECK_EQ_INT(agent_listen_is_loopback("unix:relative.sock"), -EINVAL);

  /* collector URL host */
  bool https;
  const char *h;
  size_t hl;
  CHECK_EQ_INT(agent_url_host("http://127.0.0.1:8700", &https, &h, &hl), 0);
  CHECK(!https && hl == 9 && strncmp(h, "127.0.0.1", 9) == 0);
  CHECK_EQ_INT(agent_url_host("HTTPS://collector.example.com/prefix", &https, &h, &hl), 0);
  CHECK(https && hl == 21);
  CHECK_EQ_INT(agent_url_host("http://[::1]:8700/", &https, &h, &hl), 0);
  CHECK(hl == 5 && agent_host_is_loopback(h, hl));
  CHECK_EQ_INT(agent_url_host("ftp://x", &https, &h, &hl), -EINVAL);
  CHECK_EQ_INT(agent_url_host("http://", &https, &h, &hl), -EINVAL);
  CHECK_EQ_INT(agent_url_host("http://:80", &https, &h, &hl), -EINVAL);
  CHECK_EQ_INT(agent_url_host("http://user:pw@host", &https, &h, &hl), -EINVAL);
  CHECK_EQ_INT(agent_url_host("http://host:80x", &https, &h, &hl), -EINVAL);
  CHECK_EQ_INT(agent_url_host("collector:8700", &https, &h, &hl), -EINVAL);

  /* whole-config validation: defaults with an explicit id pass */
  CHECK_EQ_INT(load(&c, err, sizeof(err), "--agent-id", "box1", (char *)NULL), 0);
  CHECK_EQ_STR(c.listen, "127.0.0.1:8787");
  CHECK_EQ_STR(c.collector, "http://127.0.0.1:8700");
  CHECK_EQ_INT(c.batch_max_events, 1000);
  CHECK_EQ_INT(c.batch_max_bytes, 1 << 20);
  CHECK_EQ_INT(c.max_journal_bytes, 1LL << 30);
  CHECK_EQ_INT(c.collector_max_body_bytes, 8 << 20);
  CHECK_EQ_INT(c.compression, AGENT_COMPRESSION_ZSTD);
  CHECK_EQ_INT(c.overflow, AGENT_OVERFLOW_DROP_OLDEST);
  CHECK_EQ_INT(c.durability, AGENT_DURABILITY_FSYNC);
  CHECK(c.retry_initial == 0.5 && c.retry_max == 60);
  CHECK(c.n_warnings >= 1); /* no token */
  agent_config_clear(&c);

  /* localhost refused, naming the key */
  CHECK_EQ_INT(load(&c, err, sizeof(err), "--agent-id", "localhost", (char *)NULL), -EINVAL);
  CHECK(strncmp(err, "agent_id:", 9) == 0);
  agent_config_clear(&c);
  CHECK_EQ_INT(load(&c, err, sizeof(err), "--agent-id", "bad id", (char *)NULL), -EINVAL);
  CHECK(strncmp(err, "agent_id:", 9) == 0);
  agent_config_clear(&c);

  /* without --agent-id the hostname is used, unless it is not a valid id */
  char host[256];
  if (gethostname(host, sizeof(host)) == 0 && agent_id_valid(host) && strcasecmp(host, "localhost") != 0) {
    CHECK_EQ_INT(load(&c, err, sizeof(err), (char *)NULL), 0);
    CHECK_EQ_STR(c.agent_id, host);
    agent_config_clear(&c);
  }

  /* non-loopback listen needs a token or the explicit escape hatch */
  CHECK_EQ_INT(load(&c, err, sizeof(err), "--agent-id", "b", "--listen", "0.0.0.0:8787", (char *)NULL),
               -EINVAL);
  CHECK(strncmp(err, "listen:", 7) == 0);
  agent_config_clear(&c);
  CHECK_EQ_INT(load(&c, err, sizeof(err), "--agent-id", "b", "--listen", "0.0.0.0:8787",
                    "--insecure-open-ingest", (char *)NULL),
               0);
  agent_config_clear(&c);
  setenv("FERRY_INGEST_TOKEN", "local-secret", 1);
  CHECK_EQ_INT(load(&c, err, sizeof(err), "--agent-id", "b", "--listen", "0.0.0.0:8787", (char *)NULL), 0);
  CHECK_EQ_STR(c.ingest_token, "local-secret");
  agent_config_clear(&c);
  unsetenv("FERRY_INGEST_TOKEN");
  CHECK_EQ_INT(load(&c, err, sizeof(err), "--agent-id", "b", "--listen", "nonsense", (char *)NULL), -EINVAL);
  CHECK(strncmp(err, "listen:", 7) == 0);
  agent_config_clear(&c);

  /* collector: http only to loopback unless --insecure-http */
  CHECK_EQ_INT(
      load(&c, err, sizeof(err), "--agent-id", "b", "--collector", "http://10.0.0.5:8700", (char *)NULL),
      -EINVAL);
  CHECK(strncmp(err, "collector:", 10) == 0);
  agent_config_clear(&c);
  CHECK_EQ_INT(load(&c, err, sizeof(err), "--agent-id", "b", "--collector", "http://10.0.0.5:8700",
                    "--insecure-http", (char *)NULL),
               0);
  agent_config_clear(&c);
  CHECK_EQ_INT(load(&c, err, sizeof(err), "--agent-id", "b", "--collector", "https://collector.example.com",
                    (char *)NULL),
               0);
  agent_config_clear(&c);
  CHECK_EQ_INT(
      load(&c, err, sizeof(err), "--agent-id", "b", "--collector", "http://localhost:8700", (char *)NULL), 0);
  agent_config_clear(&c);
  CHECK_EQ_INT(load(&c, err, sizeof(err), "--agent-id", "b", "--collector", "ftp://x", (char *)NULL),
               -EINVAL);
  CHECK(strncmp(err, "collector:", 10) == 0);
  agent_config_clear(&c);

  /* retry bounds */
  CHECK_EQ_INT(load(&c, err, sizeof(err), "--agent-id", "b", "--retry-initial", "10", "--retry-max", "5",
                    (char *)NULL),
               -EINVAL);
  CHECK(strncmp(err, "retry_max:", 10) == 0);
  agent_config_clear(&c);

  /* token file: whitespace stripped, permissions reported, empty refused */
  char dir[] = "/tmp/ferry-test-config-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char tf[256], ef[256];
  snprintf(tf, sizeof(tf), "%s/token", dir);
  snprintf(ef, sizeof(ef), "%s/empty", dir);
  write_file(tf, "  \n s3cr3t-token \n\n", 0600);
  write_file(ef, " \n\t\n", 0600);
  char *tok = NULL;
  bool others = true;
  CHECK_EQ_INT(secret_file_read(tf, AGENT_TOKEN_MAX, &tok, &others, err, sizeof(err)), 0);
  CHECK_EQ_STR(tok, "s3cr3t-token");
  CHECK(!others);
  free(tok);
  tok = NULL;
  CHECK(secret_file_read(ef, AGENT_TOKEN_MAX, &tok, &others, err, sizeof(err)) < 0);
  CHECK(tok == NULL);
  CHECK(secret_file_read("/nonexistent/ferry/token", AGENT_TOKEN_MAX, &tok, &others, err, sizeof(err)) < 0);
  /* a directory, a byte outside visible ASCII, one byte over the bound */
  CHECK_EQ_INT(secret_file_read(dir, AGENT_TOKEN_MAX, &tok, &others, err, sizeof(err)), -EINVAL);
  write_file(ef, "caf\xc3\xa9", 0600);
  CHECK_EQ_INT(secret_file_read(ef, AGENT_TOKEN_MAX, &tok, &others, err, sizeof(err)), -EINVAL);
  write_file(ef, "abcdef", 0600);
  CHECK_EQ_INT(secret_file_read(ef, 5, &tok, &others, err, sizeof(err)), -EINVAL);
  CHECK_EQ_INT(secret_file_read(ef, 6, &tok, &others, err, sizeof(err)), 0);
  CHECK_EQ_STR(tok, "abcdef");
  free(tok);
  tok = NULL;
  write_file(ef, " \n\t\n", 0600); /* the empty file again, for the cases below */
  chmod(tf, 0644);
  CHECK_EQ_INT(secret_file_read(tf, AGENT_TOKEN_MAX, &tok, &others, err, sizeof(err)), 0);
  CHECK(others);
  free(tok);
  chmod(tf, 0600);

  CHECK_EQ_INT(load(&c, err, sizeof(err), "--agent-id", "b", "--auth-token-file", tf, (char *)NULL), 0);
  CHECK_EQ_STR(c.auth_token, "s3cr3t-token");
  CHECK_EQ_INT(c.n_warnings, 0);
  agent_config_clear(&c);
  CHECK_EQ_INT(load(&c, err, sizeof(err), "--agent-id", "b", "--auth-token-file", ef, (char *)NULL), -EINVAL);
  CHECK(strncmp(err, "auth_token_file:", 16) == 0);
  agent_config_clear(&c);
  /* both sources at once is ambiguous */
  setenv("FERRY_AUTH_TOKEN", "from-env", 1);
  CHECK_EQ_INT(load(&c, err, sizeof(err), "--agent-id", "b", "--auth-token-file", tf, (char *)NULL), -EINVAL);
  CHECK(strncmp(err, "auth_token_file:", 16) == 0);
  agent_config_clear(&c);
  /* the environment alone works */
  CHECK_EQ_INT(load(&c, err, sizeof(err), "--agent-id", "b", (char *)NULL), 0);
  CHECK_EQ_STR(c.auth_token, "from-env");
  agent_config_clear(&c);
  unsetenv("FERRY_AUTH_TOKEN");

  unlink(tf);
  unlink(ef);
  rmdir(dir);
  /* the MQTT source's options (SPEC §6.1) */
  {
    char mh[256];
    int port = 0;
    bool tls = true;
    CHECK_EQ_INT(agent_mqtt_url("mqtt://127.0.0.1", mh, sizeof mh, &port, &tls), 0);
    CHECK_EQ_STR(mh, "127.0.0.1");
    CHECK_EQ_INT(port, 1883);
    CHECK(!tls);
    CHECK_EQ_INT(agent_mqtt_url("mqtts://broker.lan:8884/", mh, sizeof mh, &port, &tls), 0);
    CHECK_EQ_STR(mh, "broker.lan");
    CHECK_EQ_INT(port, 8884);
    CHECK(tls);
    CHECK_EQ_INT(agent_mqtt_url("MQTTS://[::1]", mh, sizeof mh, &port, &tls), 0);
    CHECK_EQ_STR(mh, "::1");
    CHECK_EQ_INT(port, 8883);
    CHECK_EQ_INT(agent_mqtt_url("http://x", mh, sizeof mh, &port, &tls), -EINVAL);
    CHECK_EQ_INT(agent_mqtt_url("mqtt://", mh, sizeof mh, &port, &tls), -EINVAL);
    CHECK_EQ_INT(agent_mqtt_url("mqtt://h:0", mh, sizeof mh, &port, &tls), -EINVAL);
    CHECK_EQ_INT(agent_mqtt_url("mqtt://h:70000", mh, sizeof mh, &port, &tls), -EINVAL);
    CHECK_EQ_INT(agent_mqtt_url("mqtt://u:p@h", mh, sizeof mh, &port, &tls), -EINVAL);
    CHECK_EQ_INT(agent_mqtt_url("mqtt://h/topic", mh, sizeof mh, &port, &tls), -EINVAL);

    CHECK_EQ_INT(load(&c, err, sizeof err, "--agent-id", "mq1", "--auth-token", "t", "--mqtt-url", "mqtt://h",
                      "--mqtt-topic", "a/+", "--mqtt-topic", "b/#", NULL),
                 0);
    CHECK_EQ_STR(c.mqtt_client_id, "ferry-mq1");
    CHECK_EQ_STR(c.mqtt_topic, "a/+\nb/#");
    CHECK_EQ_STR(c.mqtt_host, "h");
    CHECK_EQ_INT(c.mqtt_port, 1883);
    agent_config_clear(&c);
    CHECK_EQ_INT(
        load(&c, err, sizeof err, "--agent-id", "mq1", "--auth-token", "t", "--mqtt-url", "mqtt://h", NULL),
        -EINVAL);
    CHECK(strstr(err, "mqtt_topic") != NULL);
    agent_config_clear(&c);
    CHECK_EQ_INT(
        load(&c, err, sizeof err, "--agent-id", "mq1", "--auth-token", "t", "--mqtt-topic", "a", NULL),
        -EINVAL);
    CHECK(strstr(err, "mqtt_topic: needs mqtt_url") != NULL);
    agent_config_clear(&c);
    CHECK_EQ_INT(load(&c, err, sizeof err, "--agent-id", "mq1", "--auth-token", "t", "--mqtt-url", "mqtt://h",
                      "--mqtt-topic", "a/+", "--mqtt-topic", "b/#/c", NULL),
                 -EINVAL);
    CHECK(strstr(err, "mqtt_topic: \"b/#/c\" is not an MQTT topic filter") != NULL);
    agent_config_clear(&c);
    CHECK_EQ_INT(load(&c, err, sizeof err, "--agent-id", "mq1", "--auth-token", "t", "--mqtt-url", "mqtt://h",
                      "--mqtt-topic", "a", "--mqtt-ca-file", "/etc/hostname", NULL),
                 -EINVAL);
    CHECK(strstr(err, "mqtt_ca_file: needs an mqtts://") != NULL);
    agent_config_clear(&c);
    CHECK_EQ_INT(load(&c, err, sizeof err, "--agent-id", "mq1", "--auth-token", "t", "--mqtt-url", "mqtt://h",
                      "--mqtt-topic", "a", "--mapping", "/nonexistent/m.jsonc", NULL),
                 -EINVAL);
    CHECK(strstr(err, "mapping: cannot read") != NULL);
    agent_config_clear(&c);
    CHECK_EQ_INT(load(&c, err, sizeof err, "--agent-id", "mq1", "--auth-token", "t", "--map-test",
                      "/etc/hostname", NULL),
                 -EINVAL);
    CHECK(strstr(err, "map_test: needs mapping") != NULL);
    agent_config_clear(&c);
  }
  return check_finish("test_agent_config");
}
