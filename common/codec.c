/* codec: compression of upload bodies (agent) and their bounded
 * decompression (collector). The collector decodes bytes from the network,
 * so decompression never trusts sizes declared by the input: output grows
 * in steps and stops with -EFBIG the moment it would pass max_out, so a
 * small "compression bomb" costs at most max_out+1 bytes of memory. */
#include "codec.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "strbuf.h"

#define CODEC_FIRST_CHUNK        (64 * 1024) /* first output allocation when decoding */
#define CODEC_ZSTD_LEVEL         3
#define CODEC_ZSTD_WINDOWLOG_MAX 23 /* 8 MiB: every non-"ultra" zstd level fits */

int codec_from_name(const char *name, codec_t *ret) {
  if (!name || !*name || strcasecmp(name, "identity") == 0) *ret = CODEC_IDENTITY;
  else if (strcasecmp(name, "gzip") == 0 || strcasecmp(name, "x-gzip") == 0) *ret = CODEC_GZIP;
  else if (strcasecmp(name, "zstd") == 0) *ret = CODEC_ZSTD;
  else return -ENOTSUP;
  return 0;
}

int codec_from_option(const char *name, codec_t *ret) {
  if (!name) return -EINVAL;
  if (strcmp(name, "zstd") == 0) *ret = CODEC_ZSTD;
  else if (strcmp(name, "gzip") == 0) *ret = CODEC_GZIP;
  else if (strcmp(name, "none") == 0) *ret = CODEC_IDENTITY;
  else return -EINVAL;
  return 0;
}

const char *codec_name(codec_t c) {
  switch (c) {
    case CODEC_GZIP: return "gzip";
    case CODEC_ZSTD: return "zstd";
    default: return "identity";
  }
}

/* ------------------------------------------------------------------------ */
/* compression (our own data: sizes are known, one shot is fine) */

/* The worst-case bound is about the input size; give back what compression
 * saved, since bodies may wait in memory for a retry. */
static void *shrink(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  return q ? q : p;
}

static int gzip_compress(const void *in, size_t in_len, void **ret_out, size_t *ret_len) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (in_len > UINT_MAX / 2) return -ENOMEM; /* bodies are MiBs; keeps uInt counters exact */
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return -ENOMEM;
  uLong bound = deflateBound(&zs, (uLong)in_len);
  unsigned char *out = malloc(bound ? bound : 1);
  if (!out) {
    deflateEnd(&zs);
    return -ENOMEM;
  }
  zs.next_in = (Bytef *)(uintptr_t)in; /* zlib's API is not const-correct */
  zs.avail_in = (uInt)in_len;
  zs.next_out = out;
  zs.avail_out = (uInt)bound;
  int rc = deflate(&zs, Z_FINISH);
  size_t n = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) {
    free(out);
    return -EIO;
  }
  *ret_out = shrink(out, n);
  *ret_len = n;
  return 0;
}

static int zstd_compress(const void *in, size_t in_len, void **ret_out, size_t *ret_len) {
  size_t bound = ZSTD_compressBound(in_len);
  if (ZSTD_isError(bound)) return -ENOMEM;
  void *out = malloc(bound ? bound : 1);
  if (!out) return -ENOMEM;
  size_t n = ZSTD_compress(out, bound, in, in_len, CODEC_ZSTD_LEVEL);
  if (ZSTD_isError(n)) {
    free(out);
    return ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation ? -ENOMEM : -EIO;
  }
  *ret_out = shrink(out, n);
  *ret_len = n;
  return 0;
}

int codec_compress(codec_t c, const void *in, size_t in_len, void **ret_out, size_t *ret_len) {
  switch (c) {
    case CODEC_GZIP: return gzip_compress(in, in_len, ret_out, ret_len);
    case CODEC_ZSTD: return zstd_compress(in, in_len, ret_out, ret_len);
    default: {
      void *out = malloc(in_len ? in_len : 1);
      if (!out) return -ENOMEM;
      if (in_len) memcpy(out, in, in_len);
      *ret_out = out;
      *ret_len = in_len;
      return 0;
    }
  }
}

/* ------------------------------------------------------------------------ */
/* bounded decompression */

/* The output is a strbuf bounded at max_out + 1 bytes: the extra byte is the
 * "went past max_out" detector. Growing it when already at the bound is
 * -EFBIG (a bomb). */
static int obuf_grow(strbuf *b, size_t hint) {
  int r = sb_grow(b, hint);
  return r == -ENOSPC ? -EFBIG : r;
}

static size_t first_chunk(size_t in_len, size_t limit) {
  size_t guess = in_len < SIZE_MAX / 4 ? in_len * 4 : SIZE_MAX;
  if (guess < CODEC_FIRST_CHUNK) guess = CODEC_FIRST_CHUNK;
  return guess < limit ? guess : limit;
}

static int gzip_decompress(const unsigned char *in, size_t in_len, strbuf *b) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return -ENOMEM;
  size_t fed = 0; /* bytes of in handed to zlib so far */
  int r = 0;
  for (;;) {
    if (zs.avail_in == 0 && fed < in_len) {
      size_t n = in_len - fed < UINT_MAX ? in_len - fed : UINT_MAX;
      zs.next_in = (Bytef *)(uintptr_t)(in + fed);
      zs.avail_in = (uInt)n;
      fed += n;
    }
    if (sb_room_len(b) == 0) {
      r = obuf_grow(b, first_chunk(in_len, b->max));
      if (r < 0) break;
    }
    size_t room = sb_room_len(b);
    zs.next_out = (Bytef *)sb_room(b);
    zs.avail_out = room < UINT_MAX ? (uInt)room : UINT_MAX;
    uInt before = zs.avail_out;
    int rc = inflate(&zs, Z_NO_FLUSH);
    sb_advance(b, before - zs.avail_out);
    if (b->len >= b->max) { /* produced max_out + 1 bytes */
      r = -EFBIG;
      break;
    }
    if (rc == Z_STREAM_END) {
      size_t left = zs.avail_in + (in_len - fed);
      if (left == 0) break; /* done */
      /* RFC 1952 allows several members back to back; anything else after
       * the end is garbage */
      const unsigned char *nx = in + (fed - zs.avail_in); /* chunks are contiguous */
      if (left >= 2 && nx[0] == 0x1f && nx[1] == 0x8b) {
        if (inflateReset(&zs) != Z_OK) {
          r = -EINVAL;
          break;
        }
        continue;
      }
      r = -EINVAL;
      break;
    }
    if (rc == Z_MEM_ERROR) {
      r = -ENOMEM;
      break;
    }
    if (rc == Z_BUF_ERROR && zs.avail_in == 0 && fed == in_len && zs.avail_out > 0) {
      r = -EINVAL; /* no more input, no progress: truncated */
      break;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) { /* Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR */
      r = -EINVAL;
      break;
    }
  }
  inflateEnd(&zs);
  return r;
}

static int zstd_decompress(const unsigned char *in, size_t in_len, strbuf *b) {
  ZSTD_DCtx *dctx = ZSTD_createDCtx();
  if (!dctx) return -ENOMEM;
  /* a frame may ask for a huge history window; refuse past 8 MiB */
  ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, CODEC_ZSTD_WINDOWLOG_MAX);
  ZSTD_inBuffer zin = {in, in_len, 0};
  int r = 0;
  size_t ret = 1;
  if (in_len == 0) r = -EINVAL; /* not even one frame */
  while (r == 0) {
    if (sb_room_len(b) == 0) {
      r = obuf_grow(b, first_chunk(in_len, b->max));
      if (r < 0) break;
    }
    ZSTD_outBuffer zout = {sb_room(b), sb_room_len(b), 0};
    ret = ZSTD_decompressStream(dctx, &zout, &zin);
    sb_advance(b, zout.pos);
    if (ZSTD_isError(ret)) {
      ZSTD_ErrorCode code = ZSTD_getErrorCode(ret);
      if (code == ZSTD_error_memory_allocation) r = -ENOMEM;
      else if (code == ZSTD_error_frameParameter_windowTooLarge) r = -EFBIG;
      else r = -EINVAL;
      break;
    }
    if (b->len >= b->max) {
      r = -EFBIG;
      break;
    }
    if (ret == 0 && zin.pos == zin.size) break; /* last frame complete and flushed */
    if (ret != 0 && zin.pos == zin.size && zout.pos < zout.size) {
      r = -EINVAL; /* wants more input than there is: truncated */
      break;
    }
    /* otherwise: output full (loop grows it) or another frame follows */
  }
  ZSTD_freeDCtx(dctx);
  return r;
}

int codec_decompress(codec_t c, const void *in, size_t in_len, size_t max_out, void **ret_out,
                     size_t *ret_len) {
  if (max_out >= SIZE_MAX / 2) max_out = SIZE_MAX / 2 - 1;
  strbuf b;
  sb_init(&b, max_out + 1);
  int r;
  switch (c) {
    case CODEC_GZIP: r = gzip_decompress(in, in_len, &b); break;
    case CODEC_ZSTD: r = zstd_decompress(in, in_len, &b); break;
    default:
      if (in_len > max_out) {
        r = -EFBIG;
        break;
      }
      r = sb_grow(&b, in_len); /* exactly in_len + 1 bytes */
      if (r < 0) break;
      if (in_len) memcpy(sb_room(&b), in, in_len);
      sb_advance(&b, in_len);
      break;
  }
  if (r == 0) *ret_out = sb_release(&b, ret_len);
  sb_clear(&b);
  return r;
}
