/* test_timefmt: proves the time rules every stored and answered time relies
 * on — RFC 3339 parsing (zones, fractions truncated, calendar checks, no leap
 * second, no trailing bytes), formatting including before 1970, IMF-fixdate
 * for Retry-After, and that both clocks tick. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "timefmt.h"

static int64_t P(const char *s) {
  int64_t ms = -777;
  int r = tf_parse_rfc3339(s, strlen(s), &ms);
  return r == 0 ? ms : INT64_MIN;
}

static int bad(const char *s) {
  int64_t ms = 4242;
  int r = tf_parse_rfc3339(s, strlen(s), &ms);
  return r == -EINVAL && ms == 4242; /* refused and ret_ms untouched */
}

static const char *F(int64_t ms) {
  static char buf[4][TF_RFC3339_LEN];
  static int k;
  char *o = buf[k++ % 4];
  tf_format_ms(ms, o);
  return o;
}

static void test_parse_basic(void) {
  CHECK_EQ_INT(P("1970-01-01T00:00:00Z"), 0);
  CHECK_EQ_INT(P("2000-01-01T00:00:00Z"), 946684800000LL);
  CHECK_EQ_INT(P("2026-03-01T08:00:00Z"), 1772352000000LL);
  CHECK_EQ_INT(P("2026-03-01t08:00:00z"), 1772352000000LL);
  CHECK_EQ_INT(P("2026-03-01 08:00:00Z"), 1772352000000LL);
  CHECK_EQ_INT(P("2026-03-01T08:00:00.123Z"), 1772352000123LL);
  /* fractions: any length, truncated not rounded */
  CHECK_EQ_INT(P("2026-03-01T08:00:00.9999999Z"), 1772352000999LL);
  CHECK_EQ_INT(P("2026-03-01T08:00:00.5Z"), 1772352000500LL);
  CHECK_EQ_INT(P("2026-03-01T08:00:00.05Z"), 1772352000050LL);
  CHECK_EQ_INT(P("2026-03-01T08:00:00.123456789012345678901234567890Z"), 1772352000123LL);
  /* offsets */
  CHECK_EQ_INT(P("2026-03-01T10:00:00+02:00"), 1772352000000LL);
  CHECK_EQ_INT(P("2026-03-01T03:30:00-04:30"), 1772352000000LL);
  CHECK_EQ_INT(P("2026-03-01T08:00:00-00:00"), 1772352000000LL);
  CHECK_EQ_INT(P("2026-03-01T00:00:00.123456+02:00"), 1772316000123LL);
  CHECK_EQ_INT(P("2026-03-01T23:59:59+23:59"), P("2026-03-01T00:00:59Z"));
  /* offset crossing a year boundary */
  CHECK_EQ_INT(P("2027-01-01T00:30:00+01:00"), P("2026-12-31T23:30:00Z"));
  /* before the epoch */
  CHECK_EQ_INT(P("1969-12-31T23:59:59.999Z"), -1);
  CHECK_EQ_INT(P("0000-01-01T00:00:00Z"), -62167219200000LL);
  CHECK_EQ_INT(P("9999-12-31T23:59:59.999Z"), 253402300799999LL);
}

static void test_parse_calendar(void) {
  CHECK_EQ_INT(P("2024-02-29T00:00:00Z"), 1709164800000LL); /* leap year */
  CHECK_EQ_INT(P("2000-02-29T00:00:00Z"), 951782400000LL);  /* 400 rule */
  CHECK(bad("2023-02-29T00:00:00Z"));                       /* not a leap year */
  CHECK(bad("1900-02-29T00:00:00Z"));                       /* 100 rule */
  CHECK(bad("2100-02-29T00:00:00Z"));
  CHECK(bad("2026-04-31T00:00:00Z"));
  CHECK(P("2026-01-31T00:00:00Z") != INT64_MIN);
  CHECK(bad("2026-00-10T00:00:00Z"));
  CHECK(bad("2026-13-10T00:00:00Z"));
  CHECK(bad("2026-01-00T00:00:00Z"));
  CHECK(bad("2026-01-32T00:00:00Z"));
  CHECK(bad("2026-01-01T24:00:00Z"));
  CHECK(bad("2026-01-01T23:60:00Z"));
  CHECK(bad("2016-12-31T23:59:60Z")); /* leap second refused */
  CHECK(P("2016-12-31T23:59:59Z") != INT64_MIN);
}

static void test_parse_refused(void) {
  CHECK(bad(""));
  CHECK(bad("2026-03-01"));
  CHECK(bad("2026-03-01T08:00:00"));   /* no zone */
  CHECK(bad("2026-03-01T08:00Z"));     /* no seconds */
  CHECK(bad("2026-03-01T08:00:00.Z")); /* empty fraction */
  CHECK(bad("2026-03-01T08:00:00ZZ")); /* trailing garbage */
  CHECK(bad("2026-03-01T08:00:00Z "));
  CHECK(bad(" 2026-03-01T08:00:00Z"));
  CHECK(bad("2026-03-01T08:00:00+0200"));
  CHECK(bad("2026-03-01T08:00:00+02"));
  CHECK(bad("2026-03-01T08:00:00+24:00"));
  CHECK(bad("2026-03-01T08:00:00+02:60"));
  CHECK(bad("2026-03-01T08:00:00+02:00x"));
  CHECK(bad("2026-03-01X08:00:00Z"));
  CHECK(bad("2026/03/01T08:00:00Z"));
  CHECK(bad("26-03-01T08:00:00Z"));
  CHECK(bad("+2026-03-01T08:00:00Z"));
  CHECK(bad("2026-3-01T08:00:00Z"));
  CHECK(bad("2026-03-01T8:00:00Z"));
  CHECK(bad("2026-03-01T08:00:00,5Z"));
  CHECK(bad("2026-03-01T08:00:00 Z"));
  CHECK(bad("abcd-ef-ghTij:kl:mnZ"));
  CHECK(bad("2026-03-01T08:00:00GMT"));
  /* length is honoured: a valid prefix with the rest cut off */
  int64_t ms = 1;
  CHECK_EQ_INT(tf_parse_rfc3339("2026-03-01T08:00:00Zjunk", 20, &ms), 0);
  CHECK_EQ_INT(ms, 1772352000000LL);
  CHECK_EQ_INT(tf_parse_rfc3339("2026-03-01T08:00:00Z", 19, &ms), -EINVAL);
  /* an embedded NUL is not a digit */
  CHECK_EQ_INT(tf_parse_rfc3339("2026-03-01T08:00:00.1\0Z", 23, &ms), -EINVAL);
  CHECK_EQ_INT(tf_parse_rfc3339(NULL, 0, &ms), -EINVAL);
}

static void test_format(void) {
  CHECK_EQ_STR(F(0), "1970-01-01T00:00:00.000Z");
  CHECK_EQ_STR(F(1772352000123LL), "2026-03-01T08:00:00.123Z");
  CHECK_EQ_STR(F(1709164800000LL), "2024-02-29T00:00:00.000Z");
  CHECK_EQ_STR(F(-1), "1969-12-31T23:59:59.999Z");
  CHECK_EQ_STR(F(-1000), "1969-12-31T23:59:59.000Z");
  CHECK_EQ_STR(F(-86400000), "1969-12-31T00:00:00.000Z");
  CHECK_EQ_STR(F(-86400001), "1969-12-30T23:59:59.999Z");
  CHECK_EQ_STR(F(-62167219200000LL), "0000-01-01T00:00:00.000Z");
  CHECK_EQ_STR(F(253402300799999LL), "9999-12-31T23:59:59.999Z");
  CHECK_EQ_STR(F(253402300800000LL), "10000-01-01T00:00:00.000Z");
  /* extremes never overflow the buffer */
  CHECK(strlen(F(INT64_MIN)) < TF_RFC3339_LEN);
  CHECK(strlen(F(INT64_MAX)) < TF_RFC3339_LEN);
  CHECK(F(INT64_MIN)[0] == '-');
}

static void test_round_trip(void) {
  /* every day of a leap and a common year, and days either side of 1970 */
  int failures = 0;
  for (int64_t d = -800; d < 20000; d += 1) {
    int64_t ms = d * 86400000LL + (d * 7919 % 86400000 + 86400000) % 86400000;
    char buf[TF_RFC3339_LEN];
    tf_format_ms(ms, buf);
    int64_t back = 0;
    if (tf_parse_rfc3339(buf, strlen(buf), &back) != 0 || back != ms) failures++;
  }
  CHECK_EQ_INT(failures, 0);
  int64_t ms;
  CHECK_EQ_INT(tf_parse_rfc3339(F(951868799999LL), 24, &ms), 0); /* 2000-02-29T23:59:59.999 */
  CHECK_EQ_INT(ms, 951868799999LL);
  CHECK_EQ_STR(F(951868799999LL), "2000-02-29T23:59:59.999Z");
}

static void test_http_date(void) {
  int64_t ms = 5;
  CHECK_EQ_INT(tf_parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT", &ms), 0);
  CHECK_EQ_INT(ms, 784111777000LL);
  CHECK_EQ_INT(tf_parse_http_date("Sun, 01 Mar 2026 08:00:00 GMT\r\n", &ms), 0);
  CHECK_EQ_INT(ms, 1772352000000LL);
  CHECK_EQ_INT(tf_parse_http_date("  Thu, 01 Jan 1970 00:00:00 GMT", &ms), 0);
  CHECK_EQ_INT(ms, 0);
  CHECK_EQ_INT(tf_parse_http_date("Thu, 29 Feb 2024 12:00:00 GMT", &ms), 0);
  CHECK_EQ_INT(ms, 1709208000000LL);
  ms = 5;
  CHECK_EQ_INT(tf_parse_http_date("Mon, 06 Nov 1994 08:49:37 GMT", &ms), -EINVAL); /* wrong day */
  CHECK_EQ_INT(tf_parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC", &ms), -EINVAL);
  CHECK_EQ_INT(tf_parse_http_date("Sun, 6 Nov 1994 08:49:37 GMT", &ms), -EINVAL);
  CHECK_EQ_INT(tf_parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT", &ms), -EINVAL);
  CHECK_EQ_INT(tf_parse_http_date("Wed, 29 Feb 2023 12:00:00 GMT", &ms), -EINVAL);
  CHECK_EQ_INT(tf_parse_http_date("Sun, 06 Nov 1994 24:49:37 GMT", &ms), -EINVAL);
  CHECK_EQ_INT(tf_parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", &ms), -EINVAL);
  CHECK_EQ_INT(tf_parse_http_date("120", &ms), -EINVAL);
  CHECK_EQ_INT(tf_parse_http_date("", &ms), -EINVAL);
  CHECK_EQ_INT(tf_parse_http_date(NULL, &ms), -EINVAL);
  CHECK_EQ_INT(ms, 5);
}

static void test_clocks(void) {
  int64_t now = tf_now_ms();
  CHECK(now > 1700000000000LL); /* after 2023: the wall clock is in ms */
  uint64_t a = tf_mono_ms(), b = tf_mono_ms();
  CHECK(b >= a);
}

int main(void) {
  test_parse_basic();
  test_parse_calendar();
  test_parse_refused();
  test_format();
  test_round_trip();
  test_http_date();
  test_clocks();
  return check_finish("test_timefmt");
}
