/* registry_cmd: `ferry-collector registry import FILE [KIND]` and
 * `ferry-collector registry export [KIND]` for operators who keep the plant
 * list in a spreadsheet. They work on the collector's database directly
 * (--db, from the same configuration as the service), with the same
 * validation as PUT /v1/registry, so they need no token and work while the
 * collector is stopped as well as while it runs. */
#ifndef FERRY_COLLECTOR_REGISTRY_CMD_H
#define FERRY_COLLECTOR_REGISTRY_CMD_H

#include <stdio.h>

#include "config.h"

/* args[0] is "registry". Exit status: 0, 1 (refused or failed), 2 (usage). */
int registry_cmd(col_config *cfg, int nargs, char **args, FILE *out, FILE *errf);

#endif
