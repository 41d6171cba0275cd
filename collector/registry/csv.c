/* csv: see csv.h. One pass over the text, fields copied (unquoted) into one
 * buffer; offsets into it grow as records come. */
#include "csv.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

typedef struct csv_st {
  csv_table *t;
  const csv_limits *lim;
  size_t len, cap;           /* buf */
  size_t n_cell, cap_cell;   /* cell */
  size_t cap_row;            /* row */
  size_t fields_in_row;      /* fields of the record being read */
  size_t row_no;             /* its row number: the line it starts on */
  size_t line;               /* the line being read (1-based) */
  size_t *ret_row, *ret_col; /* where to report */
  char *err;
  size_t errlen;
} csv_st;

static int csv__fail(csv_st *s, int r, size_t col, const char *msg) {
  *s->ret_row = s->row_no;
  *s->ret_col = col;
  snprintf(s->err, s->errlen, "%s", msg);
  return r;
}

static int csv__grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t n = *cap ? *cap : 16;
  while (n < need) n *= 2;
  void *q = realloc(*p, n * elem);
  if (!q) return -ENOMEM;
  *p = q;
  *cap = n;
  return 0;
}

/* Append one field (bytes f[0..n), quotes already undone into f). */
static int csv__field(csv_st *s, const char *f, size_t n) {
  csv_table *t = s->t;
  if (++s->fields_in_row > s->lim->max_cols)
    return csv__fail(s, -E2BIG, s->fields_in_row, "more fields in a row than allowed");
  if (n > s->lim->max_field) return csv__fail(s, -E2BIG, s->fields_in_row, "field longer than allowed");
  if (memchr(f, '\0', n)) return csv__fail(s, -EINVAL, s->fields_in_row, "NUL byte in a field");
  if (!ev_utf8_valid(f, n)) return csv__fail(s, -EINVAL, s->fields_in_row, "invalid UTF-8");
  if (csv__grow((void **)&t->buf, &s->cap, s->len + n + 1, 1) < 0 ||
      csv__grow((void **)&t->cell, &s->cap_cell, s->n_cell + 1, sizeof(size_t)) < 0)
    return -ENOMEM;
  memcpy(t->buf + s->len, f, n);
  t->buf[s->len + n] = '\0';
  t->cell[s->n_cell++] = s->len;
  s->len += n + 1;
  return 0;
}

static int csv__end_row(csv_st *s) {
  csv_table *t = s->t;
  if (t->n_rows == 0) {
    t->n_cols = s->fields_in_row;
  } else if (s->fields_in_row != t->n_cols) {
    char n[64];
    snprintf(n, sizeof(n), "%zu field(s), the header has %zu", s->fields_in_row, t->n_cols);
    return csv__fail(s, -EINVAL, 0, n);
  }
  if (t->n_rows + 1 > s->lim->max_rows) return csv__fail(s, -E2BIG, 0, "more rows than allowed");
  if (csv__grow((void **)&t->row, &s->cap_row, t->n_rows + 1, sizeof(size_t)) < 0) return -ENOMEM;
  t->row[t->n_rows++] = s->row_no;
  s->fields_in_row = 0;
  return 0;
}

int csv_parse(const char *text, size_t len, const csv_limits *lim, csv_table *ret, size_t *ret_row,
              size_t *ret_col, char *err, size_t errlen) {
  memset(ret, 0, sizeof(*ret));
  csv_st s = {.t = ret,
              .lim = lim,
              .row_no = 1,
              .line = 1,
              .ret_row = ret_row,
              .ret_col = ret_col,
              .err = err,
              .errlen = errlen};
  *ret_row = *ret_col = 0;
  size_t i = 0;
  if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) i = 3;
  char *tmp = NULL; /* a quoted field, unquoted */
  size_t tcap = 0;
  int r = 0;
  while (i < len && r == 0) {
    /* a blank line: skipped, still a row */
    if (s.fields_in_row == 0 &&
        (text[i] == '\n' || (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n'))) {
      i += text[i] == '\r' ? 2 : 1;
      s.row_no = ++s.line;
      continue;
    }
    size_t col = s.fields_in_row + 1;
    const char *f;
    size_t n;
    if (text[i] == '"') {
      size_t k = 0, j = i + 1;
      size_t lines = 0;
      for (;;) {
        if (j >= len) {
          r = csv__fail(&s, -EINVAL, col, "unterminated quoted field");
          break;
        }
        if (text[j] == '"') {
          if (j + 1 < len && text[j + 1] == '"') {
            j++;
          } else {
            j++;
            break;
          }
        } else if (text[j] == '\n') {
          lines++;
        }
        if (k >= lim->max_field) {
          r = csv__fail(&s, -E2BIG, col, "field longer than allowed");
          break;
        }
        if (csv__grow((void **)&tmp, &tcap, k + 1, 1) < 0) {
          r = -ENOMEM;
          break;
        }
        tmp[k++] = text[j++];
      }
      if (r < 0) break;
      f = tmp ? tmp : "";
      n = k;
      i = j;
      if (i < len && text[i] != ',' && text[i] != '\n' &&
          !(text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')) {
        r = csv__fail(&s, -EINVAL, col, "text after a closing quote");
        break;
      }
      if ((r = csv__field(&s, f, n)) < 0) break;
      s.line += lines; /* the record goes on: it keeps the row number of its first line */
    } else {
      size_t j = i;
      while (j < len && text[j] != ',' && text[j] != '\n' && text[j] != '"' &&
             !(text[j] == '\r' && j + 1 < len && text[j + 1] == '\n'))
        j++;
      if (j < len && text[j] == '"') {
        r = csv__fail(&s, -EINVAL, col, "a quote inside an unquoted field (quote the whole field)");
        break;
      }
      if ((r = csv__field(&s, text + i, j - i)) < 0) break;
      i = j;
    }
    /* i is at ',', a line end or the end */
    if (i < len && text[i] == ',') {
      i++;
      bool eol = i == len || text[i] == '\n' || (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n');
      if (!eol) continue;
      if ((r = csv__field(&s, "", 0)) < 0) break; /* an empty last field */
    }
    if (i < len) i += text[i] == '\r' ? 2 : 1;
    if ((r = csv__end_row(&s)) < 0) break;
    s.line++;
    s.row_no = s.line;
  }
  if (r == 0 && s.fields_in_row) r = csv__end_row(&s);
  free(tmp);
  if (r == 0 && ret->n_rows == 0) {
    s.row_no = 1;
    r = csv__fail(&s, -EINVAL, 0, "no header row");
  }
  if (r < 0) {
    if (r == -ENOMEM) snprintf(err, errlen, "out of memory");
    csv_clear(ret);
  }
  return r;
}

const char *csv_get(const csv_table *t, size_t r, size_t c) { return t->buf + t->cell[r * t->n_cols + c]; }

void csv_clear(csv_table *t) {
  free(t->buf);
  free(t->cell);
  free(t->row);
  memset(t, 0, sizeof(*t));
}
