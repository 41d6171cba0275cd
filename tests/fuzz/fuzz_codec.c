/* fuzz_codec: bounded decompression of request bodies, the first thing the
 * collector does with bytes from the network. The first input byte picks
 * the codec; the rest is the body, decoded with a 1 MiB limit. Whatever the
 * input, the result is success within the limit, -EFBIG or -EINVAL. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

#define FUZZ_MAX_OUT (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  codec_t c = (data[0] & 1) ? CODEC_ZSTD : CODEC_GZIP;
  void *out = NULL;
  size_t olen = 0;
  int r = codec_decompress(c, data + 1, size - 1, FUZZ_MAX_OUT, &out, &olen);
  if (r == 0) {
    if (olen > FUZZ_MAX_OUT || ((char *)out)[olen] != '\0') abort();
    /* whatever decoded must survive a round trip */
    void *z = NULL, *back = NULL;
    size_t zlen = 0, blen = 0;
    if (codec_compress(c, out, olen, &z, &zlen) == 0) {
      if (codec_decompress(c, z, zlen, olen, &back, &blen) != 0 || blen != olen ||
          memcmp(back, out, olen) != 0)
        abort();
      free(back);
      free(z);
    }
    free(out);
  } else if (r != -EFBIG && r != -EINVAL && r != -ENOMEM) {
    abort();
  } else if (out) {
    abort(); /* ret_out untouched on failure */
  }
  return 0;
}
