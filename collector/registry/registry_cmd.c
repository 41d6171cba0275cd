/* registry_cmd: see registry_cmd.h. A FILE ending in .json is a whole
 * document; a .csv file replaces one kind, named by KIND or by the file's
 * name (workers.csv). Export prints the document as JSON, or one kind as CSV. */
#include "registry_cmd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "registry_edit.h"
#include "store.h"
#include "timefmt.h"

#define RC_MAX_FILE (64u << 20)

static int rc__usage(FILE *errf) {
  fprintf(errf, "usage: ferry-collector [--config FILE] [--db URL] registry import FILE [KIND]\n"
                "       ferry-collector [--config FILE] [--db URL] registry export [KIND]\n"
                "FILE: a whole registry as .json, or one kind as .csv (header row first);\n"
                "KIND: sites, lines, workstations, workers or agents (for a .csv, the file name\n"
                "      is used when KIND is not given: workers.csv)\n");
  return 2;
}

static int rc__read(const char *path, char **ret, size_t *ret_len, FILE *errf) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(errf, "ferry-collector: %s: %s\n", path, strerror(errno));
    return -1;
  }
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap + 1);
  while (buf) {
    size_t k = fread(buf + len, 1, cap - len, f);
    len += k;
    if (k == 0) break;
    if (len == cap) {
      if (cap >= RC_MAX_FILE) {
        fprintf(errf, "ferry-collector: %s: larger than %u MiB\n", path, RC_MAX_FILE >> 20);
        free(buf);
        fclose(f);
        return -1;
      }
      char *b = realloc(buf, cap * 2 + 1);
      if (!b) free(buf);
      buf = b;
      cap *= 2;
    }
  }
  bool bad = ferror(f);
  fclose(f);
  if (!buf || bad) {
    fprintf(errf, "ferry-collector: %s: %s\n", path, buf ? "read error" : "out of memory");
    free(buf);
    return -1;
  }
  buf[len] = '\0';
  *ret = buf;
  *ret_len = len;
  return 0;
}

static bool rc__ends(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static int rc__open(col_config *cfg, store **st, FILE *errf) {
  char err[512];
  if (col_config_db(cfg, err, sizeof(err)) < 0) {
    fprintf(errf, "ferry-collector: %s\n", err);
    return 2;
  }
  int64_t max_state_ms = cfg->max_state_s * 1000;
  int r = cfg->db_kind == COL_DB_POSTGRES
              ? store_pg_open(cfg->db_path, max_state_ms, st, err, sizeof(err))
              : store_sqlite_open(cfg->db_path, max_state_ms, st, err, sizeof(err));
  if (r < 0) {
    fprintf(errf, "ferry-collector: %s\n", err);
    return 1;
  }
  return 0;
}

static void rc__print_errors(const reg_errors *es, const char *file, FILE *errf) {
  for (size_t i = 0; i < es->n; i++) {
    const reg_error *e = &es->e[i];
    if (e->csv) fprintf(errf, "%s: row %ld", file, e->row);
    else if (e->row >= 0) fprintf(errf, "%s: %s[%ld]", file, reg_kind_name(e->kind), e->row);
    else fprintf(errf, "%s: %s", file, reg_kind_name(e->kind));
    if (e->column[0]) fprintf(errf, e->csv ? ", column %s" : ".%s", e->column);
    fprintf(errf, ": %s\n", e->message);
  }
  if (es->total > es->n) fprintf(errf, "%s: ... and %zu more\n", file, es->total - es->n);
}

static int rc__import(col_config *cfg, const char *file, const char *kind_name, FILE *out, FILE *errf) {
  reg_put p;
  memset(&p, 0, sizeof(p));
  p.csv = !rc__ends(file, ".json");
  if (p.csv) {
    char stem[64] = "";
    if (!kind_name) {
      const char *base = strrchr(file, '/');
      base = base ? base + 1 : file;
      snprintf(stem, sizeof(stem), "%.*s", (int)strcspn(base, "."), base);
      kind_name = stem;
    }
    if (reg_kind_parse(kind_name, &p.kind) < 0) {
      fprintf(errf,
              "ferry-collector: which kind does %s hold? \"%s\" is not one of sites, lines, workstations, "
              "workers, agents\n",
              file, kind_name);
      return 2;
    }
  }
  char *text = NULL;
  if (rc__read(file, &text, &p.len, errf) < 0) return 1;
  p.body = text;
  store *st = NULL;
  int rc = rc__open(cfg, &st, errf);
  if (rc) {
    free(text);
    return rc;
  }
  int64_t version = 0;
  int r = st->ops->registry_put(st, reg_put_edit, &p, tf_now_ms(), &version);
  if (r > 0) {
    rc__print_errors(&p.errs, file, errf);
    fprintf(errf, "ferry-collector: %s refused; the registry is unchanged\n", file);
    rc = 1;
  } else if (r < 0) {
    fprintf(errf, "ferry-collector: writing the registry failed: %s\n",
            r == -ENOMEM ? "out of memory" : st->ops->last_error(st));
    rc = 1;
  } else {
    fprintf(out,
            "registry version %lld: %zu site(s), %zu line(s), %zu workstation(s), %zu worker(s), %zu "
            "agent(s)\n",
            (long long)version, p.counts[REG_SITES], p.counts[REG_LINES], p.counts[REG_STATIONS],
            p.counts[REG_WORKERS], p.counts[REG_AGENTS]);
  }
  st->ops->close(st);
  free(text);
  return rc;
}

static int rc__export(col_config *cfg, const char *kind_name, FILE *out, FILE *errf) {
  reg_kind kind = REG_N_KINDS;
  if (kind_name && reg_kind_parse(kind_name, &kind) < 0) return rc__usage(errf);
  store *st = NULL;
  int rc = rc__open(cfg, &st, errf);
  if (rc) return rc;
  int64_t version = 0, at = 0;
  char *doc = NULL;
  int r = st->ops->registry_get(st, &version, &at, &doc);
  if (r < 0) {
    fprintf(errf, "ferry-collector: reading the registry failed: %s\n", st->ops->last_error(st));
    st->ops->close(st);
    return 1;
  }
  st->ops->close(st);
  cJSON *j = doc ? cJSON_Parse(doc) : cJSON_CreateObject();
  free(doc);
  if (!j) {
    fprintf(errf, "ferry-collector: out of memory\n");
    return 1;
  }
  for (int k = 0; k < REG_N_KINDS; k++)
    if (!cJSON_GetObjectItemCaseSensitive(j, reg_kind_name((reg_kind)k)))
      cJSON_AddArrayToObject(j, reg_kind_name((reg_kind)k));
  char *text = kind < REG_N_KINDS ? reg_kind_csv(j, kind) : cJSON_Print(j);
  cJSON_Delete(j);
  if (!text) {
    fprintf(errf, "ferry-collector: out of memory\n");
    return 1;
  }
  fputs(text, out);
  if (kind == REG_N_KINDS) fputc('\n', out);
  free(text);
  return 0;
}

int registry_cmd(col_config *cfg, int nargs, char **args, FILE *out, FILE *errf) {
  if (nargs >= 3 && nargs <= 4 && strcmp(args[1], "import") == 0)
    return rc__import(cfg, args[2], nargs == 4 ? args[3] : NULL, out, errf);
  if (nargs >= 2 && nargs <= 3 && strcmp(args[1], "export") == 0)
    return rc__export(cfg, nargs == 3 ? args[2] : NULL, out, errf);
  return rc__usage(errf);
}
