/* timefmt: RFC 3339 parsing and formatting, and the two clocks ferry uses.
 * Every time ferry stores is UTC milliseconds since the Unix epoch (int64_t);
 * every time it answers with is "YYYY-MM-DDTHH:MM:SS.mmmZ". Ages and timers use
 * the monotonic clock so a wall-clock jump never fires or stalls a retry. */
#ifndef FERRY_TIMEFMT_H
#define FERRY_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#define TF_RFC3339_LEN 32 /* room for the longest answer we format, with NUL */

/* Wall clock, UTC milliseconds. */
int64_t tf_now_ms(void);
/* Monotonic clock, milliseconds (arbitrary origin). */
uint64_t tf_mono_ms(void);

/* Parse an RFC 3339 date-time ("2026-03-01T08:00:00Z", "...T08:00:00.123456+02:00").
 * 'T'/'t' and 'Z'/'z' are accepted, as is a space instead of 'T'. Fractions
 * beyond milliseconds are truncated (not rounded). Leap second 60 is refused.
 * Returns 0 and sets *ret_ms, or -EINVAL (ret_ms untouched). */
int tf_parse_rfc3339(const char *s, size_t len, int64_t *ret_ms);

/* Format UTC milliseconds as "2026-03-01T08:00:00.000Z" into out. */
void tf_format_ms(int64_t ms, char out[TF_RFC3339_LEN]);

/* Parse an HTTP-date (IMF-fixdate, RFC 7231) as used in Retry-After.
 * Returns 0 and sets *ret_ms, or -EINVAL. */
int tf_parse_http_date(const char *s, int64_t *ret_ms);

#endif
