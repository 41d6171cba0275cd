/* store_answer: the JSON answer of an ingest batch as a backend stores and
 * replays it (SPEC §3 Ingest), shared by store backends so every backend
 * answers byte-for-byte alike. */
#ifndef FERRY_COLLECTOR_STORE_ANSWER_H
#define FERRY_COLLECTOR_STORE_ANSWER_H

#include <cjson/cJSON.h>

#include "store.h"

/* {"accepted":a,"duplicates":d,"rejected":[...]}: rejected (taken over, may
 * be NULL: then built from the batch's invalid events). malloc'd, or NULL. */
char *st_answer_body(int64_t accepted, int64_t duplicates, const bt_batch *b, cJSON *rejected);

/* A replay of a stored answer: everything it accepted is a duplicate now.
 * Fills ret (status 200, replay) and returns 0, or -ENOMEM. */
int st_answer_replay(const char *stored, const bt_batch *b, st_result *ret);

#endif
