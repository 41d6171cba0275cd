/* store_answer: see store_answer.h. */
#include "store_answer.h"

#include <errno.h>
#include <stdlib.h>

char *st_answer_body(int64_t accepted, int64_t duplicates, const bt_batch *b, cJSON *rejected) {
  cJSON *a = cJSON_CreateObject();
  if (!a) {
    cJSON_Delete(rejected);
    return NULL;
  }
  cJSON_AddNumberToObject(a, "accepted", (double)accepted);
  cJSON_AddNumberToObject(a, "duplicates", (double)duplicates);
  if (!rejected) {
    rejected = cJSON_CreateArray();
    for (size_t i = 0; rejected && i < b->n; i++) {
      if (b->events[i].valid) continue;
      cJSON *o = cJSON_CreateObject();
      if (!o) break;
      cJSON_AddNumberToObject(o, "seq", (double)b->events[i].seq);
      cJSON_AddStringToObject(o, "error", b->events[i].error);
      cJSON_AddItemToArray(rejected, o);
    }
  }
  if (rejected) cJSON_AddItemToObject(a, "rejected", rejected);
  char *out = cJSON_PrintUnformatted(a);
  cJSON_Delete(a);
  return out;
}

int st_answer_replay(const char *stored, const bt_batch *b, st_result *ret) {
  cJSON *old = stored ? cJSON_Parse(stored) : NULL;
  int64_t acc = 0, dup = 0;
  cJSON *rejected = NULL;
  if (old) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(old, "accepted");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(old, "duplicates");
    acc = cJSON_IsNumber(a) ? (int64_t)a->valuedouble : 0;
    dup = cJSON_IsNumber(d) ? (int64_t)d->valuedouble : 0;
    rejected = cJSON_DetachItemFromObjectCaseSensitive(old, "rejected");
    cJSON_Delete(old);
  }
  ret->status = 200;
  ret->replay = true;
  ret->duplicates = acc + dup;
  ret->body = st_answer_body(0, acc + dup, b, rejected);
  return ret->body ? 0 : -ENOMEM;
}
