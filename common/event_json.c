/* event_json: the strict-JSON gates of the event parser that cJSON does not
 * keep — the duplicate-key and depth walk over a parsed tree, and the lexical
 * scan of one event's raw text (numbers, control bytes, whitespace, \u
 * escapes, surrogates, depth) before cJSON parses it, which also tells
 * whether the text is already its own normal form. */
#include "event_int.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- tree checks ------------------------------------------------------------- */

static int cmp_str_ptr(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* First duplicated key of an object (in some order), NULL if none. Small
 * objects compare pairwise; big ones sort the keys so the check stays
 * O(n log n). Returns -ENOMEM when the key array cannot be allocated. */
int ev__find_dup_key(const cJSON *obj, const char **ret_dup) {
  *ret_dup = NULL;
  size_t n = 0;
  for (const cJSON *c = obj->child; c; c = c->next) n++;
  if (n < 2) return 0;
  if (n <= 16) {
    for (const cJSON *a = obj->child; a; a = a->next)
      for (const cJSON *b = a->next; b; b = b->next)
        if (a->string && b->string && a->string[0] == b->string[0] && strcmp(a->string, b->string) == 0) {
          *ret_dup = a->string;
          return 0;
        }
    return 0;
  }
  const char *stack[128];
  const char **keys = n <= 128 ? stack : malloc(n * sizeof *keys);
  if (!keys) return -ENOMEM;
  size_t k = 0;
  for (const cJSON *c = obj->child; c; c = c->next) keys[k++] = c->string ? c->string : "";
  qsort(keys, k, sizeof *keys, cmp_str_ptr);
  for (size_t i = 1; i < k; i++)
    if (strcmp(keys[i - 1], keys[i]) == 0) {
      *ret_dup = keys[i];
      break;
    }
  if (keys != stack) free(keys);
  return 0;
}

/* Walk node (at nesting level `level`, containers only count) looking for
 * duplicate keys and containers deeper than max. Never recurses past max. */
int ev__tree_walk(const cJSON *node, int level, int max, const char **ret_dup) {
  if (!cJSON_IsObject(node) && !cJSON_IsArray(node)) return TREE_OK;
  if (level > max) return TREE_DEEP;
  if (cJSON_IsObject(node)) {
    if (ev__find_dup_key(node, ret_dup) < 0) return TREE_NOMEM;
    if (*ret_dup) return TREE_DUP;
  }
  for (const cJSON *c = node->child; c; c = c->next) {
    int r = ev__tree_walk(c, level + 1, max, ret_dup);
    if (r) return r;
  }
  return TREE_OK;
}

int ev_json_check_tree(const cJSON *root, int max_depth, char *err, size_t errlen) {
  const char *dup = NULL;
  int r = root ? ev__tree_walk(root, 1, max_depth, &dup) : TREE_OK;
  if (r == TREE_OK) return 0;
  if (err && errlen) {
    if (r == TREE_DUP) snprintf(err, errlen, "duplicate key \"%.64s\"", dup);
    else if (r == TREE_DEEP) snprintf(err, errlen, "nesting deeper than %d levels", max_depth);
    else snprintf(err, errlen, "out of memory");
    err[ev__utf8_clip(err, strlen(err))] = '\0';
  }
  return r == TREE_NOMEM ? -ENOMEM : -EINVAL;
}

/* ---- lexical scan of one event's raw text ------------------------------------ */

static int hex4(const char *s, size_t avail) {
  if (avail < 4) return -1;
  int v = 0;
  for (int i = 0; i < 4; i++) {
    char c = s[i];
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/* Length of a strict JSON number at s, or 0 if it is not one (cJSON accepts
 * "01", "1." and "-01"). */
static size_t number_len(const char *s, size_t n) {
  size_t q = 0;
  if (q < n && s[q] == '-') q++;
  if (q >= n || !is_digit(s[q])) return 0;
  if (s[q] == '0') q++;
  else
    while (q < n && is_digit(s[q])) q++;
  if (q < n && s[q] == '.') {
    q++;
    if (q >= n || !is_digit(s[q])) return 0;
    while (q < n && is_digit(s[q])) q++;
  }
  if (q < n && (s[q] == 'e' || s[q] == 'E')) {
    q++;
    if (q < n && (s[q] == '+' || s[q] == '-')) q++;
    if (q >= n || !is_digit(s[q])) return 0;
    while (q < n && is_digit(s[q])) q++;
  }
  if (q < n && (is_digit(s[q]) || s[q] == '.' || s[q] == 'e' || s[q] == 'E' || s[q] == '+' || s[q] == '-'))
    return 0;
  return q;
}

/* What scan_json found wrong: SCAN_SYNTAX is malformed JSON (reported for
 * the body or line, no field); SCAN_CONTENT is valid JSON that ferry refuses
 * (\u0000, lone surrogates), reported with the top-level field; SCAN_DEEP is
 * nesting past the limit, reported like SCAN_CONTENT. */
enum { SCAN_OK = 0, SCAN_SYNTAX, SCAN_CONTENT, SCAN_DEEP };

__attribute__((format(printf, 4, 5))) static int scan_fail(ev_error *e, int kind, const char *field,
                                                           const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ev__error_vset(e, 0, field, fmt, ap);
  va_end(ap);
  return kind;
}

/* An escape cJSON prints the same way: \" \\ \b \f \n \r \t (it writes '/'
 * unescaped and \uXXXX only for other control characters). */
static bool canon_escape(char c) {
  return c == '"' || c == '\\' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't';
}

/* Is the strict JSON number s[0..l) spelt the way cJSON prints its double?
 * cJSON prints an int-valued number as "%d" and anything else with "%1.15g"
 * (falling back to 17 digits when 15 do not round-trip). So: a plain integer
 * of at most 15 digits (not "-0"), or a fixed-point number of at most 15
 * significant digits, no trailing zero after the point, and no more than
 * three zeros right after "0." ("%g" switches to exponent form below 1e-4).
 * At most 15 significant digits round-trip exactly through a double, so
 * "%1.15g" gives the same digits back. */
static bool canon_number(const char *s, size_t l) {
  size_t q = 0, sig = 0;
  if (s[q] == '-') q++;
  if (q == l) return false;
  bool zero_int = s[q] == '0';
  if (zero_int && q + 1 == l) return q == 0; /* "0" yes, "-0" prints as "0" */
  if (!zero_int)
    while (q < l && is_digit(s[q])) q++, sig++;
  else q++;
  if (q == l) return sig <= 15;
  if (s[q] != '.') return false; /* exponent: cJSON prints its own spelling */
  size_t f0 = ++q, lead = 0;
  while (q < l && is_digit(s[q])) q++;
  if (q != l || q == f0 || s[q - 1] == '0') return false;
  if (zero_int) {
    while (f0 + lead < q && s[f0 + lead] == '0') lead++;
    if (lead > 3) return false;
  }
  sig += q - f0 - lead;
  return sig <= 15;
}

/* A top-level value ends at s[p] (a ',' or the closing '}'); note the span
 * of "attributes". */
static void canon_value_end(scan_canon *cn, const char *key, size_t key_len, size_t val_start, size_t p) {
  if (!cn->attr_seen && key_len == 10 && memcmp(key, "attributes", 10) == 0 && p >= val_start) {
    cn->attr_seen = true;
    cn->attr_len = p - val_start;
  }
}

/* A top-level key k[0..len) (esc: it holds an escape), with *seen the keys
 * before it as bits: keys_distinct stays true while no two keys fall on the
 * same bit, a mix of length, first and last byte under which the twelve
 * fields of SPEC §1 are all apart. Two keys with distinct bits differ, and
 * for keys without escapes (their text is their value) that is exact; an
 * escape or two keys on one bit leave the check to the tree. */
static inline void canon_key(scan_canon *cn, uint64_t *seen, const char *k, size_t len, bool esc) {
  unsigned bit = len ? (unsigned)(len + (unsigned char)k[0] + 2u * (unsigned char)k[len - 1]) & 63 : 0;
  uint64_t m = (uint64_t)1 << bit;
  if (esc || (*seen & m)) cn->keys_distinct = false;
  *seen |= m;
}

/* Bytes a string's text may hold as they are: not '"', not '\\', not a
 * control byte below 0x20 (UTF-8 is checked apart, as before). */
static const unsigned char str_plain[256] = {
    [0x20] = 1,
    [0x21] = 1,
    [0x23 ... 0x5B] = 1,
    [0x5D ... 0xFF] = 1,
};

/* Scan the raw JSON text s[0..n) (base = its offset in the body, for
 * messages). Returns SCAN_OK, or a SCAN_* kind with *err filled (its index
 * is left for the caller). Structural errors this scan does not look for are
 * left to cJSON.
 *
 * With ret_stop (an array's element: s is where it starts, n runs to the end
 * of the array) the scan also does the array splitter's work: it stops at the
 * first ',', ']' or '}' outside a string at depth 0, the byte that ends the
 * element, and puts its offset in *ret_stop (left at n when there is none).
 * Blanks at depth 0 before that byte are not the element's text: they do not
 * count against cn. */
static int scan_json(const char *s, size_t n, int max_depth, size_t base, ev_error *err, scan_canon *cn,
                     size_t *ret_stop) {
  size_t p = 0;
  if (ret_stop) *ret_stop = n;
  int depth = 0;
  bool expect_key = false; /* at depth 1 of an object, the next string is a key */
  char key[64] = "";
  size_t key_len = 0;
  size_t val_start = 0;   /* canon: where the current top-level value starts */
  uint64_t keys_seen = 0; /* canon_key's bits */
  if (cn) *cn = (scan_canon){.ok = true, .keys_distinct = true};
  while (p < n) {
    unsigned char c = (unsigned char)s[p];
    switch (c) {
      case ' ':
      case '\t':
      case '\n':
      case '\r':
        if (ret_stop && depth == 0) { /* the element's text goes on only if more than blanks follow */
          while (++p < n && is_ws(s[p])) {}
          if (cn && p < n && s[p] != ',' && s[p] != ']' && s[p] != '}') cn->ok = false;
          break;
        }
        if (cn) cn->ok = false; /* cJSON prints no blanks */
        p++;
        break;
      case ':':
        if (depth == 1) val_start = p + 1;
        p++;
        break;
      case '{':
      case '[':
        if (++depth > max_depth)
          return scan_fail(err, SCAN_DEEP, key, "nesting deeper than %d levels", max_depth);
        if (depth == 1) expect_key = c == '{';
        p++;
        break;
      case '}':
      case ']':
        if (ret_stop && depth == 0) {
          *ret_stop = p;
          return SCAN_OK;
        }
        if (cn && depth == 1) canon_value_end(cn, key, key_len, val_start, p);
        depth--;
        p++;
        break;
      case ',':
        if (ret_stop && depth == 0) {
          *ret_stop = p;
          return SCAN_OK;
        }
        if (cn && depth == 1) canon_value_end(cn, key, key_len, val_start, p);
        if (depth == 1) expect_key = true;
        p++;
        break;
      case '"': {
        bool in_key = depth == 1 && expect_key;
        const char *field = in_key ? "" : key;
        bool esc = false;
        size_t start = ++p;
        for (;;) {
          while (p < n && str_plain[(unsigned char)s[p]]) p++;
          if (p >= n) return SCAN_OK; /* unterminated: cJSON reports it */
          c = (unsigned char)s[p];
          if (c == '"') break;
          if (c < 0x20)
            return scan_fail(err, SCAN_SYNTAX, "",
                             "malformed JSON: unescaped control character U+%04X in a string at "
                             "byte %zu",
                             c, base + p);
          if (c != '\\') {
            p++;
            continue;
          }
          esc = true;
          if (p + 1 >= n) return SCAN_OK;
          if (s[p + 1] != 'u') {
            if (cn && !canon_escape(s[p + 1])) cn->ok = false;
            p += 2; /* cJSON judges the other escapes */
            continue;
          }
          if (cn) cn->ok = false; /* cJSON prints \u only for rare controls */
          int u = hex4(s + p + 2, n - p - 2);
          if (u < 0) /* cJSON would read a bad \u escape as U+0000 */
            return scan_fail(err, SCAN_SYNTAX, "",
                             "malformed JSON: \\u must be followed by 4 hex digits (byte %zu)", base + p);
          if (u == 0)
            return scan_fail(err, SCAN_CONTENT, field, "\\u0000 is not accepted in a string%s (byte %zu)",
                             in_key ? " key" : "", base + p);
          if (u >= 0xD800 && u <= 0xDBFF) {
            int lo = -1;
            if (p + 7 < n && s[p + 6] == '\\' && s[p + 7] == 'u') lo = hex4(s + p + 8, n - p - 8);
            if (lo < 0xDC00 || lo > 0xDFFF)
              return scan_fail(err, SCAN_CONTENT, field,
                               "lone UTF-16 surrogate \\u%04X: a high surrogate must be followed by "
                               "a low one (byte %zu)",
                               (unsigned)u, base + p);
            p += 12;
            continue;
          }
          if (u >= 0xDC00 && u <= 0xDFFF)
            return scan_fail(err, SCAN_CONTENT, field,
                             "lone UTF-16 surrogate \\u%04X: a low surrogate without a high one "
                             "(byte %zu)",
                             (unsigned)u, base + p);
          p += 6;
        }
        if (in_key) {
          if (cn && cn->keys_distinct) canon_key(cn, &keys_seen, s + start, p - start, esc);
          size_t kl = p - start;
          /* The event's bytes are valid UTF-8: only a cut key can end inside a sequence. */
          if (kl > sizeof key - 1) kl = ev__utf8_clip(s + start, sizeof key - 1);
          memcpy(key, s + start, kl);
          key[kl] = '\0';
          key_len = kl;
          expect_key = false;
        }
        p++;
        break;
      }
      case '-':
      case '0':
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
      case '7':
      case '8':
      case '9': {
        size_t l = number_len(s + p, n - p);
        if (!l)
          return scan_fail(err, SCAN_SYNTAX, "", "malformed JSON: invalid number at byte %zu", base + p);
        if (cn && cn->ok && !canon_number(s + p, l)) cn->ok = false;
        p += l;
        break;
      }
      case 'n':
        if (cn && depth == 1) cn->ok = false; /* a top-level null is dropped from the normal form */
        /* fall through */
      case 't':
      case 'f':
        while (p < n && s[p] >= 'a' && s[p] <= 'z') p++; /* cJSON checks the word */
        break;
      default:
        if (c == 0xEF && base + p == 0)
          return scan_fail(err, SCAN_SYNTAX, "",
                           "malformed JSON: the body starts with a byte order mark; send plain UTF-8");
        if (c < 0x20 || c == 0x7F)
          return scan_fail(err, SCAN_SYNTAX, "",
                           "malformed JSON: unexpected control character U+%04X at byte %zu", c, base + p);
        if (c >= 0x80)
          return scan_fail(err, SCAN_SYNTAX, "", "malformed JSON: unexpected non-ASCII text at byte %zu",
                           base + p);
        return scan_fail(err, SCAN_SYNTAX, "", "malformed JSON: unexpected '%c' at byte %zu", (char)c,
                         base + p);
    }
  }
  return SCAN_OK;
}

/* Run scan_json on one event and report what it found with the right index. */
int ev__scan_event(const char *s, size_t n, int index, int body_index, size_t base, ev_errors *errs,
                   scan_canon *cn) {
  ev_error e;
  int kind = scan_json(s, n, EV_MAX_DEPTH, base, &e, cn, NULL);
  if (kind == SCAN_OK) return 0;
  if (kind == SCAN_DEEP) ev_errors_add(errs, index, e.field, "%s (the event object is level 1)", e.message);
  else ev_errors_add(errs, kind == SCAN_SYNTAX ? body_index : index, e.field, "%s", e.message);
  return -EINVAL;
}

int ev__scan_element(const char *s, size_t n, size_t base, size_t *ret_stop, scan_canon *cn) {
  ev_error e;
  if (scan_json(s, n, EV_MAX_DEPTH, base, &e, cn, ret_stop) != SCAN_OK || *ret_stop >= n) return -1;
  return 0;
}

int ev_json_check_text(const char *buf, size_t len, int max_depth, char *err, size_t errlen) {
  ev_error e;
  if (!buf) return len ? -EINVAL : 0;
  if (scan_json(buf, len, max_depth, 0, &e, NULL, NULL) == SCAN_OK) return 0;
  if (err && errlen) {
    if (e.field[0]) snprintf(err, errlen, "%s: %s", e.field, e.message);
    else snprintf(err, errlen, "%s", e.message);
    err[ev__utf8_clip(err, strlen(err))] = '\0';
  }
  return -EINVAL;
}
