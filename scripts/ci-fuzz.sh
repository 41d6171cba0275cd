#!/bin/sh
# ci-fuzz.sh: coverage-guided fuzzing of every parser of untrusted input, for
# a bounded time. Builds the libFuzzer targets in tests/fuzz with clang
# (-DFERRY_FUZZ=ON: -fsanitize=fuzzer,address,undefined) into build-fuzz/ and
# runs each for FERRY_FUZZ_SECONDS (default 30) over a scratch copy of its
# seed corpus in tests/fuzz/corpus/. Prints executions per target; exits
# nonzero when a target crashes, leaks or trips a sanitizer (the reproducer
# is left in build-fuzz/crashes/). Idempotent; installs clang when missing.
set -eu
cd "$(dirname "$0")/.."
SECS="${FERRY_FUZZ_SECONDS:-30}"
if ! command -v clang >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq clang >/dev/null
fi
scripts/install-deps.sh >/dev/null
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DFERRY_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=$(for f in tests/fuzz/fuzz_*.c; do basename "$f" .c; done)
# shellcheck disable=SC2086
cmake --build build-fuzz -j2 --target $targets >/dev/null
mkdir -p build-fuzz/crashes build-fuzz/work
status=0
total=0
for src in tests/fuzz/fuzz_*.c; do
  name=$(basename "$src" .c)
  corpus=${name#fuzz_}
  bin=$(find build-fuzz -type f -name "$name" -perm -u+x | head -n 1)
  if [ -z "$bin" ]; then echo "ci-fuzz: $name was not built" >&2; status=1; continue; fi
  work="build-fuzz/work/$corpus"
  rm -rf "$work"; mkdir -p "$work"
  [ -d "tests/fuzz/corpus/$corpus" ] && cp -r "tests/fuzz/corpus/$corpus/." "$work/"
  log="build-fuzz/work/$name.log"
  if "$bin" "$work" -max_total_time="$SECS" -print_final_stats=1 -rss_limit_mb=2048 \
      -artifact_prefix="build-fuzz/crashes/$name-" >"$log" 2>&1; then
    res=ok
  else
    res=FAILED; status=1
    tail -n 40 "$log" >&2
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  total=$((total + ${execs:-0}))
  printf 'ci-fuzz: %-26s %10s executions in %ss  %s\n' "$name" "${execs:-?}" "$SECS" "$res"
done
echo "ci-fuzz: $total executions in all"
exit $status
