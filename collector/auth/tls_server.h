/* tls_server: the collector's TLS identity and its client-certificate check.
 * It exists so that HTTPS is served by libmicrohttpd (GnuTLS) with a
 * certificate that can be replaced while serving: MHD asks for the
 * certificate at every handshake through tls_server_cert_callback(), which
 * hands GnuTLS a fresh copy of the current one (GnuTLS frees it), so a reload
 * only swaps the bytes kept here and never touches a session in progress.
 *
 * Client certificates (mTLS): with a client CA file, MHD asks every client
 * for a certificate (optional at the TLS level); tls_server_peer() verifies
 * the chain against the CA, the validity dates and the client-auth purpose,
 * and returns the names (subject CN and DNS/URI SANs) the agent may write as.
 *
 * One tls_server per process (the GnuTLS callback has no user pointer): the
 * one tls_server_activate() chose. Loop thread only. Nothing here logs. */
#ifndef FERRY_COLLECTOR_TLS_SERVER_H
#define FERRY_COLLECTOR_TLS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLS_PEER_NAMES_MAX 16
#define TLS_PEER_NAME_MAX  64

typedef struct tls_server tls_server;

typedef struct tls_peer {
  bool present;  /* the client sent a certificate */
  bool verified; /* it chains to the client CA, is in date, may authenticate clients */
  char why[160]; /* !verified: what is wrong */
  unsigned n_names;
  char names[TLS_PEER_NAMES_MAX][TLS_PEER_NAME_MAX + 1];
} tls_peer;

/* Read and check cert_file (PEM chain, leaf first), key_file (PEM) and, when
 * not NULL, client_ca_file (PEM, one or more CAs). The key must match the
 * certificate. 0, or a negative errno with "FILE: why" in err. */
int tls_server_load(const char *cert_file, const char *key_file, const char *client_ca_file, tls_server **ret,
                    char *err, size_t errlen);
/* Re-read the same files. On any error the previous certificate, key and
 * CA stay in use (and err says why); sessions already established are never
 * affected, new handshakes get the new certificate. */
int tls_server_reload(tls_server *t, char *err, size_t errlen);
/* Make t the identity the callback serves (NULL to clear). */
void tls_server_activate(tls_server *t);
void tls_server_free(tls_server *t);

/* For httpd_config: a gnutls_certificate_retrieve_function3 *, and the
 * client CA as PEM text (NULL without mTLS) for MHD_OPTION_HTTPS_MEM_TRUST. */
void *tls_server_cert_callback(void);
const char *tls_server_client_ca_pem(const tls_server *t);
bool tls_server_wants_client_cert(const tls_server *t);
/* Seconds until the served certificate expires (negative: expired). */
int64_t tls_server_expires_in_s(const tls_server *t);
/* Subject of the served certificate, for logs. */
const char *tls_server_subject(const tls_server *t);

/* The client of a gnutls_session_t (from httpd_req_tls_session). */
void tls_server_peer(const tls_server *t, void *session, tls_peer *ret);
/* Whether name is one of peer's names (exact, case-sensitive). */
bool tls_peer_allows(const tls_peer *p, const char *name);

#endif
