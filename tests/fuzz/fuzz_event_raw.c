/* fuzz_event_raw: the agent's ingest path (ev_parse_body_raw, which keeps the
 * received text as the normal form when it already is one) against the
 * reference path (ev_parse_body, which always prints it): on any input both
 * must return the same, report the same errors and give the same events,
 * byte for byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "json_arena.h"

static ev_errors e1, e2;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_str(const char *a, const char *b) { return (!a || !b) ? a == b : strcmp(a, b) == 0; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ja_install(); /* the ingest paths as the programs run them: trees in JSON arenas */
  const char *body = (const char *)data;
  for (int kind = 0; kind < 2; kind++) {
    for (unsigned flags = 0; flags <= EV_FROM_AGENT; flags += EV_FROM_AGENT) {
      ev_body_kind k = kind ? EV_BODY_NDJSON : EV_BODY_JSON;
      ev_batch a = {0}, b = {0};
      int ra = ev_parse_body(body, size, k, flags, &a, &e1);
      int rb = ev_parse_body_raw(body, size, k, flags, &b, &e2);
      if (ra != rb || e1.total != e2.total || e1.n != e2.n || a.n != b.n) abort();
      for (size_t i = 0; i < e1.n; i++)
        if (e1.items[i].index != e2.items[i].index || strcmp(e1.items[i].field, e2.items[i].field) != 0 ||
            strcmp(e1.items[i].message, e2.items[i].message) != 0)
          abort();
      for (size_t i = 0; i < a.n; i++) {
        const ev_event *x = &a.items[i], *y = &b.items[i];
        if (x->json_len != y->json_len || memcmp(x->json, y->json, x->json_len + 1) != 0 ||
            x->ts_ms != y->ts_ms || x->type != y->type || x->count != y->count || x->seq != y->seq ||
            x->ingested_at_ms != y->ingested_at_ms || !same_str(x->event_id, y->event_id) ||
            !same_str(x->worker_id, y->worker_id) || !same_str(x->workstation_id, y->workstation_id))
          abort();
      }
      ev_batch_clear(&a);
      ev_batch_clear(&b);
    }
  }
  return 0;
}
