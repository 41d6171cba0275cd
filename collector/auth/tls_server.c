/* tls_server: the collector's certificate, reloadable while serving, and the
 * check of client certificates (see tls_server.h). GnuTLS does the crypto,
 * parsing and chain verification; this file only keeps the bytes and asks. */
#include "tls_server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#define TLS_FILE_MAX  (1u << 20) /* bytes in a certificate, key or CA file */
#define TLS_CHAIN_MAX 16u        /* certificates in the served chain or a client's */

typedef struct tls_material {
  gnutls_datum_t cert_pem; /* the chain as read (gnutls_malloc'd, NUL-terminated) */
  gnutls_datum_t key_pem;
  char *ca_pem; /* NUL-terminated, or NULL without mTLS */
  gnutls_x509_trust_list_t trust;
  int64_t not_after;
  char subject[256];
} tls_material;

struct tls_server {
  char *cert_file, *key_file, *ca_file;
  tls_material cur;
  char *ca_pem_start; /* the CA MHD was started with: MHD keeps the pointer */
};

static tls_server *tls__active;

static char *tls__strdup(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

/* Whole file into d (gnutls_malloc'd, NUL-terminated, size without the NUL). */
static int tls__read(const char *path, gnutls_datum_t *d, char *err, size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    int e = errno;
    snprintf(err, errlen, "%s: %s", path, strerror(e));
    return -e;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)TLS_FILE_MAX) {
    close(fd);
    snprintf(err, errlen, "%s: not a regular file of at most %u bytes", path, TLS_FILE_MAX);
    return -EINVAL;
  }
  size_t cap = (size_t)st.st_size + 1, got = 0;
  unsigned char *buf = gnutls_malloc(cap);
  if (!buf) {
    close(fd);
    snprintf(err, errlen, "%s: out of memory", path);
    return -ENOMEM;
  }
  while (got < cap - 1) {
    ssize_t k = read(fd, buf + got, cap - 1 - got);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) {
      int e = errno;
      close(fd);
      gnutls_free(buf);
      snprintf(err, errlen, "%s: %s", path, strerror(e));
      return -e;
    }
    if (k == 0) break;
    got += (size_t)k;
  }
  close(fd);
  buf[got] = '\0';
  d->data = buf;
  d->size = (unsigned)got;
  return 0;
}

static void tls__material_clear(tls_material *m) {
  if (m->key_pem.data) {
    explicit_bzero(m->key_pem.data, m->key_pem.size);
    gnutls_free(m->key_pem.data);
  }
  gnutls_free(m->cert_pem.data);
  free(m->ca_pem);
  if (m->trust) gnutls_x509_trust_list_deinit(m->trust, 1);
  memset(m, 0, sizeof(*m));
}

/* Parse the chain and key of m (already read); they must belong together. */
static int tls__check_pair(tls_material *m, const char *cert_file, const char *key_file, char *err,
                           size_t errlen) {
  gnutls_pcert_st chain[TLS_CHAIN_MAX];
  unsigned n = TLS_CHAIN_MAX;
  gnutls_privkey_t key = NULL;
  gnutls_pubkey_t pub = NULL;
  gnutls_x509_crt_t crt = NULL;
  int r = gnutls_pcert_list_import_x509_raw(chain, &n, &m->cert_pem, GNUTLS_X509_FMT_PEM, 0);
  if (r < 0 || n == 0) {
    snprintf(err, errlen, "%s: no usable PEM certificate (%s)", cert_file,
             r < 0 ? gnutls_strerror(r) : "empty");
    return -EINVAL;
  }
  int ret = -EINVAL;
  if ((r = gnutls_privkey_init(&key)) < 0 ||
      (r = gnutls_privkey_import_x509_raw(key, &m->key_pem, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
    snprintf(err, errlen, "%s: not a usable unencrypted PEM private key (%s)", key_file, gnutls_strerror(r));
    goto out;
  }
  unsigned char id1[64], id2[64];
  size_t l1 = sizeof(id1), l2 = sizeof(id2);
  if ((r = gnutls_pubkey_init(&pub)) < 0 || (r = gnutls_pubkey_import_privkey(pub, key, 0, 0)) < 0 ||
      (r = gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, id1, &l1)) < 0 ||
      (r = gnutls_pubkey_get_key_id(chain[0].pubkey, GNUTLS_KEYID_USE_SHA256, id2, &l2)) < 0) {
    snprintf(err, errlen, "%s: cannot compare the key with the certificate (%s)", key_file,
             gnutls_strerror(r));
    goto out;
  }
  if (l1 != l2 || memcmp(id1, id2, l1) != 0) {
    snprintf(err, errlen, "%s: the key does not belong to the certificate in %s", key_file, cert_file);
    goto out;
  }
  if ((r = gnutls_x509_crt_init(&crt)) < 0 ||
      (r = gnutls_x509_crt_import(crt, &chain[0].cert, GNUTLS_X509_FMT_DER)) < 0) {
    snprintf(err, errlen, "%s: %s", cert_file, gnutls_strerror(r));
    goto out;
  }
  m->not_after = (int64_t)gnutls_x509_crt_get_expiration_time(crt);
  size_t sl = sizeof(m->subject);
  if (gnutls_x509_crt_get_dn(crt, m->subject, &sl) < 0)
    snprintf(m->subject, sizeof(m->subject), "(unreadable subject)");
  ret = 0;
out:
  if (crt) gnutls_x509_crt_deinit(crt);
  if (pub) gnutls_pubkey_deinit(pub);
  if (key) gnutls_privkey_deinit(key);
  for (unsigned i = 0; i < n; i++) gnutls_pcert_deinit(&chain[i]);
  return ret;
}

static int tls__load_material(const tls_server *t, tls_material *m, char *err, size_t errlen) {
  memset(m, 0, sizeof(*m));
  int r = tls__read(t->cert_file, &m->cert_pem, err, errlen);
  if (r == 0) r = tls__read(t->key_file, &m->key_pem, err, errlen);
  if (r == 0) r = tls__check_pair(m, t->cert_file, t->key_file, err, errlen);
  if (r == 0 && t->ca_file) {
    gnutls_datum_t ca = {NULL, 0};
    r = tls__read(t->ca_file, &ca, err, errlen);
    if (r == 0) {
      int k;
      if ((k = gnutls_x509_trust_list_init(&m->trust, 0)) < 0 ||
          (k = gnutls_x509_trust_list_add_trust_mem(m->trust, &ca, NULL, GNUTLS_X509_FMT_PEM, 0, 0)) <= 0) {
        snprintf(err, errlen, "%s: no usable PEM CA certificate (%s)", t->ca_file,
                 k < 0 ? gnutls_strerror(k) : "none found");
        r = -EINVAL;
      } else {
        m->ca_pem = tls__strdup((const char *)ca.data);
        if (!m->ca_pem) {
          snprintf(err, errlen, "%s: out of memory", t->ca_file);
          r = -ENOMEM;
        }
      }
      gnutls_free(ca.data);
    }
  }
  if (r < 0) tls__material_clear(m);
  return r;
}

int tls_server_load(const char *cert_file, const char *key_file, const char *client_ca_file, tls_server **ret,
                    char *err, size_t errlen) {
  tls_server *t = calloc(1, sizeof(*t));
  if (!t) {
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  t->cert_file = tls__strdup(cert_file);
  t->key_file = tls__strdup(key_file);
  t->ca_file = tls__strdup(client_ca_file);
  if (!t->cert_file || !t->key_file || (client_ca_file && !t->ca_file)) {
    tls_server_free(t);
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  int r = tls__load_material(t, &t->cur, err, errlen);
  if (r < 0) {
    tls_server_free(t);
    return r;
  }
  if (t->cur.ca_pem) {
    t->ca_pem_start = tls__strdup(t->cur.ca_pem);
    if (!t->ca_pem_start) {
      tls_server_free(t);
      snprintf(err, errlen, "out of memory");
      return -ENOMEM;
    }
  }
  *ret = t;
  return 0;
}

int tls_server_reload(tls_server *t, char *err, size_t errlen) {
  tls_material m;
  int r = tls__load_material(t, &m, err, errlen);
  if (r < 0) return r;
  tls__material_clear(&t->cur);
  t->cur = m;
  return 0;
}

void tls_server_activate(tls_server *t) { tls__active = t; }

void tls_server_free(tls_server *t) {
  if (!t) return;
  if (tls__active == t) tls__active = NULL;
  tls__material_clear(&t->cur);
  free(t->ca_pem_start);
  free(t->cert_file);
  free(t->key_file);
  free(t->ca_file);
  free(t);
}

/* gnutls_certificate_retrieve_function3: a fresh copy of the current chain
 * and key for this handshake; GnuTLS frees it (GNUTLS_CERT_RETR_DEINIT_ALL),
 * so nothing a session holds depends on what a reload replaces. */
static int tls__retrieve(gnutls_session_t session, const struct gnutls_cert_retr_st *info,
                         gnutls_pcert_st **ret_certs, unsigned *ret_n, gnutls_ocsp_data_st **ret_ocsp,
                         unsigned *ret_ocsp_n, gnutls_privkey_t *ret_key, unsigned *ret_flags) {
  (void)session;
  (void)info;
  tls_server *t = tls__active;
  if (!t || !t->cur.cert_pem.data) return -1;
  unsigned n = TLS_CHAIN_MAX;
  gnutls_pcert_st *chain = gnutls_malloc(sizeof(*chain) * n);
  gnutls_privkey_t key = NULL;
  if (!chain) return -1;
  if (gnutls_pcert_list_import_x509_raw(chain, &n, &t->cur.cert_pem, GNUTLS_X509_FMT_PEM, 0) < 0) {
    gnutls_free(chain);
    return -1;
  }
  if (gnutls_privkey_init(&key) < 0 ||
      gnutls_privkey_import_x509_raw(key, &t->cur.key_pem, GNUTLS_X509_FMT_PEM, NULL, 0) < 0) {
    if (key) gnutls_privkey_deinit(key);
    for (unsigned i = 0; i < n; i++) gnutls_pcert_deinit(&chain[i]);
    gnutls_free(chain);
    return -1;
  }
  *ret_certs = chain;
  *ret_n = n;
  *ret_ocsp = NULL;
  *ret_ocsp_n = 0;
  *ret_key = key;
  *ret_flags = GNUTLS_CERT_RETR_DEINIT_ALL;
  return 0;
}

void *tls_server_cert_callback(void) {
  static gnutls_certificate_retrieve_function3 *const fn = tls__retrieve;
  return (void *)fn;
}

const char *tls_server_client_ca_pem(const tls_server *t) { return t ? t->ca_pem_start : NULL; }

bool tls_server_wants_client_cert(const tls_server *t) { return t && t->cur.trust; }

int64_t tls_server_expires_in_s(const tls_server *t) {
  return t ? t->cur.not_after - (int64_t)time(NULL) : 0;
}

const char *tls_server_subject(const tls_server *t) { return t ? t->cur.subject : ""; }

static void tls__add_name(tls_peer *p, const char *s, size_t len) {
  while (len && s[len - 1] == '\0') len--;
  if (p->n_names >= TLS_PEER_NAMES_MAX || len == 0 || len > TLS_PEER_NAME_MAX || memchr(s, '\0', len)) return;
  memcpy(p->names[p->n_names], s, len);
  p->names[p->n_names][len] = '\0';
  p->n_names++;
}

void tls_server_peer(const tls_server *t, void *session, tls_peer *p) {
  memset(p, 0, sizeof(*p));
  if (!session) {
    snprintf(p->why, sizeof(p->why), "the connection does not use TLS");
    return;
  }
  unsigned n = 0;
  const gnutls_datum_t *raw = gnutls_certificate_get_peers((gnutls_session_t)session, &n);
  if (!raw || n == 0) {
    snprintf(p->why, sizeof(p->why), "no client certificate was presented");
    return;
  }
  p->present = true;
  if (!t || !t->cur.trust) {
    snprintf(p->why, sizeof(p->why), "no client CA is configured");
    return;
  }
  if (n > TLS_CHAIN_MAX) n = TLS_CHAIN_MAX;
  gnutls_x509_crt_t crts[TLS_CHAIN_MAX];
  unsigned have = 0;
  for (; have < n; have++) {
    if (gnutls_x509_crt_init(&crts[have]) < 0) break;
    if (gnutls_x509_crt_import(crts[have], &raw[have], GNUTLS_X509_FMT_DER) < 0) {
      gnutls_x509_crt_deinit(crts[have]);
      break;
    }
  }
  if (have < n) {
    snprintf(p->why, sizeof(p->why), "the client certificate cannot be parsed");
    goto out;
  }
  gnutls_typed_vdata_st purpose = {.type = GNUTLS_DT_KEY_PURPOSE_OID,
                                   .data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT};
  unsigned status = 0;
  int r = gnutls_x509_trust_list_verify_crt2(t->cur.trust, crts, have, &purpose, 1, 0, &status, NULL);
  if (r < 0 || status != 0) {
    gnutls_datum_t out = {NULL, 0};
    if (r >= 0 && gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out, 0) >= 0) {
      snprintf(p->why, sizeof(p->why), "client certificate not accepted: %s", (const char *)out.data);
      gnutls_free(out.data);
    } else {
      snprintf(p->why, sizeof(p->why), "client certificate not accepted: %s",
               r < 0 ? gnutls_strerror(r) : "verification failed");
    }
    goto out;
  }
  p->verified = true;
  char buf[256];
  size_t len = sizeof(buf);
  if (gnutls_x509_crt_get_dn_by_oid(crts[0], GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf, &len) == 0)
    tls__add_name(p, buf, len);
  for (unsigned i = 0; i < 64; i++) {
    len = sizeof(buf);
    r = gnutls_x509_crt_get_subject_alt_name(crts[0], i, buf, &len, NULL);
    if (r == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) break;
    if (r == GNUTLS_SAN_DNSNAME) tls__add_name(p, buf, len);
  }
  if (p->n_names == 0)
    snprintf(p->why, sizeof(p->why), "the client certificate names no agent (CN or DNS SAN)");
out:
  for (unsigned i = 0; i < have; i++) gnutls_x509_crt_deinit(crts[i]);
}

bool tls_peer_allows(const tls_peer *p, const char *name) {
  if (!p->verified || !name) return false;
  for (unsigned i = 0; i < p->n_names; i++)
    if (strcmp(p->names[i], name) == 0) return true;
  return false;
}
