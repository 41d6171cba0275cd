/* httpd_listen: the listening sockets of common/httpd (httpd_listen.c);
 * internal to httpd. */
#ifndef FERRY_HTTPD_LISTEN_H
#define FERRY_HTTPD_LISTEN_H

#include <stddef.h>

/* err gets the message (printf-style; nothing when err is NULL). */
void httpd__seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Listen on Unix socket path (spec is the option text, for messages): the fd,
 * and *ret_path (malloc'd) to unlink at close; or a negative errno with err. */
int httpd__listen_unix(const char *spec, const char *path, char **ret_path, char *err, size_t errlen);
/* Listen on "HOST:PORT" (numeric host, [v6]:port): the fd and the bound port
 * in *ret_port; or a negative errno with err. */
int httpd__listen_inet(const char *spec, unsigned *ret_port, char *err, size_t errlen);

#endif
