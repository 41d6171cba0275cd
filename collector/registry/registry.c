/* registry: see registry.h. Validation works on the cJSON document: each kind
 * is sorted by id once (duplicates side by side, references found by binary
 * search), and every problem is collected, not only the first. */
#include "registry.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "event.h"

static const char *const reg_names[REG_N_KINDS] = {"sites", "lines", "workstations", "workers", "agents"};

/* The fields this collector knows, per kind (the key first). */
typedef enum { RF_ID, RF_TEXT, RF_REF_SITE, RF_REF_LINE, RF_DAYS } rf_type;
typedef struct reg_field {
  const char *name;
  rf_type type;
} reg_field;

static const reg_field reg_fields[REG_N_KINDS][5] = {
    [REG_SITES] = {{"id", RF_ID}, {"name", RF_TEXT}, {"retention_days", RF_DAYS}},
    [REG_LINES] = {{"id", RF_ID}, {"name", RF_TEXT}, {"site", RF_REF_SITE}},
    [REG_STATIONS] =
        {{"id", RF_ID}, {"name", RF_TEXT}, {"type", RF_TEXT}, {"line", RF_REF_LINE}, {"site", RF_REF_SITE}},
    [REG_WORKERS] = {{"id", RF_ID}, {"name", RF_TEXT}, {"team", RF_TEXT}},
    [REG_AGENTS] = {{"agent_id", RF_ID}, {"site", RF_REF_SITE}},
};

const char *reg_kind_name(reg_kind k) { return k < REG_N_KINDS ? reg_names[k] : "?"; }

int reg_kind_parse(const char *name, reg_kind *ret) {
  for (int k = 0; k < REG_N_KINDS; k++)
    if (strcmp(name, reg_names[k]) == 0) {
      *ret = (reg_kind)k;
      return 0;
    }
  return -ENOENT;
}

static const char *reg__key(reg_kind k) { return reg_fields[k][0].name; }

static const reg_field *reg__field(reg_kind k, const char *name) {
  for (int i = 0; i < 5 && reg_fields[k][i].name; i++)
    if (strcmp(reg_fields[k][i].name, name) == 0) return &reg_fields[k][i];
  return NULL;
}

/* ---- errors ---- */

typedef struct reg_ctx {
  reg_errors *errs;
  reg_kind csv_kind; /* REG_N_KINDS: none */
  const size_t *csv_rows;
} reg_ctx;

static void reg__err(reg_ctx *c, reg_kind kind, long idx, const char *column, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void reg__err(reg_ctx *c, reg_kind kind, long idx, const char *column, const char *fmt, ...) {
  reg_errors *es = c->errs;
  es->total++;
  if (es->n >= REG_MAX_ERRORS) return;
  reg_error *e = &es->e[es->n++];
  memset(e, 0, sizeof(*e));
  e->kind = kind;
  e->csv = kind == c->csv_kind && idx >= 0;
  e->row = e->csv ? (long)c->csv_rows[idx] : idx;
  snprintf(e->column, sizeof(e->column), "%s", column ? column : "");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->message, sizeof(e->message), fmt, ap);
  va_end(ap);
}

cJSON *reg_errors_json(const reg_errors *errs) {
  cJSON *a = cJSON_CreateArray();
  for (size_t i = 0; a && i < errs->n; i++) {
    const reg_error *e = &errs->e[i];
    cJSON *o = cJSON_CreateObject();
    if (!o) break;
    cJSON_AddItemToArray(a, o);
    cJSON_AddStringToObject(o, "kind", reg_kind_name(e->kind));
    if (e->row >= 0) cJSON_AddNumberToObject(o, e->csv ? "row" : "index", (double)e->row);
    if (e->column[0]) cJSON_AddStringToObject(o, e->csv ? "column" : "field", e->column);
    cJSON_AddStringToObject(o, "message", e->message);
  }
  return a;
}

void reg_errors_first(const reg_errors *errs, char *out, size_t outlen) {
  if (!errs->n) {
    snprintf(out, outlen, "invalid registry");
    return;
  }
  const reg_error *e = &errs->e[0];
  char where[120] = "";
  if (e->row >= 0 && e->csv) snprintf(where, sizeof(where), " row %ld", e->row);
  else if (e->row >= 0) snprintf(where, sizeof(where), "[%ld]", e->row);
  snprintf(out, outlen, "%s%s%s%s: %s%s", reg_kind_name(e->kind), where,
           e->column[0] ? e->csv ? " column " : "." : "", e->column, e->message,
           errs->total > 1 ? " (and more: see errors)" : "");
}

/* ---- validation ---- */

typedef struct reg_ref {
  const char *id;
  size_t idx;
  const char *site; /* lines: their site */
} reg_ref;

static int reg__ref_cmp(const void *a, const void *b) {
  const reg_ref *x = a, *y = b;
  int c = strcmp(x->id, y->id);
  return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

static const reg_ref *reg__find(const reg_ref *refs, size_t n, const char *id) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(refs[mid].id, id);
    if (c == 0) return &refs[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

static bool reg__text_ok(const char *s, size_t max) {
  size_t n = strlen(s);
  if (n > max || !ev_utf8_valid(s, n)) return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return false;
  return true;
}

/* Check one kind's entries on their own; fill refs (sorted) with the valid ids. */
static int reg__check_kind(reg_ctx *c, reg_kind k, const cJSON *arr, reg_ref **ret, size_t *ret_n) {
  size_t n = (size_t)cJSON_GetArraySize(arr), m = 0;
  reg_ref *refs = calloc(n ? n : 1, sizeof(*refs));
  if (!refs) return -ENOMEM;
  const char *key = reg__key(k);
  size_t idx = 0;
  for (const cJSON *it = arr->child; it; it = it->next, idx++) {
    if (!cJSON_IsObject(it)) {
      reg__err(c, k, (long)idx, NULL, "must be an object");
      continue;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, key);
    if (!cJSON_IsString(id)) {
      reg__err(c, k, (long)idx, key, id ? "must be a string" : "missing (every entry needs one)");
    } else if (!id->valuestring[0] || strlen(id->valuestring) > REG_ID_MAX ||
               !reg__text_ok(id->valuestring, REG_ID_MAX)) {
      reg__err(c, k, (long)idx, key, "must be 1-%d bytes of text without control characters", REG_ID_MAX);
    } else {
      const cJSON *site = cJSON_GetObjectItemCaseSensitive(it, "site");
      refs[m++] = (reg_ref){id->valuestring, idx, cJSON_IsString(site) ? site->valuestring : NULL};
    }
    for (const cJSON *f = it->child; f; f = f->next) {
      const reg_field *d = reg__field(k, f->string);
      if (!d || d->type == RF_ID) continue;
      if (d->type == RF_DAYS) {
        double v = f->valuedouble;
        if (!cJSON_IsNumber(f) || v != floor(v) || v < 0 || v > REG_MAX_RETENTION_DAYS)
          reg__err(c, k, (long)idx, f->string, "must be a whole number of days, 0-%d (0: keep everything)",
                   REG_MAX_RETENTION_DAYS);
      } else if (!cJSON_IsString(f)) {
        reg__err(c, k, (long)idx, f->string, "must be a string");
      } else if (!reg__text_ok(f->valuestring, d->type == RF_TEXT ? REG_TEXT_MAX : REG_ID_MAX)) {
        reg__err(c, k, (long)idx, f->string, "must be at most %d bytes of text without control characters",
                 d->type == RF_TEXT ? REG_TEXT_MAX : REG_ID_MAX);
      }
    }
  }
  qsort(refs, m, sizeof(*refs), reg__ref_cmp);
  for (size_t i = 1; i < m; i++)
    if (strcmp(refs[i].id, refs[i - 1].id) == 0) {
      long first = (long)refs[i - 1].idx;
      if (k == c->csv_kind) first = (long)c->csv_rows[first];
      reg__err(c, k, (long)refs[i].idx, key, "duplicate %s \"%s\" (first at %s %ld)", key, refs[i].id,
               k == c->csv_kind ? "row" : "index", first);
    }
  *ret = refs;
  *ret_n = m;
  return 0;
}

static int reg__validate(reg_ctx *c, const cJSON *doc) {
  reg_ref *refs[REG_N_KINDS] = {0};
  size_t nref[REG_N_KINDS] = {0};
  int r = 0;
  for (int k = 0; k < REG_N_KINDS && r == 0; k++) {
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, reg_names[k]);
    if (cJSON_GetArraySize(arr) > REG_MAX_ROWS) {
      reg__err(c, (reg_kind)k, -1, NULL, "more than %d entries", REG_MAX_ROWS);
      continue;
    }
    r = reg__check_kind(c, (reg_kind)k, arr, &refs[k], &nref[k]);
  }
  /* references */
  for (int k = 0; k < REG_N_KINDS && r == 0; k++) {
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, reg_names[k]);
    size_t idx = 0;
    for (const cJSON *it = arr->child; it; it = it->next, idx++) {
      if (!cJSON_IsObject(it)) continue;
      const cJSON *site = cJSON_GetObjectItemCaseSensitive(it, "site");
      const cJSON *line = cJSON_GetObjectItemCaseSensitive(it, "line");
      const reg_field *fs = reg__field((reg_kind)k, "site"), *fl = reg__field((reg_kind)k, "line");
      if (fs && cJSON_IsString(site) && !reg__find(refs[REG_SITES], nref[REG_SITES], site->valuestring))
        reg__err(c, (reg_kind)k, (long)idx, "site", "no site \"%.64s\" in the registry", site->valuestring);
      if (k == REG_AGENTS && !site) reg__err(c, (reg_kind)k, (long)idx, "site", "missing");
      if (fl && cJSON_IsString(line)) {
        const reg_ref *l = reg__find(refs[REG_LINES], nref[REG_LINES], line->valuestring);
        if (!l)
          reg__err(c, (reg_kind)k, (long)idx, "line", "no line \"%.64s\" in the registry", line->valuestring);
        else if (cJSON_IsString(site) && l->site && strcmp(l->site, site->valuestring) != 0)
          reg__err(c, (reg_kind)k, (long)idx, "site",
                   "\"%.64s\" differs from the site of line \"%.64s\" (\"%.64s\")", site->valuestring,
                   line->valuestring, l->site);
      }
    }
  }
  for (int k = 0; k < REG_N_KINDS; k++) free(refs[k]);
  return r;
}

/* A normalised copy: every kind an array; "version"/"updated_at" (what GET
 * adds) dropped so a document read back can be written again. */
static int reg__normalise(reg_ctx *c, const cJSON *in, cJSON **ret) {
  *ret = NULL;
  if (!cJSON_IsObject(in)) {
    reg__err(c, REG_SITES, -1, NULL, "the registry must be a JSON object");
    return 1;
  }
  cJSON *doc = cJSON_Duplicate(in, 1);
  if (!doc) return -ENOMEM;
  cJSON_DeleteItemFromObjectCaseSensitive(doc, "version");
  cJSON_DeleteItemFromObjectCaseSensitive(doc, "updated_at");
  int bad = 0;
  for (int k = 0; k < REG_N_KINDS; k++) {
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, reg_names[k]);
    if (!arr) {
      if (!cJSON_AddArrayToObject(doc, reg_names[k])) {
        cJSON_Delete(doc);
        return -ENOMEM;
      }
    } else if (!cJSON_IsArray(arr)) {
      reg__err(c, (reg_kind)k, -1, NULL, "must be an array");
      bad = 1;
    }
  }
  *ret = doc;
  return bad;
}

static int reg__finish(reg_ctx *c, cJSON *doc, cJSON **ret) {
  int r = reg__validate(c, doc);
  if (r == 0 && c->errs->total) r = 1;
  if (r) {
    cJSON_Delete(doc);
    return r;
  }
  *ret = doc;
  return 0;
}

int reg_doc_from_json(const char *text, size_t len, cJSON **ret, reg_errors *errs) {
  memset(errs, 0, sizeof(*errs));
  *ret = NULL;
  reg_ctx c = {.errs = errs, .csv_kind = REG_N_KINDS};
  char msg[160];
  cJSON *in = NULL;
  if (!ev_utf8_valid(text, len)) {
    reg__err(&c, REG_SITES, -1, NULL, "the body is not valid UTF-8");
    return 1;
  }
  in = cJSON_ParseWithLength(text, len);
  if (!in) {
    reg__err(&c, REG_SITES, -1, NULL, "the body is not JSON");
    return 1;
  }
  if (ev_json_check_tree(in, 16, msg, sizeof(msg)) < 0) {
    cJSON_Delete(in);
    reg__err(&c, REG_SITES, -1, NULL, "%s", msg);
    return 1;
  }
  cJSON *doc = NULL;
  int r = reg__normalise(&c, in, &doc);
  cJSON_Delete(in);
  if (r) {
    cJSON_Delete(doc);
    return r;
  }
  return reg__finish(&c, doc, ret);
}

/* One CSV row as an entry object. */
static int reg__csv_entry(reg_ctx *c, reg_kind k, const csv_table *t, size_t row, size_t idx, cJSON *arr) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return -ENOMEM;
  cJSON_AddItemToArray(arr, o);
  for (size_t col = 0; col < t->n_cols; col++) {
    const char *h = csv_get(t, 0, col), *v = csv_get(t, row, col);
    if (!*v) continue; /* an empty cell: the field is not given */
    const reg_field *d = reg__field(k, h);
    cJSON *item;
    if (d && d->type == RF_DAYS) {
      char *end;
      long long n = strtoll(v, &end, 10);
      if (*end || end == v || n < 0 || n > REG_MAX_RETENTION_DAYS) {
        reg__err(c, k, (long)idx, h, "must be a whole number of days, 0-%d (0: keep everything)",
                 REG_MAX_RETENTION_DAYS);
        continue;
      }
      item = cJSON_CreateNumber((double)n);
    } else {
      item = cJSON_CreateString(v);
    }
    if (!item) return -ENOMEM;
    cJSON_AddItemToObject(o, h, item);
  }
  return 0;
}

int reg_doc_with_csv(const cJSON *cur, reg_kind kind, const char *text, size_t len, cJSON **ret,
                     reg_errors *errs) {
  memset(errs, 0, sizeof(*errs));
  *ret = NULL;
  csv_table t;
  size_t erow, ecol;
  char msg[160];
  reg_ctx c = {.errs = errs, .csv_kind = REG_N_KINDS};
  csv_limits lim = {.max_rows = REG_MAX_ROWS + 1, .max_cols = 64, .max_field = 4096};
  int r = csv_parse(text, len, &lim, &t, &erow, &ecol, msg, sizeof(msg));
  if (r == -ENOMEM) return r;
  if (r < 0) {
    errs->total = errs->n = 1;
    reg_error *e = &errs->e[0];
    e->kind = kind;
    e->csv = true;
    e->row = (long)erow;
    if (ecol) snprintf(e->column, sizeof(e->column), "%zu", ecol);
    snprintf(e->message, sizeof(e->message), "%s", msg);
    return 1;
  }
  c.csv_kind = kind;
  c.csv_rows = t.row + 1;
  /* the header: known key present, names unique and non-empty */
  const char *key = reg__key(kind);
  bool has_key = false;
  for (size_t i = 0; i < t.n_cols; i++) {
    const char *h = csv_get(&t, 0, i);
    if (!*h || strlen(h) > REG_ID_MAX) {
      errs->total++;
      if (errs->n < REG_MAX_ERRORS)
        errs->e[errs->n++] = (reg_error){.kind = kind, .csv = true, .row = (long)t.row[0], .message = ""};
      snprintf(errs->e[errs->n - 1].column, sizeof(errs->e[0].column), "%zu", i + 1);
      snprintf(errs->e[errs->n - 1].message, sizeof(errs->e[0].message), "a column name must be 1-%d bytes",
               REG_ID_MAX);
    }
    if (strcmp(h, key) == 0) has_key = true;
    for (size_t j = 0; j < i; j++)
      if (strcmp(h, csv_get(&t, 0, j)) == 0) {
        errs->total++;
        if (errs->n < REG_MAX_ERRORS) {
          reg_error *e = &errs->e[errs->n++];
          *e = (reg_error){.kind = kind, .csv = true, .row = (long)t.row[0]};
          snprintf(e->column, sizeof(e->column), "%s", h);
          snprintf(e->message, sizeof(e->message), "the column appears twice in the header");
        }
      }
  }
  if (!has_key) {
    errs->total++;
    if (errs->n < REG_MAX_ERRORS) {
      reg_error *e = &errs->e[errs->n++];
      *e = (reg_error){.kind = kind, .csv = true, .row = (long)t.row[0]};
      snprintf(e->column, sizeof(e->column), "%s", key);
      snprintf(e->message, sizeof(e->message), "the header has no \"%s\" column", key);
    }
  }
  if (errs->total) {
    csv_clear(&t);
    return 1;
  }
  cJSON *empty = NULL;
  if (!cur && !(cur = empty = cJSON_CreateObject())) {
    csv_clear(&t);
    return -ENOMEM;
  }
  cJSON *doc = NULL;
  r = reg__normalise(&c, cur, &doc);
  cJSON_Delete(empty);
  cJSON *arr = r == 0 ? cJSON_CreateArray() : NULL;
  if (r == 0 && !arr) r = -ENOMEM;
  for (size_t row = 1; r == 0 && row < t.n_rows; row++) r = reg__csv_entry(&c, kind, &t, row, row - 1, arr);
  if (r == 0 && !cJSON_ReplaceItemInObjectCaseSensitive(doc, reg_names[kind], arr)) r = -ENOMEM;
  else if (r == 0) arr = NULL;
  cJSON_Delete(arr);
  if (r == 0) r = reg__finish(&c, doc, ret);
  else cJSON_Delete(doc);
  csv_clear(&t);
  return r;
}

/* ---- CSV export ---- */

typedef struct reg_sb {
  char *p;
  size_t len, cap;
  bool oom;
} reg_sb;

static void reg__put(reg_sb *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 1024;
    while (cap < b->len + n + 1) cap *= 2;
    char *q = realloc(b->p, cap);
    if (!q) {
      b->oom = true;
      return;
    }
    b->p = q;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void reg__cell(reg_sb *b, const char *s) {
  if (!strpbrk(s, ",\"\r\n")) {
    reg__put(b, s, strlen(s));
    return;
  }
  reg__put(b, "\"", 1);
  for (const char *p = s; *p; p++) {
    if (*p == '"') reg__put(b, "\"\"", 2);
    else reg__put(b, p, 1);
  }
  reg__put(b, "\"", 1);
}

char *reg_kind_csv(const cJSON *doc, reg_kind kind) {
  const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, reg_names[kind]);
  const char *cols[64];
  size_t nc = 0;
  for (int i = 0; i < 5 && reg_fields[kind][i].name; i++) cols[nc++] = reg_fields[kind][i].name;
  for (const cJSON *it = arr ? arr->child : NULL; it; it = it->next)
    for (const cJSON *f = it->child; f && nc < 64; f = f->next) {
      size_t j = 0;
      while (j < nc && strcmp(cols[j], f->string) != 0) j++;
      if (j == nc) cols[nc++] = f->string;
    }
  reg_sb b = {0};
  for (size_t j = 0; j < nc; j++) {
    if (j) reg__put(&b, ",", 1);
    reg__cell(&b, cols[j]);
  }
  reg__put(&b, "\r\n", 2);
  for (const cJSON *it = arr ? arr->child : NULL; it; it = it->next) {
    for (size_t j = 0; j < nc; j++) {
      if (j) reg__put(&b, ",", 1);
      const cJSON *f = cJSON_GetObjectItemCaseSensitive(it, cols[j]);
      if (!f || cJSON_IsNull(f)) continue;
      if (cJSON_IsString(f)) {
        reg__cell(&b, f->valuestring);
      } else {
        char *s = cJSON_PrintUnformatted(f);
        if (!s) b.oom = true;
        else reg__cell(&b, s);
        cJSON_free(s);
      }
    }
    reg__put(&b, "\r\n", 2);
  }
  if (b.oom) {
    free(b.p);
    return NULL;
  }
  return b.p;
}

/* ---- index ---- */

struct reg_index {
  cJSON *doc;
  int64_t version;
  reg_entry *e[REG_N_KINDS];
  size_t n[REG_N_KINDS];
};

static int reg__entry_cmp(const void *a, const void *b) {
  return strcmp(((const reg_entry *)a)->id, ((const reg_entry *)b)->id);
}

static const char *reg__str(const cJSON *o, const char *name) {
  const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, name);
  return cJSON_IsString(f) ? f->valuestring : NULL;
}

int reg_index_build(const cJSON *doc, int64_t version, reg_index **ret) {
  reg_index *x = calloc(1, sizeof(*x));
  if (!x) return -ENOMEM;
  x->version = version;
  x->doc = doc ? cJSON_Duplicate(doc, 1) : cJSON_CreateObject();
  if (!x->doc) goto oom;
  for (int k = 0; k < REG_N_KINDS; k++) {
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(x->doc, reg_names[k]);
    size_t n = (size_t)cJSON_GetArraySize(arr);
    x->e[k] = calloc(n ? n : 1, sizeof(reg_entry));
    if (!x->e[k]) goto oom;
    for (const cJSON *it = cJSON_IsArray(arr) ? arr->child : NULL; it; it = it->next) {
      const char *id = reg__str(it, reg__key((reg_kind)k));
      if (!id) continue;
      reg_entry *e = &x->e[k][x->n[k]++];
      e->id = id;
      e->name = reg__str(it, "name");
      e->line = reg__str(it, "line");
      e->site = reg__str(it, "site");
      const cJSON *d = cJSON_GetObjectItemCaseSensitive(it, "retention_days");
      e->retention_days = cJSON_IsNumber(d) ? (int64_t)d->valuedouble : -1;
    }
    qsort(x->e[k], x->n[k], sizeof(reg_entry), reg__entry_cmp);
  }
  /* a workstation on a line belongs to the line's site */
  for (size_t i = 0; i < x->n[REG_STATIONS]; i++) {
    reg_entry *e = &x->e[REG_STATIONS][i];
    if (e->site || !e->line) continue;
    const reg_entry *l = reg_index_find(x, REG_LINES, e->line);
    if (l) e->site = l->site;
  }
  *ret = x;
  return 0;
oom:
  reg_index_free(x);
  return -ENOMEM;
}

void reg_index_free(reg_index *x) {
  if (!x) return;
  for (int k = 0; k < REG_N_KINDS; k++) free(x->e[k]);
  cJSON_Delete(x->doc);
  free(x);
}

int64_t reg_index_version(const reg_index *x) { return x ? x->version : 0; }

const reg_entry *reg_index_find(const reg_index *x, reg_kind kind, const char *id) {
  if (!x || !id) return NULL;
  reg_entry key = {.id = id};
  return bsearch(&key, x->e[kind], x->n[kind], sizeof(reg_entry), reg__entry_cmp);
}

const reg_entry *reg_index_all(const reg_index *x, reg_kind kind, size_t *ret_n) {
  *ret_n = x ? x->n[kind] : 0;
  return x ? x->e[kind] : NULL;
}
