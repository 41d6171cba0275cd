/* ss_body: the stored form of an event's body (ss_body.h). Each member the
 * columns hold is looked up by its exact text, rebuilt from the column
 * values; only an exact match is replaced, so unpacking is a plain textual
 * substitution and gives back the same bytes whatever the member order, the
 * attributes or the escapes of the body. */
#define _GNU_SOURCE
#include "ss_body.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timefmt.h"

enum { SB_EVENT_ID = 1, SB_TS, SB_TYPE, SB_WORKER, SB_STATION, SB_COUNT, SB_CAMERA, SB_MODEL, SB_CONF, SB_N };

#define SB_MEMBER_MAX 320

/* "key": then the rest appended by the caller; 0 when it does not fit. */
static size_t sb__key(char *out, const char *key, size_t klen) {
  out[0] = '"';
  memcpy(out + 1, key, klen);
  out[klen + 1] = '"';
  out[klen + 2] = ':';
  return klen + 3;
}

/* A string member as a JSON text with the value in quotes as it is: a value
 * that needs escapes then never matches the body, which is fine. */
static size_t sb__str(char *out, const char *key, size_t klen, const char *v) {
  if (!v) return 0;
  size_t vl = strlen(v);
  if (klen + vl + 5 > SB_MEMBER_MAX) return 0;
  size_t n = sb__key(out, key, klen);
  out[n++] = '"';
  memcpy(out + n, v, vl);
  n += vl;
  out[n++] = '"';
  return n;
}

/* Decimal digits of v (>= 0) at out; their count. */
static size_t sb__digits(char *out, uint64_t v) {
  char t[24];
  size_t n = 0;
  do t[n++] = (char)('0' + v % 10);
  while ((v /= 10) > 0);
  for (size_t i = 0; i < n; i++) out[i] = t[n - 1 - i];
  return n;
}

/* A confidence of micro millionths as cJSON prints the double micro / 1e6
 * ("%1.15g": at most 7 significant digits here, so the shortest decimal,
 * which reads back as the same double). */
static size_t sb__conf(char *out, int64_t micro) {
  if (micro < 0 || micro > 1000000) return 0;
  if (micro == 0 || micro == 1000000) {
    out[0] = micro ? '1' : '0';
    return 1;
  }
  if (micro < 100) { /* %g turns to an exponent below 1e-4 */
    int n = snprintf(out, 40, "%1.15g", (double)micro / 1e6);
    return n > 0 && n < 40 ? (size_t)n : 0;
  }
  char d[6];
  int64_t v = micro;
  for (int i = 5; i >= 0; i--, v /= 10) d[i] = (char)('0' + v % 10);
  size_t nd = 6;
  while (d[nd - 1] == '0') nd--;
  out[0] = '0';
  out[1] = '.';
  memcpy(out + 2, d, nd);
  return nd + 2;
}

#define SB_KEY(k) k, sizeof(k) - 1

/* The text of member m rebuilt from the columns (0: none). */
static size_t sb__member(int m, const ss_body_cols *c, char out[SB_MEMBER_MAX]) {
  size_t n;
  switch (m) {
    case SB_EVENT_ID: return sb__str(out, SB_KEY("event_id"), c->event_id);
    case SB_TS: {
      char ts[TF_RFC3339_LEN];
      tf_format_ms(c->ts_ms, ts);
      return sb__str(out, SB_KEY("timestamp"), ts);
    }
    case SB_TYPE: return sb__str(out, SB_KEY("event_type"), c->event_type);
    case SB_WORKER: return sb__str(out, SB_KEY("worker_id"), c->worker_id);
    case SB_STATION: return sb__str(out, SB_KEY("workstation_id"), c->workstation_id);
    case SB_COUNT:
      n = sb__key(out, SB_KEY("count"));
      if (c->count < 0) out[n++] = '-';
      return n + sb__digits(out + n, c->count < 0 ? 0 - (uint64_t)c->count : (uint64_t)c->count);
    case SB_CAMERA: return sb__str(out, SB_KEY("camera_id"), c->camera_id);
    case SB_MODEL: return sb__str(out, SB_KEY("model_version"), c->model_version);
    case SB_CONF: {
      if (!c->has_micro) return 0;
      n = sb__key(out, SB_KEY("confidence"));
      size_t d = sb__conf(out + n, c->micro);
      return d ? n + d : 0;
    }
    default: return 0;
  }
}

typedef struct sb_hit {
  size_t pos, len;
  int m;
} sb_hit;

/* A body kept whole: as it is, unless its first byte reads as a tag. */
static int sb__whole(strbuf *out, const char *body, size_t len) {
  if (len > 0 && (body[0] == SS_BODY_TAG || body[0] == SS_BODY_WHOLE)) sb_addc(out, SS_BODY_WHOLE);
  return sb_add(out, body, len);
}

int ss_body_pack(strbuf *out, const char *body, size_t len, const ss_body_cols *c) {
  sb_reset(out);
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)body[i] < 0x20) return sb__whole(out, body, len); /* not a normal form */
  sb_hit hits[SB_N];
  size_t nh = 0, cursor = 0;
  for (int m = SB_EVENT_ID; m < SB_N; m++) {
    char t[SB_MEMBER_MAX];
    size_t tl = sb__member(m, c, t);
    if (!tl) continue;
    /* members mostly follow one another in this order: try right after
     * the previous one first */
    const char *p = NULL;
    if (cursor + 1 + tl <= len && memcmp(body + cursor + 1, t, tl) == 0) p = body + cursor + 1;
    else if (!(p = memmem(body, len, t, tl))) continue;
    size_t pos = (size_t)(p - body), end = pos + tl;
    /* a number must be whole (not the "1" of "12"), though a part would
     * still unpack to the same bytes */
    if (end < len && body[end] != ',' && body[end] != '}') continue;
    size_t k = nh;
    while (k > 0 && hits[k - 1].pos > pos) k--;
    if ((k > 0 && hits[k - 1].pos + hits[k - 1].len > pos) || (k < nh && end > hits[k].pos)) continue;
    memmove(&hits[k + 1], &hits[k], (nh - k) * sizeof(*hits));
    hits[k] = (sb_hit){pos, tl, m};
    nh++;
    cursor = end;
  }
  if (nh == 0) return sb__whole(out, body, len);
  sb_addc(out, SS_BODY_TAG);
  size_t at = 0;
  for (size_t i = 0; i < nh; i++) {
    sb_add(out, body + at, hits[i].pos - at);
    sb_addc(out, (char)hits[i].m);
    at = hits[i].pos + hits[i].len;
  }
  return sb_add(out, body + at, len - at);
}

int ss_body_unpack(strbuf *out, const char *stored, size_t len, const ss_body_cols *c) {
  sb_reset(out);
  if (len > 0 && stored[0] == SS_BODY_WHOLE) return sb_add(out, stored + 1, len - 1);
  if (len == 0 || stored[0] != SS_BODY_TAG) return sb_add(out, stored, len);
  size_t at = 1;
  for (size_t i = 1; i < len; i++) {
    unsigned char m = (unsigned char)stored[i];
    if (m == 0 || m >= SB_N) continue;
    sb_add(out, stored + at, i - at);
    char t[SB_MEMBER_MAX];
    size_t tl = sb__member(m, c, t);
    sb_add(out, t, tl);
    at = i + 1;
  }
  return sb_add(out, stored + at, len - at);
}
