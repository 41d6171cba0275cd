/* registry_edit: see registry_edit.h. */
#include "registry_edit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

int reg_put_edit(void *arg, const char *cur_doc, int64_t cur_version, char **ret_doc) {
  reg_put *p = arg;
  (void)cur_version;
  cJSON *doc = NULL;
  int r;
  if (p->csv) {
    cJSON *cur = NULL;
    if (cur_doc && !(cur = cJSON_Parse(cur_doc))) return -EIO;
    r = reg_doc_with_csv(cur, p->kind, p->body, p->len, &doc, &p->errs);
    cJSON_Delete(cur);
  } else {
    r = reg_doc_from_json(p->body, p->len, &doc, &p->errs);
  }
  if (r != 0) return r;
  for (int k = 0; k < REG_N_KINDS; k++)
    p->counts[k] =
        (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, reg_kind_name((reg_kind)k)));
  char *text = cJSON_PrintUnformatted(doc);
  cJSON_Delete(doc);
  if (!text) return -ENOMEM;
  *ret_doc = strdup(text); /* the store frees with free() */
  cJSON_free(text);
  return *ret_doc ? 0 : -ENOMEM;
}

cJSON *reg_put_answer(const reg_put *p, int64_t version) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddNumberToObject(o, "version", (double)version);
  for (int k = 0; k < REG_N_KINDS; k++)
    cJSON_AddNumberToObject(o, reg_kind_name((reg_kind)k), (double)p->counts[k]);
  return o;
}

int reg_index_load(store *st, reg_index **ret) {
  int64_t version = 0, at = 0;
  char *text = NULL;
  int r = st->ops->registry_get(st, &version, &at, &text);
  if (r < 0) return r;
  cJSON *doc = text ? cJSON_Parse(text) : NULL;
  free(text);
  if (text && !doc) return -ENOMEM;
  r = reg_index_build(doc, version, ret);
  cJSON_Delete(doc);
  return r;
}
