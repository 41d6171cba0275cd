/* pointer: JSON Pointer (RFC 6901) over a parsed cJSON tree, for the mapping
 * engine's sources. Debian's libcjson-dev ships no cJSON_Utils, so this is
 * the small evaluator the RFC describes: "" is the whole document, each
 * "/token" steps into an object member (exact, case-sensitive name) or an
 * array index (decimal without leading zeros; "-" never exists), "~1" is '/'
 * and "~0" is '~'. */
#ifndef FERRY_SOURCES_POINTER_H
#define FERRY_SOURCES_POINTER_H

#include <stdbool.h>
#include <cjson/cJSON.h>

#define JP_MAX_LEN 512 /* longest pointer a mapping may hold */

/* Whether ptr is a well-formed pointer ("" or "/..." with only ~0 / ~1
 * escapes) no longer than JP_MAX_LEN. */
bool jp_valid(const char *ptr);

/* The value ptr designates in root, or NULL when it does not exist (or ptr is
 * malformed). */
const cJSON *jp_get(const cJSON *root, const char *ptr);

#endif
