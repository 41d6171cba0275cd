/* token_cmd: "ferry-collector token new AGENT_ID" makes a per-agent token
 * (256 random bits from getrandom) and prints it once with the tokens-file
 * line to add; "ferry-collector token hash AGENT_ID" reads an existing token
 * on stdin and prints its line. The collector itself only ever keeps the
 * SHA-256 of a token. */
#ifndef FERRY_COLLECTOR_TOKEN_CMD_H
#define FERRY_COLLECTOR_TOKEN_CMD_H

#include <stdio.h>

/* args[0] is "token". Returns the exit code (0, 2 on bad usage, 1 on failure). */
int token_cmd(int nargs, char **args, FILE *out, FILE *errf);

#endif
