/* journal_body.c: the stored form of an event's body. Every source event
 * carries its event_id twice — in the events.event_id column (dedup, SQL
 * index, batch bookkeeping) and as a member of its normal-form JSON. When
 * that member is the body's first one (how clients send it), the stored body
 * leaves it out: it starts at the ',' (or '}') that followed it, which no
 * normal form does, and the full body is put back together from the column
 * wherever a body leaves the journal (upload batch, dead-letter export).
 * Rows stored whole (schema 2 and before, agent-assigned ids, an id member
 * elsewhere) are read as they are. Schema 3 marks journals that may hold
 * such rows, so an older agent refuses them instead of misreading them. */
#define _GNU_SOURCE
#include "journal_int.h"

#include <string.h>

#define ID_KEY     "{\"event_id\":\""
#define ID_KEY_LEN (sizeof(ID_KEY) - 1)

size_t journal__body_id_prefix(const char *body, size_t blen, const char *id, size_t idlen) {
  /* a source event_id is [A-Za-z0-9._:-]+ (SPEC §1), so its JSON string is
   * the id in quotes: the prefix is matched byte for byte */
  size_t plen = ID_KEY_LEN + idlen + 1;
  if (!id || !idlen || blen <= plen || memcmp(body, ID_KEY, ID_KEY_LEN) != 0 ||
      memcmp(body + ID_KEY_LEN, id, idlen) != 0 || body[ID_KEY_LEN + idlen] != '"')
    return 0;
  if (body[plen] != ',' && body[plen] != '}') return 0;
  for (size_t i = 0; i < idlen; i++)
    if (id[i] == '"' || id[i] == '\\' || (unsigned char)id[i] < 0x20) return 0;
  return plen;
}

bool journal__body_stripped(const char *body, size_t blen) {
  return body && blen && (body[0] == ',' || body[0] == '}');
}

void journal__sb_id_member(strbuf *b, const char *id, size_t idlen) {
  sb_add(b, ID_KEY, ID_KEY_LEN - 1);
  journal__sb_json_str(b, id, idlen);
}

void journal__sb_body(strbuf *b, const char *body, size_t blen, const char *id, size_t idlen) {
  if (journal__body_stripped(body, blen)) journal__sb_id_member(b, id, idlen);
  sb_add(b, body, blen);
}
