/* event: turns untrusted ingest bodies into validated events (SPEC §1, §4).
 *
 * cJSON builds the trees, but it is lenient where the contract is strict, so
 * every event passes four gates:
 *   1. ev_utf8_valid over the raw bytes (cJSON does not check UTF-8);
 *   2. a lexical scan of the event's raw text (scan_json) that refuses what
 *      cJSON lets slide: leading zeros and "1." in numbers, raw control bytes,
 *      non-JSON whitespace, "\u" without 4 hex digits (cJSON reads U+0000),
 *      and — with the field named — "\u0000" (cJSON would silently cut the
 *      string there), lone surrogate escapes and nesting deeper than
 *      EV_MAX_DEPTH (before cJSON recurses into it);
 *   3. cJSON_ParseWithLengthOpts on exactly the event's bytes, then the
 *      duplicate-key walk behind ev_json_check_tree (sorted keys for big
 *      objects, so it stays O(n log n));
 *   4. check_event: the field rules, collecting every error.
 * An array body is never parsed as a whole: split_next finds each element's
 * raw span, which gives the per-event size "as received" and lets one bad
 * element be reported with its index while the others are still checked.
 *
 * The normal form (ev_event.json) is the parsed tree, edited in place
 * (top-level nulls, seq and ingested_at removed, timestamp rewritten, count defaulted)
 * and printed once by cJSON. On state events `count` is ignored: it is not
 * validated and is passed through as received, like an unknown field. */
#include "event.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timefmt.h"

#define EV_MAX_SEQ 9007199254740991LL /* 2^53 - 1: exact in a JSON number */

static const char *const type_names[] = {"working", "idle", "absent", "product_count"};

const char *ev_type_name(ev_type t) {
  return (unsigned)t < sizeof type_names / sizeof *type_names ? type_names[t] : "unknown";
}

int ev_type_parse(const char *s, ev_type *ret) {
  if (!s) return -EINVAL;
  for (size_t i = 0; i < sizeof type_names / sizeof *type_names; i++)
    if (strcmp(s, type_names[i]) == 0) {
      *ret = (ev_type)i;
      return 0;
    }
  return -EINVAL;
}

/* ---- UTF-8 ----------------------------------------------------------------- */

/* Decode one code point at s (n bytes available). Returns its length, or 0
 * for an invalid sequence: truncated, overlong, surrogate or > U+10FFFF. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *ret_cp) {
  unsigned char c = s[0];
  if (c < 0x80) {
    *ret_cp = c;
    return 1;
  }
  size_t len;
  uint32_t cp, min;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2, cp = c & 0x1F, min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3, cp = c & 0x0F, min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return 0; /* continuation byte, C0/C1 (always overlong) or F5..FF */
  }
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  *ret_cp = cp;
  return len;
}

/* Offset of the first byte that is not part of valid UTF-8, or len. */
static size_t utf8_first_bad(const char *buf, size_t len) {
  const unsigned char *s = (const unsigned char *)buf;
  size_t i = 0;
  while (i < len) {
    /* Bodies are mostly ASCII: skip 8 bytes at a time while no high bit. */
    while (i + 8 <= len) {
      uint64_t w;
      memcpy(&w, s + i, 8);
      if (w & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= len) break;
    if (s[i] < 0x80) {
      i++;
      continue;
    }
    uint32_t cp;
    size_t l = utf8_decode(s + i, len - i, &cp);
    if (!l) return i;
    i += l;
  }
  return len;
}

/* Returns 1 when buf is valid UTF-8, 0 when it is not. */
int ev_utf8_valid(const char *buf, size_t len) {
  if (!buf) return len == 0;
  return utf8_first_bad(buf, len) == len;
}

/* Length of the longest prefix of s[0..n) that does not end inside a
 * multi-byte sequence, so truncated text stays valid UTF-8. */
static size_t utf8_clip(const char *s, size_t n) {
  size_t i = n, back = 0;
  while (i > 0 && back < 3 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) i--, back++;
  if (i == 0) return n;
  unsigned char lead = (unsigned char)s[i - 1];
  size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  return n - (i - 1) < need ? i - 1 : n;
}

/* ---- errors -------------------------------------------------------------------- */

/* Fill one error; field and message are cut on a UTF-8 boundary. */
static void error_vset(ev_error *e, int index, const char *field, const char *fmt, va_list ap) {
  e->index = index;
  if (!field) field = "";
  size_t fl = utf8_clip(field, strnlen(field, sizeof e->field - 1));
  memcpy(e->field, field, fl);
  e->field[fl] = '\0';
  int r = vsnprintf(e->message, sizeof e->message, fmt, ap);
  if (r < 0) e->message[0] = '\0';
  else if ((size_t)r >= sizeof e->message) e->message[utf8_clip(e->message, sizeof e->message - 1)] = '\0';
}

void ev_errors_add(ev_errors *errs, int index, const char *field, const char *fmt, ...) {
  if (!errs) return;
  errs->total++;
  if (errs->n >= EV_MAX_ERRORS) return;
  va_list ap;
  va_start(ap, fmt);
  error_vset(&errs->items[errs->n++], index, field, fmt, ap);
  va_end(ap);
}

/* ---- tree checks ------------------------------------------------------------- */

static int cmp_str_ptr(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* First duplicated key of an object (in some order), NULL if none. Small
 * objects compare pairwise; big ones sort the keys so the check stays
 * O(n log n). Returns -ENOMEM when the key array cannot be allocated. */
static int find_dup_key(const cJSON *obj, const char **ret_dup) {
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

enum { TREE_OK = 0, TREE_DUP, TREE_DEEP, TREE_NOMEM };

/* Walk node (at nesting level `level`, containers only count) looking for
 * duplicate keys and containers deeper than max. Never recurses past max. */
static int tree_walk(const cJSON *node, int level, int max, const char **ret_dup) {
  if (!cJSON_IsObject(node) && !cJSON_IsArray(node)) return TREE_OK;
  if (level > max) return TREE_DEEP;
  if (cJSON_IsObject(node)) {
    if (find_dup_key(node, ret_dup) < 0) return TREE_NOMEM;
    if (*ret_dup) return TREE_DUP;
  }
  for (const cJSON *c = node->child; c; c = c->next) {
    int r = tree_walk(c, level + 1, max, ret_dup);
    if (r) return r;
  }
  return TREE_OK;
}

int ev_json_check_tree(const cJSON *root, int max_depth, char *err, size_t errlen) {
  const char *dup = NULL;
  int r = root ? tree_walk(root, 1, max_depth, &dup) : TREE_OK;
  if (r == TREE_OK) return 0;
  if (err && errlen) {
    if (r == TREE_DUP) snprintf(err, errlen, "duplicate key \"%.64s\"", dup);
    else if (r == TREE_DEEP) snprintf(err, errlen, "nesting deeper than %d levels", max_depth);
    else snprintf(err, errlen, "out of memory");
    err[utf8_clip(err, strlen(err))] = '\0';
  }
  return r == TREE_NOMEM ? -ENOMEM : -EINVAL;
}

/* ---- lexical scan of one event's raw text ------------------------------------ */

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

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
  error_vset(e, 0, field, fmt, ap);
  va_end(ap);
  return kind;
}

/* What scan_json learns, when asked, about whether the text is already its
 * own normal form: exactly what cJSON_PrintUnformatted prints for the tree
 * cJSON parses from it, with no top-level null. Conservative: `ok` false
 * only means "print it to know". */
typedef struct scan_canon {
  bool ok;
  bool attr_seen;  /* a top-level "attributes" value was found */
  size_t attr_len; /* the first one's text length (cJSON's print of it when ok) */
} scan_canon;

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
static void canon_value_end(scan_canon *cn, const char *key, size_t val_start, size_t p) {
  if (!cn->attr_seen && strcmp(key, "attributes") == 0 && p >= val_start) {
    cn->attr_seen = true;
    cn->attr_len = p - val_start;
  }
}

/* Scan the raw JSON text s[0..n) (base = its offset in the body, for
 * messages). Returns SCAN_OK, or a SCAN_* kind with *err filled (its index
 * is left for the caller). Structural errors this scan does not look for are
 * left to cJSON. */
static int scan_json(const char *s, size_t n, int max_depth, size_t base, ev_error *err, scan_canon *cn) {
  size_t p = 0;
  int depth = 0;
  bool expect_key = false; /* at depth 1 of an object, the next string is a key */
  char key[64] = "";
  size_t val_start = 0; /* canon: where the current top-level value starts */
  if (cn) *cn = (scan_canon){.ok = true};
  while (p < n) {
    unsigned char c = (unsigned char)s[p];
    switch (c) {
      case ' ':
      case '\t':
      case '\n':
      case '\r':
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
        if (cn && depth == 1) canon_value_end(cn, key, val_start, p);
        depth--;
        p++;
        break;
      case ',':
        if (cn && depth == 1) canon_value_end(cn, key, val_start, p);
        if (depth == 1) expect_key = true;
        p++;
        break;
      case '"': {
        bool in_key = depth == 1 && expect_key;
        const char *field = in_key ? "" : key;
        size_t start = ++p;
        for (;;) {
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
          size_t kl = p - start < sizeof key - 1 ? p - start : sizeof key - 1;
          kl = utf8_clip(s + start, kl);
          memcpy(key, s + start, kl);
          key[kl] = '\0';
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
static int scan_event(const char *s, size_t n, int index, int body_index, size_t base, ev_errors *errs,
                      scan_canon *cn) {
  ev_error e;
  int kind = scan_json(s, n, EV_MAX_DEPTH, base, &e, cn);
  if (kind == SCAN_OK) return 0;
  if (kind == SCAN_DEEP) ev_errors_add(errs, index, e.field, "%s (the event object is level 1)", e.message);
  else ev_errors_add(errs, kind == SCAN_SYNTAX ? body_index : index, e.field, "%s", e.message);
  return -EINVAL;
}

int ev_json_check_text(const char *buf, size_t len, int max_depth, char *err, size_t errlen) {
  ev_error e;
  if (!buf) return len ? -EINVAL : 0;
  if (scan_json(buf, len, max_depth, 0, &e, NULL) == SCAN_OK) return 0;
  if (err && errlen) {
    if (e.field[0]) snprintf(err, errlen, "%s: %s", e.field, e.message);
    else snprintf(err, errlen, "%s", e.message);
    err[utf8_clip(err, strlen(err))] = '\0';
  }
  return -EINVAL;
}

/* ---- array splitting --------------------------------------------------------- */

/* Walks the text of a JSON array (s[0] == '[', s[n-1] the last non-blank
 * byte of the body) one top-level element at a time, tracking only string,
 * escape and bracket state. Element texts are checked by scan_event and cJSON
 * afterwards; this only has to find where each one starts and ends. */
typedef struct splitter {
  const char *s;
  size_t n, p, count;
  bool done;
} splitter;

/* 1: element at [*ret_start, *ret_start + *ret_len); 0: no more; -1: the
 * array itself is malformed near *ret_err. */
static int split_next(splitter *sp, size_t *ret_start, size_t *ret_len, size_t *ret_err,
                      const char **ret_why) {
  const char *s = sp->s;
  size_t n = sp->n, p = sp->p;
  if (sp->done) return 0;
  while (p < n && is_ws(s[p])) p++;
  if (p >= n) {
    *ret_err = n, *ret_why = "the array is not closed";
    return -1;
  }
  if (s[p] == ']') {
    if (sp->count > 0) {
      *ret_err = p, *ret_why = "a ',' is followed by ']'";
      return -1;
    }
    sp->done = true;
    if (p + 1 != n) {
      *ret_err = p + 1, *ret_why = "data after the array";
      return -1;
    }
    return 0;
  }
  size_t start = p, depth = 0;
  for (; p < n; p++) {
    char c = s[p];
    if (c == '"') {
      for (p++; p < n && s[p] != '"'; p++)
        if (s[p] == '\\') p++;
      if (p >= n) break;
    } else if (c == '{' || c == '[') {
      depth++;
    } else if (c == '}' || c == ']') {
      if (depth == 0) break;
      depth--;
    } else if (c == ',' && depth == 0) {
      break;
    }
  }
  if (p >= n) {
    *ret_err = n, *ret_why = "the array is not closed";
    return -1;
  }
  size_t end = p;
  while (end > start && is_ws(s[end - 1])) end--;
  if (end == start || s[p] == '}') {
    *ret_err = p, *ret_why = end == start ? "an array element is missing" : "unexpected '}'";
    return -1;
  }
  if (s[p] == ']') {
    sp->done = true;
    if (p + 1 != n) {
      *ret_err = p + 1, *ret_why = "data after the array";
      return -1;
    }
  }
  sp->p = p + 1;
  sp->count++;
  *ret_start = start;
  *ret_len = end - start;
  return 1;
}

/* ---- field rules ------------------------------------------------------------- */

static const char *json_type(const cJSON *v) {
  if (cJSON_IsNull(v)) return "null";
  if (cJSON_IsBool(v)) return "a boolean";
  if (cJSON_IsNumber(v)) return "a number";
  if (cJSON_IsString(v)) return "a string";
  if (cJSON_IsArray(v)) return "an array";
  if (cJSON_IsObject(v)) return "an object";
  return "an invalid value";
}

/* A number that is whole and within [lo, hi]; 1.0 counts, 1.5 and 1e300 do not. */
static bool get_int(const cJSON *v, int64_t lo, int64_t hi, int64_t *ret) {
  if (!cJSON_IsNumber(v)) return false;
  double d = v->valuedouble;
  if (!(d >= (double)lo && d <= (double)hi)) return false; /* NaN fails too */
  int64_t i = (int64_t)d;
  if ((double)i != d) return false;
  *ret = i;
  return true;
}

/* Unicode general category Cf (format characters), as listed in the brief of
 * SPEC §1's "id": invisible characters that would make two ids look equal. */
static bool is_format_cp(uint32_t cp) {
  static const uint32_t ranges[][2] = {
      {0x00AD, 0x00AD},   {0x0600, 0x0605},   {0x061C, 0x061C},   {0x06DD, 0x06DD},   {0x070F, 0x070F},
      {0x08E2, 0x08E2},   {0x180E, 0x180E},   {0x200B, 0x200F},   {0x202A, 0x202E},   {0x2060, 0x2064},
      {0x2066, 0x206F},   {0xFEFF, 0xFEFF},   {0xFFF9, 0xFFFB},   {0x110BD, 0x110BD}, {0x110CD, 0x110CD},
      {0x13430, 0x1343F}, {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A}, {0xE0001, 0xE0001}, {0xE0020, 0xE007F},
  };
  if (cp < 0xAD) return false;
  for (size_t i = 0; i < sizeof ranges / sizeof *ranges; i++) {
    if (cp < ranges[i][0]) return false;
    if (cp <= ranges[i][1]) return true;
  }
  return false;
}

typedef struct fields {
  const cJSON *event_id, *timestamp, *event_type, *worker_id, *workstation_id, *count, *confidence,
      *camera_id, *model_version, *attributes, *seq, *ingested_at;
} fields;

/* First occurrence of each known top-level field (duplicates are reported
 * separately). */
static void collect_fields(const cJSON *obj, fields *f) {
  static const struct {
    const char *name;
    size_t off;
  } known[] = {
      {"event_id", offsetof(fields, event_id)},
      {"timestamp", offsetof(fields, timestamp)},
      {"event_type", offsetof(fields, event_type)},
      {"worker_id", offsetof(fields, worker_id)},
      {"workstation_id", offsetof(fields, workstation_id)},
      {"count", offsetof(fields, count)},
      {"confidence", offsetof(fields, confidence)},
      {"camera_id", offsetof(fields, camera_id)},
      {"model_version", offsetof(fields, model_version)},
      {"attributes", offsetof(fields, attributes)},
      {"seq", offsetof(fields, seq)},
      {"ingested_at", offsetof(fields, ingested_at)},
  };
  memset(f, 0, sizeof *f);
  for (const cJSON *c = obj->child; c; c = c->next) {
    const char *k = c->string;
    if (!k) continue;
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
      if (k[0] != known[i].name[0] || strcmp(k, known[i].name) != 0) continue;
      const cJSON **slot = (const cJSON **)((char *)f + known[i].off);
      if (!*slot) *slot = c;
      break;
    }
  }
}

/* What check_event learned, for build_event. */
typedef struct checked {
  int64_t ts_ms, count, seq, ingested_at_ms;
  ev_type type;
  char *attributes; /* attributes as cJSON printed them (cJSON_malloc'd) or NULL */
  fields f;         /* the object's known fields as checked (before any edit) */
} checked;

static void checked_done(checked *ck) {
  cJSON_free(ck->attributes);
  ck->attributes = NULL;
}

/* Present and not null. */
static bool given(const cJSON *v) { return v && !cJSON_IsNull(v); }

static void require(ev_errors *errs, int index, const char *name, const cJSON *v) {
  if (!v) ev_errors_add(errs, index, name, "%s is required", name);
  else ev_errors_add(errs, index, name, "%s is required; null is not a value for it", name);
}

/* SPEC §1 "id": 1–64 bytes of UTF-8 without control or format characters. */
static void check_id(ev_errors *errs, int index, const char *name, const cJSON *v) {
  if (!cJSON_IsString(v)) {
    ev_errors_add(errs, index, name, "%s must be a string, not %s", name, json_type(v));
    return;
  }
  const unsigned char *s = (const unsigned char *)v->valuestring;
  size_t len = strlen(v->valuestring);
  if (len < 1 || len > EV_REF_MAX) {
    ev_errors_add(errs, index, name, "%s must be 1 to %d bytes of UTF-8, not %zu", name, EV_REF_MAX, len);
    return;
  }
  for (size_t i = 0; i < len;) {
    uint32_t cp;
    size_t l = utf8_decode(s + i, len - i, &cp);
    if (!l) {
      ev_errors_add(errs, index, name, "%s is not valid UTF-8", name);
      return;
    }
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
      ev_errors_add(errs, index, name, "%s must not contain control characters (U+%04X at byte %zu)", name,
                    (unsigned)cp, i);
      return;
    }
    if (is_format_cp(cp)) {
      ev_errors_add(errs, index, name, "%s must not contain invisible format characters (U+%04X at byte %zu)",
                    name, (unsigned)cp, i);
      return;
    }
    i += l;
  }
}

/* Optional string of at most 64 characters (code points). */
static void check_short_string(ev_errors *errs, int index, const char *name, const cJSON *v) {
  if (!given(v)) return;
  if (!cJSON_IsString(v)) {
    ev_errors_add(errs, index, name, "%s must be a string, not %s", name, json_type(v));
    return;
  }
  size_t chars = 0;
  for (const unsigned char *s = (const unsigned char *)v->valuestring; *s; s++) chars += (*s & 0xC0) != 0x80;
  if (chars > 64) ev_errors_add(errs, index, name, "%s must be at most 64 characters, not %zu", name, chars);
}

static bool event_id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '.' || c == '_' ||
         c == ':' || c == '-';
}

static void check_event_id(ev_errors *errs, int index, unsigned flags, const cJSON *v) {
  const char *name = "event_id";
  if (!given(v)) {
    if (flags & EV_FROM_AGENT) require(errs, index, name, v);
    return;
  }
  if (!cJSON_IsString(v)) {
    ev_errors_add(errs, index, name, "event_id must be a string, not %s", json_type(v));
    return;
  }
  const char *s = v->valuestring;
  size_t len = strlen(s);
  if (len < 1 || len > EV_ID_MAX) {
    ev_errors_add(errs, index, name, "event_id must be 1 to %d characters, not %zu", EV_ID_MAX, len);
    return;
  }
  for (size_t i = 0; i < len; i++)
    if (!event_id_char(s[i])) {
      ev_errors_add(errs, index, name,
                    "event_id may only contain A-Z a-z 0-9 . _ : - (bad character at byte %zu)", i);
      return;
    }
  if (!(flags & EV_FROM_AGENT) && strncmp(s, "ferry:", 6) == 0)
    ev_errors_add(errs, index, name,
                  "event_id must not start with \"ferry:\" (reserved for ids the agent assigns)");
}

/* Parse an RFC 3339 field; false (and an error) when it is not one. */
static bool check_time(ev_errors *errs, int index, const char *name, const cJSON *v, int64_t *ret_ms) {
  if (!given(v)) {
    require(errs, index, name, v);
    return false;
  }
  if (!cJSON_IsString(v)) {
    ev_errors_add(errs, index, name, "%s must be an RFC 3339 string, not %s", name, json_type(v));
    return false;
  }
  if (tf_parse_rfc3339(v->valuestring, strlen(v->valuestring), ret_ms) < 0) {
    ev_errors_add(errs, index, name,
                  "%s must be an RFC 3339 date-time with Z or an offset, such as "
                  "2026-03-01T08:00:00.000Z",
                  name);
    return false;
  }
  return true;
}

/* Every rule of SPEC §1 on one event object. Returns the number of errors
 * it added (all of them, not just the first). */
/* cn, when not NULL and ok, says the object's text is its own print: the
 * serialized size of "attributes" is then the length of its text. */
static size_t check_event_cn(const cJSON *obj, size_t raw_len, int index, unsigned flags, ev_errors *errs,
                             checked *ck, const scan_canon *cn) {
  size_t before = errs->total;
  memset(ck, 0, sizeof *ck);
  if (!cJSON_IsObject(obj)) {
    ev_errors_add(errs, index, "", "an event must be a JSON object, not %s",
                  obj ? json_type(obj) : "nothing");
    return errs->total - before;
  }
  if (raw_len > EV_MAX_BYTES)
    ev_errors_add(errs, index, "", "the event is %zu bytes; the limit is %d bytes as received", raw_len,
                  EV_MAX_BYTES);

  /* Duplicate keys and depth, attributed to the top-level field they are in. */
  const char *dup = NULL;
  if (find_dup_key(obj, &dup) < 0) ev_errors_add(errs, index, "", "out of memory while checking keys");
  else if (dup) ev_errors_add(errs, index, dup, "duplicate key \"%.64s\"", dup);
  for (const cJSON *c = obj->child; c; c = c->next) {
    if (!c->child) continue;
    int r = tree_walk(c, 2, EV_MAX_DEPTH, &dup);
    if (r == TREE_DUP)
      ev_errors_add(errs, index, c->string, "%.64s contains duplicate key \"%.64s\"", c->string, dup);
    else if (r == TREE_DEEP)
      ev_errors_add(errs, index, c->string, "nesting deeper than %d levels (the event object is level 1)",
                    EV_MAX_DEPTH);
    else if (r == TREE_NOMEM) ev_errors_add(errs, index, c->string, "out of memory while checking keys");
  }

  fields f;
  collect_fields(obj, &f);
  ck->f = f;

  check_event_id(errs, index, flags, f.event_id);

  if (check_time(errs, index, "timestamp", f.timestamp, &ck->ts_ms) && ck->ts_ms < EV_MIN_TS_MS) {
    ev_errors_add(errs, index, "timestamp", "timestamp must not be before 2000-01-01T00:00:00Z");
  }

  bool type_ok = false;
  if (!given(f.event_type)) require(errs, index, "event_type", f.event_type);
  else if (!cJSON_IsString(f.event_type) || ev_type_parse(f.event_type->valuestring, &ck->type) < 0)
    ev_errors_add(errs, index, "event_type",
                  "event_type must be one of \"working\", \"idle\", \"absent\", "
                  "\"product_count\" (case-sensitive)");
  else type_ok = true;

  if (given(f.worker_id)) check_id(errs, index, "worker_id", f.worker_id);
  else if (type_ok && ck->type != EV_PRODUCT_COUNT)
    ev_errors_add(errs, index, "worker_id", "worker_id is required for event_type \"%s\"%s",
                  ev_type_name(ck->type), f.worker_id ? "; null is not a value for it" : "");

  if (given(f.workstation_id)) check_id(errs, index, "workstation_id", f.workstation_id);
  else require(errs, index, "workstation_id", f.workstation_id);

  if (type_ok && ck->type == EV_PRODUCT_COUNT) {
    ck->count = 1;
    if (given(f.count) && !get_int(f.count, 1, 1000000, &ck->count))
      ev_errors_add(errs, index, "count", "count must be an integer from 1 to 1000000%s%s",
                    cJSON_IsNumber(f.count) ? "" : ", not ",
                    cJSON_IsNumber(f.count) ? "" : json_type(f.count));
  }

  if (given(f.confidence) &&
      !(cJSON_IsNumber(f.confidence) && f.confidence->valuedouble >= 0 && f.confidence->valuedouble <= 1))
    ev_errors_add(errs, index, "confidence", "confidence must be a number from 0 to 1");

  check_short_string(errs, index, "camera_id", f.camera_id);
  check_short_string(errs, index, "model_version", f.model_version);

  if (given(f.attributes)) {
    if (!cJSON_IsObject(f.attributes)) {
      ev_errors_add(errs, index, "attributes", "attributes must be an object, not %s",
                    json_type(f.attributes));
    } else {
      /* Printed once: the text is kept and reused verbatim in the normal
       * form (number printing is most of what cJSON spends on an event).
       * Text that is its own print needs no print to be measured. */
      size_t alen = 0;
      if (cn && cn->ok && cn->attr_seen) alen = cn->attr_len;
      else if (!(ck->attributes = cJSON_PrintUnformatted(f.attributes)))
        ev_errors_add(errs, index, "attributes", "out of memory while serializing attributes");
      else alen = strlen(ck->attributes);
      if (alen > EV_MAX_ATTR_BYTES)
        ev_errors_add(errs, index, "attributes", "attributes must be at most %d bytes serialized, not %zu",
                      EV_MAX_ATTR_BYTES, alen);
    }
  }

  if (flags & EV_FROM_AGENT) {
    if (!given(f.seq)) require(errs, index, "seq", f.seq);
    else if (!get_int(f.seq, 1, EV_MAX_SEQ, &ck->seq))
      ev_errors_add(errs, index, "seq", "seq must be an integer >= 1");
    check_time(errs, index, "ingested_at", f.ingested_at, &ck->ingested_at_ms);
  } else {
    if (f.seq) ev_errors_add(errs, index, "seq", "seq is reserved: the agent adds it");
    if (f.ingested_at)
      ev_errors_add(errs, index, "ingested_at", "ingested_at is reserved: the agent adds it");
  }
  return errs->total - before;
}

static size_t check_event(const cJSON *obj, size_t raw_len, int index, unsigned flags, ev_errors *errs,
                          checked *ck) {
  return check_event_cn(obj, raw_len, index, flags, errs, ck, NULL);
}

/* ---- normal form ------------------------------------------------------------- */

static char *dup_str(const char *s) {
  size_t l = strlen(s) + 1;
  char *d = malloc(l);
  if (d) memcpy(d, s, l);
  return d;
}

/* Turn an object that passed check_event into its normal form, editing it in
 * place, and fill *ret. Returns 0 or -ENOMEM (ret untouched). */
static int build_event(cJSON *obj, const checked *ck, size_t raw_len, unsigned flags, ev_event *ret) {
  for (cJSON *c = obj->child, *next; c; c = next) {
    next = c->next;
    bool agent_field = (flags & EV_FROM_AGENT) && c->string &&
                       (strcmp(c->string, "seq") == 0 || strcmp(c->string, "ingested_at") == 0);
    if (cJSON_IsNull(c) || agent_field) cJSON_Delete(cJSON_DetachItemViaPointer(obj, c));
  }
  fields f;
  collect_fields(obj, &f);

  if (f.attributes && ck->attributes) {
    /* A raw item prints as the text already made by check_event. */
    cJSON *raw = cJSON_CreateRaw(ck->attributes), *old = (cJSON *)f.attributes;
    if (!raw) return -ENOMEM;
    raw->string = old->string; /* ReplaceItemViaPointer does not move the key */
    raw->type |= old->type & cJSON_StringIsConst;
    old->string = NULL;
    cJSON_ReplaceItemViaPointer(obj, old, raw);
    f.attributes = raw;
  }
  char ts[TF_RFC3339_LEN];
  tf_format_ms(ck->ts_ms, ts);
  if (!cJSON_SetValuestring((cJSON *)f.timestamp, ts)) return -ENOMEM;
  if (ck->type == EV_PRODUCT_COUNT) {
    if (f.count) cJSON_SetNumberValue((cJSON *)f.count, (double)ck->count);
    else if (!cJSON_AddNumberToObject(obj, "count", (double)ck->count)) return -ENOMEM;
  }

  ev_event e = {0};
  e.ts_ms = ck->ts_ms;
  e.type = ck->type;
  e.count = ck->type == EV_PRODUCT_COUNT ? ck->count : 0;
  if (flags & EV_FROM_AGENT) {
    e.seq = ck->seq;
    e.ingested_at_ms = ck->ingested_at_ms;
  }
  if (f.event_id && !(e.event_id = dup_str(f.event_id->valuestring))) goto oom;
  if (f.worker_id && !(e.worker_id = dup_str(f.worker_id->valuestring))) goto oom;
  if (!(e.workstation_id = dup_str(f.workstation_id->valuestring))) goto oom;
  /* The normal form is rarely longer than the text received; one buffer
   * of about that size usually suffices. */
  e.json = cJSON_PrintBuffered(obj, (int)raw_len + 64, 0);
  if (!e.json) goto oom;
  e.json_len = strlen(e.json);
  *ret = e;
  return 0;
oom:
  ev_event_clear(&e);
  return -ENOMEM;
}

int ev_validate(const cJSON *obj, size_t raw_len, int index, unsigned flags, ev_event *ret, ev_errors *errs) {
  ev_errors scratch; /* items left uninitialised: only n and total are read */
  if (!errs) {
    scratch.n = scratch.total = 0;
    errs = &scratch;
  }
  checked ck;
  int r = 0;
  if (check_event(obj, raw_len, index, flags, errs, &ck)) {
    r = -EINVAL;
  } else if (ret) {
    cJSON *copy = cJSON_Duplicate(obj, 1);
    r = copy ? build_event(copy, &ck, raw_len, flags, ret) : -ENOMEM;
    cJSON_Delete(copy);
  }
  checked_done(&ck);
  return r;
}

/* Number text as cJSON prints it: digits, sign, point, exponent. */
static bool num_char(char c) {
  return is_digit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/* The normal form cut out of `text`, cJSON's unformatted print of obj, when
 * obj needs no edit but dropping its agent fields: no top-level null, the
 * timestamp already in normal spelling, a product_count's count present and,
 * with EV_FROM_AGENT, "seq" and "ingested_at" as the last two members (how
 * agents send them). Member texts are concatenated in order in cJSON's print,
 * so the normal form is then text up to the comma before "seq", closed. The
 * tail is compared byte for byte, not assumed. Returns the length of the
 * normal form (text edited in place), or 0: build it the general way. */
static size_t normal_in_text(const cJSON *obj, const checked *ck, unsigned flags, char *text, size_t len) {
  const fields f = ck->f;
  const cJSON *last = NULL;
  for (const cJSON *c = obj->child; c; c = c->next) {
    if (cJSON_IsNull(c)) return 0;
    last = c;
  }
  if (ck->type == EV_PRODUCT_COUNT && !f.count) return 0;
  char ts[TF_RFC3339_LEN];
  tf_format_ms(ck->ts_ms, ts);
  if (strcmp(f.timestamp->valuestring, ts) != 0) return 0;
  if (!(flags & EV_FROM_AGENT)) return len;
  if (!last || last != f.ingested_at || !last->prev || last->prev != f.seq || f.seq == obj->child) return 0;
  /* ,"seq":N,"ingested_at":"S"} */
  const char *s = f.ingested_at->valuestring;
  size_t slen = strlen(s), tail = sizeof(",\"ingested_at\":\"") - 1 + slen + 2;
  if (len < tail + 16) return 0;
  char *t = text + len - tail;
  if (memcmp(t, ",\"ingested_at\":\"", 16) != 0 || memcmp(t + 16, s, slen) != 0 ||
      memcmp(t + 16 + slen, "\"}", 2) != 0)
    return 0;
  while (t > text && num_char(t[-1])) t--;
  static const char key[] = ",\"seq\":";
  size_t klen = sizeof(key) - 1;
  if ((size_t)(t - text) < klen + 1 || memcmp(t - klen, key, klen) != 0) return 0;
  t -= klen;
  *t = '}';
  t[1] = '\0';
  return (size_t)(t + 1 - text);
}

int ev_validate_inplace(cJSON *obj, char **text, size_t raw_len, int index, unsigned flags, ev_event *ret,
                        ev_errors *errs) {
  checked ck;
  if (check_event(obj, raw_len, index, flags, errs, &ck)) {
    checked_done(&ck);
    return -EINVAL;
  }
  size_t n = text && *text ? normal_in_text(obj, &ck, flags, *text, strlen(*text)) : 0;
  int r;
  if (!n) {
    r = build_event(obj, &ck, raw_len, flags, ret);
  } else {
    const fields f = ck.f;
    ev_event e = {0};
    e.ts_ms = ck.ts_ms;
    e.type = ck.type;
    e.count = ck.type == EV_PRODUCT_COUNT ? ck.count : 0;
    if (flags & EV_FROM_AGENT) {
      e.seq = ck.seq;
      e.ingested_at_ms = ck.ingested_at_ms;
    }
    r = 0;
    if ((f.event_id && !(e.event_id = dup_str(f.event_id->valuestring))) ||
        (f.worker_id && !(e.worker_id = dup_str(f.worker_id->valuestring))) ||
        !(e.workstation_id = dup_str(f.workstation_id->valuestring))) {
      ev_event_clear(&e);
      r = -ENOMEM;
    } else {
      e.json = *text;
      e.json_len = n;
      *text = NULL;
      *ret = e;
    }
  }
  checked_done(&ck);
  return r;
}

void ev_event_clear(ev_event *e) {
  if (!e) return;
  free(e->event_id);
  free(e->worker_id);
  free(e->workstation_id);
  cJSON_free(e->json);
  memset(e, 0, sizeof *e);
}

/* A copy of s[0..n) and a NUL in the batch's block, or malloc'd when the
 * block is full (ev_batch_clear tells them apart). */
static char *block_dup(ev_batch *b, const char *s, size_t n) {
  char *d;
  if (b->block && b->block_cap - b->block_used > n) {
    d = b->block + b->block_used;
    b->block_used += n + 1;
  } else if (!(d = cJSON_malloc(n + 1))) {
    return NULL;
  }
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

static void block_free(const ev_batch *b, void *p) {
  char *c = p;
  if (!(b->block && c >= b->block && c < b->block + b->block_cap)) cJSON_free(p);
}

void ev_batch_clear(ev_batch *b) {
  if (!b) return;
  for (size_t i = 0; i < b->n; i++) {
    ev_event *e = &b->items[i];
    if (!b->block) {
      ev_event_clear(e);
      continue;
    }
    block_free(b, e->event_id);
    block_free(b, e->worker_id);
    block_free(b, e->workstation_id);
    block_free(b, e->json);
  }
  free(b->items);
  free(b->block);
  memset(b, 0, sizeof *b);
}

/* ---- bodies ------------------------------------------------------------------ */

typedef struct body_ctx {
  const char *body;
  unsigned flags;
  bool keep_raw; /* ev_parse_body_raw: received text as the normal form where it is one */
  ev_errors *errs;
  ev_batch out;
  size_t cap;
  int nomem;
} body_ctx;

/* The event whose text s[0..len) is its own print (scan_canon.ok) and that
 * needs no edit for its normal form: no EV_FROM_AGENT fields to drop, the
 * timestamp already in normal spelling, a product_count's count present
 * (nulls were ruled out by the scan). Then the normal form is the text as
 * received and nothing is printed. Returns 0 (ret filled), 1 (not such an
 * event: build it the general way) or -ENOMEM. */
static int raw_event(body_ctx *cx, const cJSON *obj, const checked *ck, const scan_canon *cn, const char *s,
                     size_t len, ev_event *ret) {
  unsigned flags = cx->flags;
  ev_batch *b = &cx->out;
  const fields f = ck->f;
  if (flags & EV_FROM_AGENT) return 1;
  if (ck->type == EV_PRODUCT_COUNT && !f.count) return 1;
  if (f.attributes && !cn->attr_seen) return 1;
  if (len < 2 || s[0] != '{' || s[len - 1] != '}' || !cJSON_IsObject(obj)) return 1;
  char ts[TF_RFC3339_LEN];
  tf_format_ms(ck->ts_ms, ts);
  if (strcmp(f.timestamp->valuestring, ts) != 0) return 1;
  ev_event e = {0};
  e.ts_ms = ck->ts_ms;
  e.type = ck->type;
  e.count = ck->type == EV_PRODUCT_COUNT ? ck->count : 0;
  if ((f.event_id &&
       !(e.event_id = block_dup(b, f.event_id->valuestring, strlen(f.event_id->valuestring)))) ||
      (f.worker_id &&
       !(e.worker_id = block_dup(b, f.worker_id->valuestring, strlen(f.worker_id->valuestring)))) ||
      !(e.workstation_id =
            block_dup(b, f.workstation_id->valuestring, strlen(f.workstation_id->valuestring))) ||
      !(e.json = block_dup(b, s, len))) {
    block_free(b, e.event_id);
    block_free(b, e.worker_id);
    block_free(b, e.workstation_id);
    return -ENOMEM;
  }
  e.json_len = len;
  *ret = e;
  return 0;
}

/* One event's raw text body[start .. start+len): size, scan, parse, check,
 * and (while the request is still clean) build. */
static void one_event(body_ctx *cx, size_t start, size_t len, int index, int body_index) {
  const char *s = cx->body + start;
  if (len > EV_MAX_BYTES) {
    ev_errors_add(cx->errs, index, "", "the event is %zu bytes; the limit is %d bytes as received", len,
                  EV_MAX_BYTES);
    return;
  }
  scan_canon cn, *cnp = cx->keep_raw ? &cn : NULL;
  if (scan_event(s, len, index, body_index, start, cx->errs, cnp) < 0) return;
  const char *end = NULL;
  cJSON *obj = cJSON_ParseWithLengthOpts(s, len, &end, 0);
  if (!obj || end != s + len) {
    size_t at = end && end >= s && end <= s + len ? (size_t)(end - s) : 0;
    ev_errors_add(cx->errs, body_index, "", "malformed JSON at byte %zu", start + at);
    cJSON_Delete(obj);
    return;
  }
  checked ck;
  if (check_event_cn(obj, len, index, cx->flags, cx->errs, &ck, cnp) == 0 && cx->errs->total == 0 &&
      !cx->nomem) {
    /* All or nothing: once anything failed, no normal form is worth building. */
    if (cx->out.n == cx->cap) {
      size_t ncap = cx->cap ? cx->cap * 2 : 16;
      ev_event *items = realloc(cx->out.items, ncap * sizeof *items);
      if (!items) {
        cx->nomem = 1;
        checked_done(&ck);
        cJSON_Delete(obj);
        return;
      }
      cx->out.items = items;
      cx->cap = ncap;
    }
    ev_event *e = &cx->out.items[cx->out.n];
    int br = cnp && cn.ok ? raw_event(cx, obj, &ck, &cn, s, len, e) : 1;
    if (br > 0) br = build_event(obj, &ck, len, cx->flags, e);
    if (br < 0) cx->nomem = 1;
    else cx->out.n++;
  }
  checked_done(&ck);
  cJSON_Delete(obj);
}

static void parse_json_body(body_ctx *cx, size_t len) {
  const char *b = cx->body;
  size_t bad = utf8_first_bad(b, len);
  if (bad != len) {
    ev_errors_add(cx->errs, -1, "", "the body is not valid UTF-8 (byte %zu)", bad);
    return;
  }
  size_t a = 0, z = len;
  while (a < z && is_ws(b[a])) a++;
  while (z > a && is_ws(b[z - 1])) z--;
  if (a == z) {
    ev_errors_add(cx->errs, -1, "", "the body is empty: send an event object or an array of them");
    return;
  }
  if (b[a] == '{') {
    one_event(cx, a, z - a, 0, -1);
    return;
  }
  if (b[a] != '[') {
    if (scan_event(b + a, z - a, -1, -1, a, cx->errs, NULL) < 0) return;
    cJSON *v = cJSON_ParseWithLengthOpts(b + a, z - a, NULL, 0);
    if (v)
      ev_errors_add(cx->errs, -1, "", "the body must be an event object or an array of them, not %s",
                    json_type(v));
    else ev_errors_add(cx->errs, -1, "", "malformed JSON at byte %zu", a);
    cJSON_Delete(v);
    return;
  }
  splitter sp = {.s = b + a, .n = z - a, .p = 1};
  for (int i = 0;; i++) {
    size_t es, el, err;
    const char *why = "";
    int r = split_next(&sp, &es, &el, &err, &why);
    if (r == 0) break;
    if (r < 0) {
      ev_errors_add(cx->errs, -1, "", "malformed JSON: %s (byte %zu)", why, a + err);
      break;
    }
    if (i == INT_MAX) break; /* unreachable for any body that fits in memory */
    one_event(cx, a + es, el, i, i);
  }
}

static void parse_ndjson_body(body_ctx *cx, size_t len) {
  const char *b = cx->body;
  size_t p = 0;
  for (int line = 0; p < len && line >= 0; line++) {
    const char *nl = memchr(b + p, '\n', len - p);
    size_t end = nl ? (size_t)(nl - b) : len;
    size_t a = p, z = end;
    while (a < z && is_ws(b[a])) a++;
    while (z > a && is_ws(b[z - 1])) z--; /* also drops the '\r' of "\r\n" */
    p = end + 1;
    if (a == z) continue; /* blank line: skipped, still counted */
    size_t bad = utf8_first_bad(b + a, z - a);
    if (bad != z - a) {
      ev_errors_add(cx->errs, line, "", "line %d is not valid UTF-8 (byte %zu)", line, a + bad);
      continue;
    }
    if (b[a] != '{') {
      if (scan_event(b + a, z - a, line, line, a, cx->errs, NULL) < 0) continue;
      cJSON *v = cJSON_ParseWithLengthOpts(b + a, z - a, NULL, 0);
      if (v)
        ev_errors_add(cx->errs, line, "", "each NDJSON line must be one event object, not %s", json_type(v));
      else ev_errors_add(cx->errs, line, "", "malformed JSON at byte %zu", a);
      cJSON_Delete(v);
      continue;
    }
    one_event(cx, a, z - a, line, line);
  }
}

static int parse_body(const char *body, size_t len, ev_body_kind kind, unsigned flags, bool keep_raw,
                      ev_batch *ret, ev_errors *errs) {
  if (!errs || !ret || (!body && len)) return -EINVAL;
  errs->n = errs->total = 0;
  body_ctx cx = {.body = body ? body : "", .flags = flags, .keep_raw = keep_raw, .errs = errs};
  /* Kept events' strings are parts of their text (an event's ids lie inside
   * it): twice the body holds them all, bar the NULs of many tiny events,
   * which then get their own allocations. Untouched pages cost nothing. */
  if (keep_raw && len && (cx.out.block = malloc(2 * len + 256))) cx.out.block_cap = 2 * len + 256;
  if (kind == EV_BODY_NDJSON) parse_ndjson_body(&cx, len);
  else parse_json_body(&cx, len);
  if (cx.out.block && !cx.out.block_used) {
    free(cx.out.block);
    cx.out.block = NULL;
    cx.out.block_cap = 0;
  }
  if (errs->total || cx.nomem) {
    ev_batch_clear(&cx.out);
    return errs->total ? -EINVAL : -ENOMEM;
  }
  *ret = cx.out;
  return 0;
}

int ev_parse_body(const char *body, size_t len, ev_body_kind kind, unsigned flags, ev_batch *ret,
                  ev_errors *errs) {
  return parse_body(body, len, kind, flags, false, ret, errs);
}

int ev_parse_body_raw(const char *body, size_t len, ev_body_kind kind, unsigned flags, ev_batch *ret,
                      ev_errors *errs) {
  return parse_body(body, len, kind, flags, true, ret, errs);
}
