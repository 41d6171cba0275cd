/* registry_edit: one registry write as an edit of the stored document (the
 * st_registry_edit of store.h), shared by PUT /v1/registry… and
 * `ferry-collector registry import`, so both validate the same way. */
#ifndef FERRY_COLLECTOR_REGISTRY_EDIT_H
#define FERRY_COLLECTOR_REGISTRY_EDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registry.h"

typedef struct reg_put {
  /* in */
  bool csv;      /* body is one kind's CSV; otherwise a whole JSON document */
  reg_kind kind; /* csv */
  const char *body;
  size_t len;
  /* out */
  reg_errors errs;            /* when refused (edit returned 1) */
  size_t counts[REG_N_KINDS]; /* entries in the new document */
} reg_put;

/* st_registry_edit with arg = reg_put. 0, 1 (invalid: p->errs), -ENOMEM,
 * -EIO (the stored document is not a registry: never expected). */
int reg_put_edit(void *arg, const char *cur_doc, int64_t cur_version, char **ret_doc);

/* The answer of a successful write: {"version":N,"sites":n,...}. */
cJSON *reg_put_answer(const reg_put *p, int64_t version);

/* The current registry of st (any handle, any thread) as an index
 * (an empty one when none was written). 0 or negative errno. */
struct store;
int reg_index_load(struct store *st, reg_index **ret);

#endif
