/* test_collector_reg_cache: the registry cache's periodic refresh reads the
 * registry's version first and the document only when the version is newer
 * than the one it holds: an unchanged registry is not re-read, a new version
 * (written through any handle) is, and the index held is then the new one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "reg_cache.h"
#include "registry.h"
#include "store.h"

static int edit_empty(void *arg, const char *cur_doc, int64_t cur_version, char **ret_doc) {
  (void)arg;
  (void)cur_doc;
  (void)cur_version;
  *ret_doc = strdup("{}");
  return *ret_doc ? 0 : -1;
}

static int64_t held_version(reg_cache *c) {
  reg_ref *r = reg_cache_acquire(c);
  int64_t v = reg_index_version(reg_ref_index(r));
  reg_cache_release(c, r);
  return v;
}

int main(void) {
  char dir[] = "/tmp/ferry-test-regcache-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[300], err[300] = "";
  snprintf(path, sizeof(path), "%s/c.db", dir);
  store *s = NULL, *rd = NULL;
  reg_cache *c = NULL;
  CHECK_EQ_INT(store_sqlite_open(path, 600000, &s, err, sizeof(err)), 0);
  CHECK_EQ_INT(reg_cache_new(&c), 0);
  if (!s || !c) {
    fprintf(stderr, "open: %s\n", err);
    return check_finish("test_collector_reg_cache");
  }
  CHECK_EQ_INT(s->ops->open_reader(s, &rd, err, sizeof(err)), 0);
  bool loaded = true;

  /* no registry yet: nothing to read */
  CHECK_EQ_INT(reg_cache_refresh(c, rd, &loaded), 0);
  CHECK(!loaded);
  CHECK_EQ_INT(held_version(c), 0);

  int64_t v = 0;
  CHECK_EQ_INT(s->ops->registry_put(s, edit_empty, NULL, 1000, &v), 0);
  CHECK_EQ_INT(v, 1);
  CHECK_EQ_INT(reg_cache_refresh(c, rd, &loaded), 0);
  CHECK(loaded);
  CHECK_EQ_INT(held_version(c), 1);
  reg_ref *first = reg_cache_acquire(c);

  /* unchanged: the version is read, the document is not, the index stays */
  for (int i = 0; i < 3; i++) {
    CHECK_EQ_INT(reg_cache_refresh(c, rd, &loaded), 0);
    CHECK(!loaded);
  }
  reg_ref *same = reg_cache_acquire(c);
  CHECK(same == first);
  reg_cache_release(c, same);
  reg_cache_release(c, first);

  /* the version-only read answers what the full read does */
  int64_t v_only = -1, at_only = -1, v_full = -2, at_full = -2;
  char *doc = NULL;
  CHECK_EQ_INT(rd->ops->registry_get(rd, &v_only, &at_only, NULL), 0);
  CHECK_EQ_INT(rd->ops->registry_get(rd, &v_full, &at_full, &doc), 0);
  CHECK_EQ_INT(v_only, v_full);
  CHECK_EQ_INT(at_only, at_full);
  CHECK_EQ_STR(doc, "{}");
  free(doc);

  /* a new version is read */
  CHECK_EQ_INT(s->ops->registry_put(s, edit_empty, NULL, 2000, &v), 0);
  CHECK_EQ_INT(reg_cache_refresh(c, rd, &loaded), 0);
  CHECK(loaded);
  CHECK_EQ_INT(held_version(c), 2);
  CHECK_EQ_INT(reg_cache_refresh(c, rd, &loaded), 0);
  CHECK(!loaded);

  reg_cache_free(c);
  rd->ops->close(rd);
  s->ops->close(s);
  char cmd[400];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  CHECK_EQ_INT(system(cmd), 0);
  return check_finish("test_collector_reg_cache");
}
