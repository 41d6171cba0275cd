/* codec: request body compression (gzip via zlib, zstd via libzstd).
 * Decompression is always bounded: a body that would decode past max_out
 * fails with -EFBIG before it is materialised (compression bombs). */
#ifndef FERRY_CODEC_H
#define FERRY_CODEC_H

#include <stddef.h>

typedef enum { CODEC_IDENTITY = 0, CODEC_GZIP, CODEC_ZSTD } codec_t;

/* Content-Encoding value → codec. NULL, "" and "identity" are identity;
 * case-insensitive. Returns 0 or -ENOTSUP. */
int codec_from_name(const char *name, codec_t *ret);
/* Option value "zstd" | "gzip" | "none" → codec. Returns 0 or -EINVAL. */
int codec_from_option(const char *name, codec_t *ret);
const char *codec_name(codec_t c); /* "identity", "gzip", "zstd" */

/* Compress in into a malloc'd buffer. Identity copies. 0 or -ENOMEM/-EIO. */
int codec_compress(codec_t c, const void *in, size_t in_len, void **ret_out, size_t *ret_len);
/* Decompress into a malloc'd buffer of at most max_out bytes (+1 NUL byte
 * appended, not counted in *ret_len). 0, -EFBIG (over max_out), -EINVAL
 * (corrupt/truncated input), -ENOMEM. */
int codec_decompress(codec_t c, const void *in, size_t in_len, size_t max_out, void **ret_out,
                     size_t *ret_len);

#endif
