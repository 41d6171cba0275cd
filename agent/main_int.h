/* main_int: what ferry-agent's main.c shares with the files split from it. */
#ifndef FERRY_AGENT_MAIN_INT_H
#define FERRY_AGENT_MAIN_INT_H

#include "config.h"

/* map_test.c: the --map-test action; the process exit code (0, 1 or 2). */
int agent__run_map_test(const agent_config *c);

#endif
