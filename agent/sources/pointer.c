/* pointer: RFC 6901 evaluation for the mapping engine. See pointer.h. */
#include "pointer.h"

#include <string.h>

bool jp_valid(const char *ptr) {
  if (!ptr) return false;
  size_t n = strlen(ptr);
  if (n > JP_MAX_LEN) return false;
  if (n == 0) return true;
  if (ptr[0] != '/') return false;
  for (size_t i = 0; i < n; i++)
    if (ptr[i] == '~' && (i + 1 >= n || (ptr[i + 1] != '0' && ptr[i + 1] != '1'))) return false;
  return true;
}

/* Unescape one reference token [s, s+len) into out (at most JP_MAX_LEN). */
static size_t unescape(const char *s, size_t len, char *out) {
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '~' && i + 1 < len) {
      out[o++] = s[i + 1] == '1' ? '/' : '~';
      i++;
    } else {
      out[o++] = s[i];
    }
  }
  out[o] = '\0';
  return o;
}

static const cJSON *member(const cJSON *obj, const char *name, size_t len) {
  for (const cJSON *c = obj->child; c; c = c->next)
    if (c->string && strlen(c->string) == len && memcmp(c->string, name, len) == 0) return c;
  return NULL;
}

static const cJSON *element(const cJSON *arr, const char *tok, size_t len) {
  if (len == 0 || len > 9 || (len > 1 && tok[0] == '0')) return NULL;
  int idx = 0;
  for (size_t i = 0; i < len; i++) {
    if (tok[i] < '0' || tok[i] > '9') return NULL;
    idx = idx * 10 + (tok[i] - '0');
  }
  const cJSON *c = arr->child;
  for (int i = 0; c && i < idx; i++) c = c->next;
  return c;
}

const cJSON *jp_get(const cJSON *root, const char *ptr) {
  if (!root || !jp_valid(ptr)) return NULL;
  const cJSON *cur = root;
  const char *p = ptr;
  char tok[JP_MAX_LEN + 1];
  while (*p) {
    p++; /* the '/' */
    size_t len = strcspn(p, "/");
    size_t tl = unescape(p, len, tok);
    if (cJSON_IsObject(cur)) cur = member(cur, tok, tl);
    else if (cJSON_IsArray(cur)) cur = element(cur, tok, tl);
    else cur = NULL;
    if (!cur) return NULL;
    p += len;
  }
  return cur;
}
