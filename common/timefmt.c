/* timefmt: the one place where ferry turns text into UTC milliseconds and
 * back. Event timestamps, ingested_at, metric windows and Retry-After all go
 * through here, so the rules (RFC 3339 only, fractions truncated, no leap
 * second, real calendar checks) are the same everywhere. Civil dates are
 * converted with days-from-civil arithmetic: no timegm(), no TZ, no locale,
 * so the answer never depends on the machine's configuration. */
#include "timefmt.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MS_PER_DAY 86400000LL

int64_t tf_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t tf_mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Days since 1970-01-01 of the proleptic Gregorian date y-m-d (m 1..12).
 * Eras of 400 years make the leap rule a matter of integer division. */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;                                  /* 0..399 */
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1; /* 0..365 */
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;          /* 0..146096 */
  return era * 146097 + doe - 719468;
}

/* The inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *ret_y, int *ret_m, int *ret_d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int d = (int)(doy - (153 * mp + 2) / 5 + 1);
  int m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *ret_y = yoe + era * 400 + (m <= 2);
  *ret_m = m;
  *ret_d = d;
}

static int is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int64_t y, int m) {
  static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* n decimal digits at s; -1 if any of them is not a digit. */
static int digits(const char *s, int n) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

/* Shared tail of both parsers: a checked civil date and time to UTC ms. */
static int civil_to_ms(int y, int mo, int d, int h, int mi, int sec, int ms, int64_t *ret) {
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) return -EINVAL;
  if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59) return -EINVAL;
  *ret = days_from_civil(y, mo, d) * MS_PER_DAY + (int64_t)h * 3600000 + (int64_t)mi * 60000 +
         (int64_t)sec * 1000 + ms;
  return 0;
}

int tf_parse_rfc3339(const char *s, size_t len, int64_t *ret_ms) {
  /* "YYYY-MM-DDTHH:MM:SS" is 19 bytes; the shortest zone ("Z") makes 20. */
  if (!s || len < 20) return -EINVAL;
  if (s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':') return -EINVAL;
  if (s[10] != 'T' && s[10] != 't' && s[10] != ' ') return -EINVAL;
  int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
  int h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
  if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || sec < 0) return -EINVAL;

  size_t p = 19;
  int ms = 0;
  if (s[p] == '.') {
    size_t start = ++p;
    while (p < len && s[p] >= '0' && s[p] <= '9') {
      if (p - start < 3) ms = ms * 10 + (s[p] - '0');
      p++;
    }
    if (p == start) return -EINVAL; /* "." needs at least one digit */
    for (size_t k = p - start; k < 3; k++) ms *= 10;
  }
  if (p >= len) return -EINVAL;

  int offset_min = 0;
  if (s[p] == 'Z' || s[p] == 'z') {
    p++;
  } else if (s[p] == '+' || s[p] == '-') {
    if (len - p < 6 || s[p + 3] != ':') return -EINVAL;
    int oh = digits(s + p + 1, 2), om = digits(s + p + 4, 2);
    if (oh < 0 || om < 0 || oh > 23 || om > 59) return -EINVAL;
    offset_min = (oh * 60 + om) * (s[p] == '-' ? -1 : 1);
    p += 6;
  } else {
    return -EINVAL;
  }
  if (p != len) return -EINVAL; /* trailing garbage */

  int64_t local;
  if (civil_to_ms(y, mo, d, h, mi, sec, ms, &local) < 0) return -EINVAL;
  int64_t utc = local - (int64_t)offset_min * 60000;
  /* an offset may carry the instant past year 0000 or 9999, which the
   * four-digit form cannot write back: out of range, not a time */
  if (utc < days_from_civil(0, 1, 1) * MS_PER_DAY || utc >= days_from_civil(10000, 1, 1) * MS_PER_DAY)
    return -EINVAL;
  *ret_ms = utc;
  return 0;
}

static void put2(char *o, int v) {
  o[0] = (char)('0' + v / 10);
  o[1] = (char)('0' + v % 10);
}

void tf_format_ms(int64_t ms, char out[TF_RFC3339_LEN]) {
  /* Floor division, so -1 ms is 1969-12-31T23:59:59.999Z, not 1970-01-01. */
  int64_t days = ms / MS_PER_DAY, rem = ms % MS_PER_DAY;
  if (rem < 0) {
    rem += MS_PER_DAY;
    days--;
  }
  int64_t y;
  int mo, d;
  civil_from_days(days, &y, &mo, &d);
  int h = (int)(rem / 3600000), mi = (int)(rem / 60000 % 60);
  int sec = (int)(rem / 1000 % 60), milli = (int)(rem % 1000);
  if (y < 0 || y > 9999) {
    /* Outside RFC 3339's range; still unambiguous and never truncated. */
    snprintf(out, TF_RFC3339_LEN, "%lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y, mo, d, h, mi, sec,
             milli);
    return;
  }
  /* The hot path (every event's normal form): no printf. */
  put2(out, (int)(y / 100));
  put2(out + 2, (int)(y % 100));
  out[4] = '-';
  put2(out + 5, mo);
  out[7] = '-';
  put2(out + 8, d);
  out[10] = 'T';
  put2(out + 11, h);
  out[13] = ':';
  put2(out + 14, mi);
  out[16] = ':';
  put2(out + 17, sec);
  out[19] = '.';
  out[20] = (char)('0' + milli / 100);
  put2(out + 21, milli % 100);
  out[23] = 'Z';
  out[24] = '\0';
}

/* Index of the 3-letter name at s in names (case-insensitive), or -1. */
static int name_index(const char *s, const char *const *names, int n) {
  for (int i = 0; i < n; i++)
    if (strncasecmp(s, names[i], 3) == 0) return i;
  return -1;
}

int tf_parse_http_date(const char *s, int64_t *ret_ms) {
  static const char *const wdays[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  static const char *const months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (!s) return -EINVAL;
  /* Header values may arrive with the surrounding blanks and line end. */
  while (*s == ' ' || *s == '\t') s++;
  size_t len = strlen(s);
  while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' || s[len - 1] == '\n')) len--;
  /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT", exactly 29 bytes. */
  if (len != 29) return -EINVAL;
  if (s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
      s[22] != ':' || s[25] != ' ' || strncasecmp(s + 26, "GMT", 3) != 0)
    return -EINVAL;
  int wd = name_index(s, wdays, 7);
  int mo = name_index(s + 8, months, 12);
  int d = digits(s + 5, 2), y = digits(s + 12, 4);
  int h = digits(s + 17, 2), mi = digits(s + 20, 2), sec = digits(s + 23, 2);
  if (wd < 0 || mo < 0 || d < 0 || y < 0 || h < 0 || mi < 0 || sec < 0) return -EINVAL;
  int64_t ms;
  if (civil_to_ms(y, mo + 1, d, h, mi, sec, 0, &ms) < 0) return -EINVAL;
  /* The day name is redundant; a wrong one means a wrong date. 1970-01-01 was
   * a Thursday (index 3). */
  int64_t days = ms / MS_PER_DAY - (ms % MS_PER_DAY < 0);
  int64_t actual = ((days % 7) + 7 + 3) % 7;
  if (actual != wd) return -EINVAL;
  *ret_ms = ms;
  return 0;
}
