/* driver: runs a libFuzzer-style target without libFuzzer, so every fuzz
 * target is built and exercised by the ordinary test suite (and under
 * ASan+UBSan in the sanitizer build). It feeds the target every seed in a
 * corpus directory, then a bounded number of deterministic mutations of them.
 * Real coverage-guided fuzzing uses -DFERRY_FUZZ=ON with clang instead. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SEEDS        256
#define DRIVER_MAX_INPUT (256 * 1024)

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 2685821657736338717ULL;
}

static const char *interesting[] = {
    "\"",
    "\\",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "null",
    "true",
    "1e400",
    "-0",
    "\\ud800",
    "\xc0\xaf",
    "\xff",
    "\n",
    "\r\n",
    "\"event_id\"",
    "\"timestamp\"",
    "1.0",
    "\"2026-03-01T08:00:00Z\"",
    "99999999999999999999",
};

/* One random edit of buf (len in/out), staying under DRIVER_MAX_INPUT. */
static void mutate(uint8_t *buf, size_t *len) {
  size_t n = *len;
  switch (rnd() % 6) {
    case 0: /* flip a byte */
      if (n) buf[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8));
      break;
    case 1: /* set a byte to something random */
      if (n) buf[rnd() % n] = (uint8_t)rnd();
      break;
    case 2: /* truncate */
      if (n) *len = rnd() % n;
      break;
    case 3: { /* delete a span */
      if (n < 2) break;
      size_t at = rnd() % n, span = 1 + rnd() % (n - at);
      memmove(buf + at, buf + at + span, n - at - span);
      *len = n - span;
      break;
    }
    case 4: { /* insert an interesting token */
      const char *t = interesting[rnd() % (sizeof interesting / sizeof *interesting)];
      size_t tl = strlen(t), at = n ? rnd() % (n + 1) : 0;
      if (n + tl >= DRIVER_MAX_INPUT) break;
      memmove(buf + at + tl, buf + at, n - at);
      memcpy(buf + at, t, tl);
      *len = n + tl;
      break;
    }
    default: { /* duplicate a span */
      if (!n) break;
      size_t at = rnd() % n, span = 1 + rnd() % (n - at);
      if (n + span >= DRIVER_MAX_INPUT) break;
      memmove(buf + at + span, buf + at, n - at);
      *len = n + span;
      break;
    }
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s CORPUS_DIR [ITERATIONS]\n", argv[0]);
    return 2;
  }
  long iterations = argc > 2 ? strtol(argv[2], NULL, 10) : 20000;
  static uint8_t *seeds[MAX_SEEDS];
  static size_t seed_len[MAX_SEEDS];
  size_t nseeds = 0;

  DIR *d = opendir(argv[1]);
  if (!d) {
    perror(argv[1]);
    return 2;
  }
  struct dirent *de;
  while ((de = readdir(d)) && nseeds < MAX_SEEDS) {
    if (de->d_name[0] == '.') continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", argv[1], de->d_name);
    FILE *f = fopen(path, "rb");
    if (!f) continue;
    uint8_t *b = malloc(DRIVER_MAX_INPUT);
    if (!b) return 1;
    size_t l = fread(b, 1, DRIVER_MAX_INPUT - 1, f);
    fclose(f);
    seeds[nseeds] = b;
    seed_len[nseeds++] = l;
  }
  closedir(d);

  LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
  for (size_t i = 0; i < nseeds; i++) LLVMFuzzerTestOneInput(seeds[i], seed_len[i]);

  uint8_t *work = malloc(DRIVER_MAX_INPUT);
  if (!work) return 1;
  for (long it = 0; it < iterations && nseeds; it++) {
    size_t s = rnd() % nseeds, len = seed_len[s];
    memcpy(work, seeds[s], len);
    int edits = 1 + (int)(rnd() % 4);
    for (int e = 0; e < edits; e++) mutate(work, &len);
    /* a copy of exactly len bytes, so ASan catches reads past the end */
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact) return 1;
    memcpy(exact, work, len);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
  }
  free(work);
  for (size_t i = 0; i < nseeds; i++) free(seeds[i]);
  printf("%s: %zu seeds, %ld mutations, no crash\n", argv[0], nseeds, iterations);
  return 0;
}
