/* registry: the plant model (SPEC §6.6) as a document — sites, lines,
 * workstations, workers and the agent→site map — and everything done to it
 * without a database: parse and validate a JSON document or one kind's CSV
 * (all or nothing, every error naming its kind, row and column), merge a CSV
 * into the current document, and index a document for lookups (names in
 * metrics answers, the site of an agent, unknown ids).
 *
 * The stored form is the JSON document as given, normalised only by having
 * every kind present as an array; fields this collector does not know are
 * kept as they are. */
#ifndef FERRY_COLLECTOR_REGISTRY_H
#define FERRY_COLLECTOR_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

typedef enum { REG_SITES = 0, REG_LINES, REG_STATIONS, REG_WORKERS, REG_AGENTS, REG_N_KINDS } reg_kind;

#define REG_ID_MAX             64     /* bytes in an id (the event model's worker/workstation id bound) */
#define REG_TEXT_MAX           256    /* bytes in a name, team, type */
#define REG_MAX_ROWS           100000 /* entries of one kind */
#define REG_MAX_ERRORS         50     /* errors listed in an answer (the rest are counted) */
#define REG_MAX_RETENTION_DAYS 36500

/* "sites", "lines", "workstations", "workers", "agents". */
const char *reg_kind_name(reg_kind k);
/* 0 with *ret, or -ENOENT. */
int reg_kind_parse(const char *name, reg_kind *ret);

typedef struct reg_error {
  reg_kind kind;
  bool csv; /* row/column refer to the CSV just imported */
  long row; /* JSON: 0-based index in the kind's array; CSV: 1-based line; -1: the document */
  char column[REG_ID_MAX + 1]; /* field / CSV header name; "" when the whole entry is meant */
  char message[200];
} reg_error;

typedef struct reg_errors {
  reg_error e[REG_MAX_ERRORS];
  size_t n;     /* listed */
  size_t total; /* found */
} reg_errors;

/* A whole document from JSON text. 0 with *ret (a normalised copy, every
 * kind an array), 1 when invalid (errs says why), -ENOMEM. */
int reg_doc_from_json(const char *text, size_t len, cJSON **ret, reg_errors *errs);
/* cur (NULL = empty) with kind replaced by the rows of a CSV (header row
 * first). Same returns. */
int reg_doc_with_csv(const cJSON *cur, reg_kind kind, const char *text, size_t len, cJSON **ret,
                     reg_errors *errs);
/* The error list as the "errors" array of an answer (and a first message). */
cJSON *reg_errors_json(const reg_errors *errs);
void reg_errors_first(const reg_errors *errs, char *out, size_t outlen);
/* A kind as CSV text (header: the known columns, then every other field
 * seen, in first-seen order). malloc'd, or NULL when out of memory. */
char *reg_kind_csv(const cJSON *doc, reg_kind kind);

/* ---- lookups ---- */
typedef struct reg_entry {
  const char *id;
  const char *name;       /* NULL when not given */
  const char *line;       /* workstations */
  const char *site;       /* lines, workstations (the line's site when only the line names one), agents */
  int64_t retention_days; /* sites; -1 when not given */
} reg_entry;

typedef struct reg_index reg_index;

/* Index doc (NULL = empty). The index keeps a copy: doc may be freed. */
int reg_index_build(const cJSON *doc, int64_t version, reg_index **ret);
void reg_index_free(reg_index *x);
int64_t reg_index_version(const reg_index *x);
/* The entry of id, or NULL. */
const reg_entry *reg_index_find(const reg_index *x, reg_kind kind, const char *id);
/* Every entry of a kind, sorted by id (byte order). */
const reg_entry *reg_index_all(const reg_index *x, reg_kind kind, size_t *ret_n);

#endif
