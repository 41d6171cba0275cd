/* store_pg_registry: the plant registry in the PostgreSQL store — a table of
 * document versions (schema v3). A write holds an advisory lock for its
 * transaction, so replicas (and `ferry-collector registry import`) writing
 * at once take turns and every version is built on the one before it. */
#include "store_pg_plant.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPR_KEEP 20 /* versions kept (the older ones are deleted) */

static int spr__latest(store_pg *s, int64_t *ret_version, int64_t *ret_updated_ms, char **ret_doc) {
  *ret_version = 0;
  if (ret_updated_ms) *ret_updated_ms = 0;
  if (ret_doc) *ret_doc = NULL;
  PGresult *res =
      PQexec(s->conn, ret_doc ? "SELECT version, updated_at, doc FROM registry ORDER BY version DESC LIMIT 1"
                              : "SELECT version, updated_at FROM registry ORDER BY version DESC LIMIT 1");
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    int r = sp__fail(s, "read registry", res);
    PQclear(res);
    return r;
  }
  int r = 0;
  if (PQntuples(res) == 1) {
    *ret_version = sp__i64(res, 0, 0);
    if (ret_updated_ms) *ret_updated_ms = sp__i64(res, 0, 1);
    if (ret_doc && !(*ret_doc = strdup(PQgetvalue(res, 0, 2)))) r = -ENOMEM;
  }
  PQclear(res);
  return r;
}

int spr_registry_get(store *base, int64_t *ret_version, int64_t *ret_updated_ms, char **ret_doc) {
  store_pg *s = SP(base);
  int r = sp__ready(s);
  return r < 0 ? r : spr__latest(s, ret_version, ret_updated_ms, ret_doc);
}

int spr_registry_put(store *base, st_registry_edit edit, void *arg, int64_t now_ms, int64_t *ret_version) {
  store_pg *s = SP(base);
  if (s->reader) return -EROFS;
  char lock[96];
  snprintf(lock, sizeof(lock), "SELECT pg_advisory_xact_lock(%d, 1)", SP_LOCK_NS_MIGRATE);
  int r = sp__sql(s, "BEGIN", "begin registry write");
  if (r < 0) return r;
  if (r == 0) r = sp__sql(s, lock, "lock the registry");
  int64_t version = 0;
  char *cur = NULL, *next = NULL;
  if (r == 0) r = spr__latest(s, &version, NULL, &cur);
  if (r == 0) r = edit(arg, cur, version, &next);
  if (r == 0) {
    char v[24], at[24], keep[24];
    snprintf(v, sizeof(v), "%" PRId64, version + 1);
    snprintf(at, sizeof(at), "%" PRId64, now_ms);
    snprintf(keep, sizeof(keep), "%" PRId64, version + 1 - SPR_KEEP);
    const char *p[3] = {v, at, next};
    PGresult *res = PQexecParams(s->conn, "INSERT INTO registry(version, updated_at, doc) VALUES($1, $2, $3)",
                                 3, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) r = sp__fail(s, "write registry", res);
    PQclear(res);
    if (r == 0) {
      const char *q[1] = {keep};
      res = PQexecParams(s->conn, "DELETE FROM registry WHERE version <= $1", 1, NULL, q, NULL, NULL, 0);
      if (PQresultStatus(res) != PGRES_COMMAND_OK) r = sp__fail(s, "trim registry versions", res);
      PQclear(res);
    }
  }
  if (r == 0) r = sp__sql(s, "COMMIT", "commit registry");
  if (r != 0 && s->conn && PQstatus(s->conn) == CONNECTION_OK) PQclear(PQexec(s->conn, "ROLLBACK"));
  if (r == 0) *ret_version = version + 1;
  free(cur);
  free(next);
  return r;
}
