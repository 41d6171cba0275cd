/* journal_sbuf.c: the JSON string and timestamp writers the upload body
 * (journal_batch.c) and the dead-letter export (journal_deadletter.c) both
 * need, appending to a bounded common/strbuf. */
#define _GNU_SOURCE
#include "journal_int.h"

#include "timefmt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* Append s as a JSON string literal (quoted, escaped; bytes ≥ 0x80 pass). */
void journal__sb_json_str(strbuf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  if (sb_addc(b, '"') < 0) return;
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch >= 0x20 && ch != '"' && ch != '\\') continue;
    sb_add(b, s + run, i - run);
    run = i + 1;
    char esc[7];
    switch (ch) {
      case '"': sb_add(b, "\\\"", 2); break;
      case '\\': sb_add(b, "\\\\", 2); break;
      case '\n': sb_add(b, "\\n", 2); break;
      case '\r': sb_add(b, "\\r", 2); break;
      case '\t': sb_add(b, "\\t", 2); break;
      default:
        memcpy(esc, "\\u00", 4);
        esc[4] = hex[ch >> 4];
        esc[5] = hex[ch & 15];
        sb_add(b, esc, 6);
    }
  }
  sb_add(b, s + run, n - run);
  sb_add(b, "\"", 1);
}

void journal__sb_time(strbuf *b, int64_t ms) {
  char t[TF_RFC3339_LEN];
  tf_format_ms(ms, t);
  journal__sb_json_str(b, t, strlen(t));
}

bool journal__is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
