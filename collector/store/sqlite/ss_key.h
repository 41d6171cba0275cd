/* ss_key: the 64-bit key under which the SQLite store finds an event's
 * (agent_id, event_id) — the narrow ev_key table (hash, rowid) instead of a
 * text index of both ids. Not unique: a hit is always checked against the
 * stored ids, so a collision costs a row read, never a lost event.
 *
 * The key keeps the order of the common time-ordered ids so inserts append
 * instead of dirtying a random page each: the top 24 bits hash the agent
 * and the event_id without its trailing decimal digits, the low 40 bits are
 * the value of those digits (the last 12 of them; "ferry:<epoch>:<seq>",
 * "ev-000123"). An id without trailing digits (a UUID) is a hash of both
 * ids in all 64 bits. */
#ifndef FERRY_COLLECTOR_SS_KEY_H
#define FERRY_COLLECTOR_SS_KEY_H

#include <stddef.h>
#include <stdint.h>

int64_t ss_key64(const char *agent_id, size_t agent_len, const char *event_id, size_t event_len);

#endif
