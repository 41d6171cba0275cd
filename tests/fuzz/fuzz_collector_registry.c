/* fuzz_collector_registry: the registry's CSV and JSON imports come from
 * whoever holds the admin token (or a spreadsheet), so csv_parse and the
 * document validation must survive every input. The first byte picks the
 * path: CSV of one kind (merged into a small valid document) or a whole JSON
 * document. A parse must be consistent: every row holds n_cols fields, row
 * numbers grow, an accepted document validates again and exports to CSV
 * that is accepted again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char base[] = "{\"sites\":[{\"id\":\"S\"}],\"lines\":[{\"id\":\"L\",\"site\":\"S\"}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  unsigned sel = data[0];
  const char *text = (const char *)data + 1;
  size_t len = size - 1;
  reg_errors errs;
  cJSON *doc = NULL;
  if (sel & 0x80) {
    if (reg_doc_from_json(text, len, &doc, &errs) == 0) {
      cJSON *again = NULL;
      char *s = cJSON_PrintUnformatted(doc);
      if (!s || reg_doc_from_json(s, strlen(s), &again, &errs) != 0) abort();
      cJSON_free(s);
      cJSON_Delete(again);
    } else if (errs.n == 0 || errs.n > errs.total) {
      abort();
    }
    cJSON_Delete(doc);
    return 0;
  }
  csv_table t;
  size_t row, col;
  char err[160];
  csv_limits lim = {64, 16, 256};
  if (csv_parse(text, len, &lim, &t, &row, &col, err, sizeof(err)) == 0) {
    if (t.n_rows < 1 || t.n_rows > lim.max_rows || t.n_cols > lim.max_cols) abort();
    for (size_t r = 0; r < t.n_rows; r++) {
      if (r && t.row[r] <= t.row[r - 1]) abort();
      for (size_t c = 0; c < t.n_cols; c++)
        if (strlen(csv_get(&t, r, c)) > lim.max_field) abort();
    }
    csv_clear(&t);
  } else if (!err[0]) {
    abort();
  }
  reg_kind kind = (reg_kind)(sel % REG_N_KINDS);
  cJSON *cur = cJSON_Parse(base);
  if (reg_doc_with_csv(cur, kind, text, len, &doc, &errs) == 0) {
    char *out = reg_kind_csv(doc, kind);
    cJSON *again = NULL;
    if (!out || reg_doc_with_csv(doc, kind, out, strlen(out), &again, &errs) != 0) abort();
    free(out);
    cJSON_Delete(again);
    cJSON_Delete(doc);
  }
  cJSON_Delete(cur);
  return 0;
}
