/* test_json_arena: the bump arena behind cJSON's hooks — trees built in a
 * scope live in the arena and their frees are no-ops, a reset reuses the
 * same memory, allocations past the cap and while paused come from malloc
 * and are freed for real, scopes nest, each thread has its own arena (freed
 * when the thread ends), and under AddressSanitizer a tree used after its
 * reset lies in poisoned memory. */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "event.h"
#include "json_arena.h"

#if defined(__SANITIZE_ADDRESS__)
#define T_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_ASAN 1
#endif
#endif
#ifdef T_ASAN
#include <sanitizer/asan_interface.h>
#endif

static const char doc[] =
    "{\"event_id\":\"e-1\",\"event_type\":\"working\",\"workstation_id\":\"ws-7\",\"worker_id\":\"k\","
    "\"timestamp\":\"2026-01-02T03:04:05.678Z\",\"attributes\":{\"a\":[1,2,{\"b\":null}]}}";

static void test_not_installed(void) {
  CHECK(!ja_installed());
  ja_enter();
  cJSON *o = cJSON_Parse(doc);
  CHECK(o != NULL);
  CHECK(!ja_owns(o));
  CHECK_EQ_INT(ja_used(), 0);
  cJSON_Delete(o);
  ja_leave();
}

static void test_scope(void) {
  ja_enter();
  cJSON *o = cJSON_Parse(doc);
  CHECK(o != NULL);
  CHECK(ja_owns(o));
  CHECK(o->child && ja_owns(o->child) && ja_owns(o->child->string) && ja_owns(o->child->valuestring));
  size_t used = ja_used();
  CHECK(used > 0);
  CHECK(ja_reserved() >= used);
  /* an edit through the hooks: the old string's free is a no-op, the new one is in the arena */
  cJSON *ts = cJSON_GetObjectItemCaseSensitive(o, "timestamp");
  CHECK(cJSON_SetValuestring(ts, "2026-01-02T03:04:05.678000Z") != NULL);
  CHECK(ja_owns(ts->valuestring));
  /* printed while paused: malloc'd, outlives the scope */
  ja_pause();
  char *text = cJSON_PrintUnformatted(o);
  ja_resume();
  CHECK(text != NULL && !ja_owns(text));
  char *in = cJSON_PrintUnformatted(o); /* not paused: in the arena */
  CHECK(in != NULL && ja_owns(in));
  CHECK_EQ_STR(in, text);
  cJSON_free(in);
  cJSON_Delete(o);
  CHECK(ja_used() > used); /* frees gave nothing back before the reset */
  ja_leave();
  CHECK_EQ_INT(ja_used(), 0);
  CHECK(strstr(text, "678000Z") != NULL);
  free(text);

  /* outside a scope: plain malloc, freed for real through the hook */
  cJSON *h = cJSON_Parse(doc);
  CHECK(h != NULL && !ja_owns(h));
  cJSON_Delete(h);
}

static void test_reuse_and_nesting(void) {
  ja_enter();
  cJSON *a = cJSON_Parse(doc);
  ja_leave();
  size_t reserved = ja_reserved();
  for (int i = 0; i < 1000; i++) {
    ja_enter();
    cJSON *b = cJSON_Parse(doc);
    CHECK(b == a || i > 0); /* the same memory again after a reset */
    if (i == 0) CHECK(b == a);
    ja_enter(); /* nested: the inner leave does not reset */
    cJSON *c = cJSON_CreateString("inner");
    ja_leave();
    CHECK(ja_owns(c) && ja_used() > 0);
    CHECK_EQ_STR(c->valuestring, "inner");
    cJSON_Delete(c);
    cJSON_Delete(b);
    ja_leave();
  }
  CHECK_EQ_INT(ja_reserved(), reserved); /* no growth from parse to parse */
  CHECK_EQ_INT(ja_used(), 0);
}

static void test_cap(void) {
  size_t big = 60 * 1024;
  char *s = malloc(big + 1);
  memset(s, 'x', big);
  s[big] = '\0';
  ja_enter();
  cJSON *arr = cJSON_CreateArray();
  int owned = 0, heap = 0;
  for (int i = 0; i < 200; i++) { /* 200 * 60 KiB > JA_CAP */
    cJSON *v = cJSON_CreateString(s);
    CHECK(v != NULL);
    if (!v) break;
    if (ja_owns(v->valuestring)) owned++;
    else heap++;
    cJSON_AddItemToArray(arr, v);
  }
  CHECK(owned > 0 && heap > 0);
  CHECK(ja_reserved() <= JA_CAP);
  CHECK(ja_used() <= JA_CAP);
  /* one allocation larger than the cap: malloc */
  char *huge = malloc(JA_CAP + 1);
  memset(huge, 'y', JA_CAP);
  huge[JA_CAP] = '\0';
  cJSON *hv = cJSON_CreateString(huge);
  CHECK(hv && !ja_owns(hv->valuestring));
  cJSON_AddItemToArray(arr, hv);
  free(huge);
  /* the malloc'd strings are freed for real here (LeakSanitizer would see them otherwise) */
  cJSON_Delete(arr);
  ja_leave();
  free(s);
  CHECK(ja_reserved() <= JA_CAP);
}

/* ja_whole: true only while every allocation of the scope came from the
 * arena, so a caller may skip cJSON_Delete exactly then. */
static void test_whole(void) {
  CHECK(!ja_whole()); /* outside a scope */
  ja_enter();
  CHECK(ja_whole());
  cJSON *o = cJSON_Parse(doc);
  CHECK(o != NULL && ja_whole());
  ja_pause(); /* paused allocations belong to the caller: they do not count */
  char *text = cJSON_PrintUnformatted(o);
  ja_resume();
  CHECK(text != NULL && !ja_owns(text) && ja_whole());
  free(text);
  char *huge = malloc(JA_CAP + 1);
  memset(huge, 'y', JA_CAP);
  huge[JA_CAP] = '\0';
  cJSON *hv = cJSON_CreateString(huge); /* past the cap: malloc */
  free(huge);
  CHECK(hv && !ja_owns(hv->valuestring));
  CHECK(!ja_whole());
  cJSON_Delete(hv);
  cJSON_Delete(o);
  ja_leave();
  CHECK(!ja_whole());
  ja_enter(); /* a new scope starts whole again */
  CHECK(ja_whole());
  ja_leave();
}

static void *thread_main(void *arg) {
  const void *other = arg;
  ja_enter();
  cJSON *o = cJSON_Parse(doc);
  int ok = o && ja_owns(o) && !ja_owns(other);
  cJSON_Delete(o);
  ja_leave();
  /* ends without ja_thread_done(): the key's destructor frees the arena */
  return (void *)(intptr_t)ok;
}

static void test_threads(void) {
  ja_enter();
  cJSON *mine = cJSON_Parse(doc);
  for (int i = 0; i < 4; i++) {
    pthread_t t;
    void *ok = NULL;
    CHECK(pthread_create(&t, NULL, thread_main, mine) == 0);
    CHECK(pthread_join(t, &ok) == 0);
    CHECK(ok == (void *)1);
  }
  CHECK(ja_owns(mine));
  cJSON_Delete(mine);
  ja_leave();
}

static void test_poisoned_after_reset(void) {
#ifdef T_ASAN
  ja_enter();
  cJSON *o = cJSON_Parse(doc);
  CHECK(__asan_address_is_poisoned(o) == 0);
  ja_leave(); /* o not deleted: it must not be touched any more */
  CHECK(__asan_address_is_poisoned(o) == 1);
  CHECK(__asan_address_is_poisoned((char *)o + sizeof(cJSON) - 1) == 1);
#else
  fprintf(stderr, "test_json_arena: not built with AddressSanitizer, poisoning not checked\n");
#endif
}

/* The agent's ingest path in an arena: events come out whole, their strings
 * outside the arena, and the arena is reset after each event. */
static void test_ingest_path(void) {
  static ev_errors errs;
  char body[4096];
  snprintf(body, sizeof body,
           "[%s, %s "
           ",{\"event_type\":\"idle\",\"workstation_id\":\"w\",\"worker_id\":\"k\",\"timestamp\":\"2026-01-"
           "02T03:04:05+01:00\"}]",
           doc, doc);
  for (int raw = 0; raw < 2; raw++) {
    ev_batch b = {0};
    int r = raw ? ev_parse_body_raw(body, strlen(body), EV_BODY_JSON, 0, &b, &errs)
                : ev_parse_body(body, strlen(body), EV_BODY_JSON, 0, &b, &errs);
    CHECK_EQ_INT(r, 0);
    for (size_t i = 0; i < errs.n; i++)
      fprintf(stderr, "error: %s: %s\n", errs.items[i].field, errs.items[i].message);
    CHECK_EQ_INT(b.n, 3);
    if (b.n != 3) return;
    CHECK_EQ_INT(ja_used(), 0);
    for (size_t i = 0; i < b.n; i++) {
      CHECK(!ja_owns(b.items[i].json) && !ja_owns(b.items[i].workstation_id));
      CHECK(b.items[i].json && b.items[i].json[0] == '{');
    }
    CHECK_EQ_STR(b.items[2].json, "{\"event_type\":\"idle\",\"workstation_id\":\"w\",\"worker_id\":\"k\","
                                  "\"timestamp\":\"2026-01-02T02:04:05.000Z\"}");
    ev_batch_clear(&b);
  }
}

int main(void) {
  test_not_installed();
  ja_install();
  ja_install();
  CHECK(ja_installed());
  test_scope();
  test_reuse_and_nesting();
  test_cap();
  test_whole();
  test_threads();
  test_poisoned_after_reset();
  test_ingest_path();
  ja_thread_done();
  return check_finish("test_json_arena");
}
