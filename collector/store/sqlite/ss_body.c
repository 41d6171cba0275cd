/* ss_body: the stored form of an event's body (ss_body.h). Each member the
 * columns hold is looked up by its exact text, rebuilt from the column
 * values; only an exact match is replaced, so unpacking is a plain textual
 * substitution and gives back the same bytes whatever the member order, the
 * attributes or the escapes of the body. */
#define _GNU_SOURCE
#include "ss_body.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timefmt.h"

enum { SB_EVENT_ID = 1, SB_TS, SB_TYPE, SB_WORKER, SB_STATION, SB_COUNT, SB_CAMERA, SB_MODEL, SB_CONF, SB_N };

#define SB_MEMBER_MAX 320

/* A string member as a JSON text with the value in quotes as it is: a value
 * that needs escapes then never matches the body, which is fine. */
static size_t sb__str(char *out, const char *key, const char *v) {
  if (!v) return 0;
  int n = snprintf(out, SB_MEMBER_MAX, "\"%s\":\"%s\"", key, v);
  return n > 0 && n < SB_MEMBER_MAX ? (size_t)n : 0;
}

/* The text of member m rebuilt from the columns (0: none). */
static size_t sb__member(int m, const ss_body_cols *c, char out[SB_MEMBER_MAX]) {
  int n = 0;
  switch (m) {
    case SB_EVENT_ID: return sb__str(out, "event_id", c->event_id);
    case SB_TS: {
      char ts[TF_RFC3339_LEN];
      tf_format_ms(c->ts_ms, ts);
      return sb__str(out, "timestamp", ts);
    }
    case SB_TYPE: return sb__str(out, "event_type", c->event_type);
    case SB_WORKER: return sb__str(out, "worker_id", c->worker_id);
    case SB_STATION: return sb__str(out, "workstation_id", c->workstation_id);
    case SB_COUNT: n = snprintf(out, SB_MEMBER_MAX, "\"count\":%" PRId64, c->count); break;
    case SB_CAMERA: return sb__str(out, "camera_id", c->camera_id);
    case SB_MODEL: return sb__str(out, "model_version", c->model_version);
    case SB_CONF: {
      if (!c->has_micro) return 0;
      /* printed the way cJSON prints a number */
      double d = (double)c->micro / 1e6;
      char num[40];
      snprintf(num, sizeof(num), "%1.15g", d);
      if (strtod(num, NULL) != d) snprintf(num, sizeof(num), "%1.17g", d);
      n = snprintf(out, SB_MEMBER_MAX, "\"confidence\":%s", num);
      break;
    }
    default: return 0;
  }
  return n > 0 && n < SB_MEMBER_MAX ? (size_t)n : 0;
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
  size_t nh = 0;
  for (int m = SB_EVENT_ID; m < SB_N; m++) {
    char t[SB_MEMBER_MAX];
    size_t tl = sb__member(m, c, t);
    if (!tl) continue;
    const char *p = memmem(body, len, t, tl);
    if (!p) continue;
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
