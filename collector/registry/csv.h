/* csv: a small strict RFC 4180 reader for the plant registry's CSV imports
 * (PUT /v1/registry/{kind}, `ferry-collector registry import`). Operators
 * keep the plant list in a spreadsheet; this reads what a spreadsheet
 * exports and refuses anything ambiguous, naming the row and column.
 *
 * Accepted: fields separated by ',', records ended by CRLF or LF (the last
 * one may be unterminated), fields quoted with '"' (a quote inside doubled,
 * commas and line breaks allowed inside), a UTF-8 byte order mark at the
 * start. Refused: a quote inside an unquoted field, text after a closing
 * quote, an unterminated quote, a NUL byte, invalid UTF-8, a record with
 * another number of fields than the header. Blank lines are skipped (they
 * still count as rows). Bounded by csv_limits. */
#ifndef FERRY_COLLECTOR_CSV_H
#define FERRY_COLLECTOR_CSV_H

#include <stddef.h>

typedef struct csv_limits {
  size_t max_rows;  /* records, header included */
  size_t max_cols;  /* fields per record */
  size_t max_field; /* bytes in one field */
} csv_limits;

typedef struct csv_table {
  size_t n_cols;
  size_t n_rows; /* records kept, the header (row index 0) included */
  char *buf;     /* every field, each NUL-terminated */
  size_t *cell;  /* n_rows * n_cols offsets into buf */
  size_t *row;   /* the line each record starts on (1-based; the header is usually 1) */
} csv_table;

/* Parse text. 0 with *ret filled (at least the header row), -EINVAL with
 * *ret_row / *ret_col (1-based; col 0 when the whole row is meant) and a
 * message in err, -E2BIG past a limit (same), or -ENOMEM. */
int csv_parse(const char *text, size_t len, const csv_limits *lim, csv_table *ret, size_t *ret_row,
              size_t *ret_col, char *err, size_t errlen);
/* Field (r, c) (r = 0 is the header). */
const char *csv_get(const csv_table *t, size_t r, size_t c);
void csv_clear(csv_table *t);

#endif
