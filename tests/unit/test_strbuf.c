/* test_strbuf: the bounded growable buffer — appends, printf across
 * growth, the bound failing cleanly and sticking, fixed storage, direct
 * writes (sb_grow/sb_advance) as the decompressor uses them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "strbuf.h"

static void test_append_and_grow(void) {
  strbuf b;
  sb_init(&b, 1 << 20);
  CHECK(b.p == NULL);
  for (int i = 0; i < 1000; i++) CHECK_EQ_INT(sb_printf(&b, "%04d,", i), 0);
  CHECK_EQ_INT(b.len, 5000);
  CHECK_EQ_INT(strlen(b.p), 5000);
  CHECK(strncmp(b.p, "0000,0001,", 10) == 0);
  CHECK(strcmp(b.p + 4995, "0999,") == 0);
  CHECK_EQ_INT(sb_adds(&b, "x"), 0);
  CHECK_EQ_INT(sb_addc(&b, 'y'), 0);
  CHECK(strcmp(b.p + 4995, "0999,xy") == 0);
  size_t n = 0;
  char *p = sb_release(&b, &n);
  CHECK_EQ_INT(n, 5002);
  CHECK(b.p == NULL && b.len == 0);
  free(p);
  sb_clear(&b);
}

static void test_bound(void) {
  strbuf b;
  sb_init(&b, 10);
  CHECK_EQ_INT(sb_adds(&b, "0123456789"), 0); /* exactly the bound */
  CHECK_EQ_INT(b.len, 10);
  CHECK_EQ_INT(sb_addc(&b, 'x'), -ENOSPC);
  CHECK_EQ_INT(b.err, -ENOSPC);
  CHECK_EQ_STR(b.p, "0123456789");        /* the text is untouched */
  CHECK_EQ_INT(sb_adds(&b, ""), -ENOSPC); /* the failure sticks */
  sb_reset(&b);
  CHECK_EQ_INT(b.err, 0);
  CHECK_EQ_INT(sb_printf(&b, "%s", "abcdefghijk"), -ENOSPC); /* 11 > 10 */
  CHECK_EQ_STR(b.p, "");
  sb_reset(&b);
  CHECK_EQ_INT(sb_printf(&b, "%d", 12345), 0);
  CHECK_EQ_INT(sb_printf(&b, "%d", 123456), -ENOSPC);
  CHECK_EQ_STR(b.p, "12345");
  /* a mark: undo what was appended since, and the failure with it */
  sb_truncate(&b, 3);
  CHECK_EQ_INT(b.err, 0);
  CHECK_EQ_STR(b.p, "123");
  sb_truncate(&b, 99); /* never grows */
  CHECK_EQ_INT(b.len, 3);
  sb_clear(&b);
  CHECK(b.p == NULL);
}

static void test_fixed(void) {
  char buf[8];
  strbuf b;
  sb_init_fixed(&b, buf, sizeof(buf));
  CHECK_EQ_INT(sb_printf(&b, "%s", "abc"), 0);
  CHECK_EQ_INT(sb_adds(&b, "defg"), 0); /* 7 bytes + NUL = 8 */
  CHECK_EQ_STR(buf, "abcdefg");
  CHECK_EQ_INT(sb_addc(&b, 'h'), -ENOSPC);
  CHECK_EQ_STR(buf, "abcdefg");
  sb_clear(&b); /* does not free the caller's storage */
  CHECK(b.p == buf);
  CHECK_EQ_INT(sb_printf(&b, "%s", "too long!"), -ENOSPC);
  CHECK_EQ_STR(buf, "");
}

static void test_direct_writes(void) {
  strbuf b;
  sb_init(&b, 100);
  CHECK_EQ_INT(sb_grow(&b, 30), 0);
  CHECK(sb_room_len(&b) >= 30);
  memset(sb_room(&b), 'a', 30);
  sb_advance(&b, 30);
  CHECK_EQ_INT(b.len, 30);
  CHECK_EQ_INT(strlen(b.p), 30);
  /* growing doubles what is held, but never past the bound */
  while (b.len < 100) {
    CHECK_EQ_INT(sb_grow(&b, 1), 0);
    size_t room = sb_room_len(&b);
    CHECK(room >= 1 && b.len + room <= 100);
    memset(sb_room(&b), 'b', room);
    sb_advance(&b, room);
  }
  CHECK_EQ_INT(b.len, 100);
  CHECK_EQ_INT(sb_grow(&b, 1), -ENOSPC);
  CHECK_EQ_INT(b.p[100], '\0');
  sb_clear(&b);
}

int main(void) {
  test_append_and_grow();
  test_bound();
  test_fixed();
  test_direct_writes();
  return check_finish("test_strbuf");
}
