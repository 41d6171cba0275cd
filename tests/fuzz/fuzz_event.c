/* fuzz_event: the agent's ingest parser reads bytes from any local process and
 * the collector re-reads them from any agent, so ev_parse_body must survive
 * every input: run it as JSON and as NDJSON, with and without EV_FROM_AGENT,
 * and free whatever it returns. On success, every event's normal form must be
 * accepted again (the journal and the collector rely on that). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "json_arena.h"

static ev_errors errs;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ja_install(); /* the ingest paths as the programs run them: trees in JSON arenas */
  const char *body = (const char *)data;
  for (int kind = 0; kind < 2; kind++) {
    for (unsigned flags = 0; flags <= EV_FROM_AGENT; flags += EV_FROM_AGENT) {
      ev_batch b = {0};
      int r = ev_parse_body(body, size, kind ? EV_BODY_NDJSON : EV_BODY_JSON, flags, &b, &errs);
      if (r == 0) {
        for (size_t i = 0; i < b.n; i++) {
          ev_event *e = &b.items[i];
          if (!e->json || strlen(e->json) != e->json_len) abort();
          if (!ev_utf8_valid(e->json, e->json_len)) abort();
          /* The normal form of an agent-side event drops seq/ingested_at,
           * so re-check it as a source event, unless its id is the agent's. */
          if (flags == 0) {
            ev_batch again = {0};
            if (ev_parse_body(e->json, e->json_len, EV_BODY_JSON, 0, &again, &errs) != 0 || again.n != 1 ||
                strcmp(again.items[0].json, e->json) != 0)
              abort();
            ev_batch_clear(&again);
          }
        }
        ev_batch_clear(&b);
      } else if (errs.total == 0 || errs.n > EV_MAX_ERRORS || errs.n > errs.total) {
        abort();
      }
    }
  }
  return 0;
}
