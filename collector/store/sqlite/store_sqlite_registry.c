/* store_sqlite_registry: the plant registry in the SQLite store — a table of
 * document versions (schema v5). Writes are rare and whole, so the
 * statements are prepared when used rather than kept with the hot ones. */
#include "store_sqlite_plant.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SSR_KEEP 20 /* versions kept (the older ones are deleted) */

static const char ssr_latest[] =
    "SELECT version, updated_at, doc FROM registry ORDER BY version DESC LIMIT 1";
static const char ssr_latest_version[] =
    "SELECT version, updated_at FROM registry ORDER BY version DESC LIMIT 1";

static int ssr__latest(store_sqlite *s, int64_t *ret_version, int64_t *ret_updated_ms, char **ret_doc) {
  sqlite3_stmt *st = NULL;
  *ret_version = 0;
  if (ret_updated_ms) *ret_updated_ms = 0;
  if (ret_doc) *ret_doc = NULL;
  if (sqlite3_prepare_v2(s->db, ret_doc ? ssr_latest : ssr_latest_version, -1, &st, NULL) != SQLITE_OK)
    return ss__fail(s, "read registry");
  int rc = sqlite3_step(st), r = 0;
  if (rc == SQLITE_ROW) {
    *ret_version = sqlite3_column_int64(st, 0);
    if (ret_updated_ms) *ret_updated_ms = sqlite3_column_int64(st, 1);
    const char *doc = ret_doc ? (const char *)sqlite3_column_text(st, 2) : NULL;
    if (ret_doc && !(*ret_doc = strdup(doc ? doc : "{}"))) r = -ENOMEM;
  } else if (rc != SQLITE_DONE) {
    r = ss__fail(s, "read registry");
  }
  sqlite3_finalize(st);
  return r;
}

int ssr_registry_get(store *base, int64_t *ret_version, int64_t *ret_updated_ms, char **ret_doc) {
  return ssr__latest(SS(base), ret_version, ret_updated_ms, ret_doc);
}

int ssr_registry_put(store *base, st_registry_edit edit, void *arg, int64_t now_ms, int64_t *ret_version) {
  store_sqlite *s = SS(base);
  if (s->reader) return -EROFS;
  if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
    return ss__fail(s, "begin registry write");
  int64_t version = 0;
  char *cur = NULL, *next = NULL;
  sqlite3_stmt *st = NULL;
  int r = ssr__latest(s, &version, NULL, &cur);
  if (r == 0) r = edit(arg, cur, version, &next);
  if (r == 0) {
    if (sqlite3_prepare_v2(s->db, "INSERT INTO registry(version, updated_at, doc) VALUES(?1, ?2, ?3)", -1,
                           &st, NULL) != SQLITE_OK) {
      r = ss__fail(s, "write registry");
    } else {
      sqlite3_bind_int64(st, 1, version + 1);
      sqlite3_bind_int64(st, 2, now_ms);
      sqlite3_bind_text(st, 3, next, -1, SQLITE_STATIC);
      r = ss__exec(s, st, "write registry");
      sqlite3_finalize(st);
    }
  }
  if (r == 0) {
    if (sqlite3_prepare_v2(s->db, "DELETE FROM registry WHERE version <= ?1", -1, &st, NULL) != SQLITE_OK) {
      r = ss__fail(s, "trim registry versions");
    } else {
      sqlite3_bind_int64(st, 1, version + 1 - SSR_KEEP);
      r = ss__exec(s, st, "trim registry versions");
      sqlite3_finalize(st);
    }
  }
  if (r == 0 && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
    r = ss__fail(s, "commit registry");
  if (r != 0) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  else *ret_version = version + 1;
  free(cur);
  free(next);
  return r;
}
