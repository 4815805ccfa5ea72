#!/usr/bin/env bash
# Fuzzes request JSON → guest spec → validation → XML with libFuzzer for a bounded time.
#   scripts/fuzz.sh [SECONDS]      default 60
#   scripts/fuzz.sh --build-only   the build alone (scripts/test.sh starts it early)
# The target (Fuzz/GuestSpecFuzzer) checks every input with the oracle in Fuzz/GuestSpecOracle:
# no crash, and every XML rendered parses and holds exactly the elements the spec asked for.
# It starts from the committed seeds (Fuzz/seeds) and the golden specs; the corpus it grows
# stays in .build-fuzz/corpus for the next local run. A crash, a hang (10 s on one input) or
# a violation fails the run and leaves the input in .build-fuzz/artifacts/; replay it with
#   swift build --product GuestSpecFuzzer && .build/debug/GuestSpecFuzzer .build-fuzz/artifacts/crash-…
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${1:-60}
scratch=${FUZZ_SCRATCH_PATH:-.build-fuzz}
build=(swift build -c release --sanitize=fuzzer -Xswiftc -DFUZZING --scratch-path "$scratch")

"${build[@]}" --product GuestSpecFuzzer
[[ $duration == --build-only ]] && exit 0
fuzzer=$("${build[@]}" --show-bin-path)/GuestSpecFuzzer

corpus=$scratch/corpus
artifacts=$scratch/artifacts
mkdir -p "$corpus" "$artifacts"
cp Fuzz/seeds/* Tests/GuestConfigTests/Golden/*.json "$corpus/"

echo "fuzzing for ${duration}s from $(find "$corpus" -type f | wc -l) inputs"
# Swift's own crash handler would take the trap before libFuzzer's, which then could not
# save the input: leave crashes to libFuzzer.
SWIFT_BACKTRACE=enable=no "$fuzzer" "$corpus" \
    -dict=Fuzz/guest-spec.dict \
    -max_total_time="$duration" \
    -max_len=16384 \
    -timeout=10 \
    -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/" \
    -print_final_stats=1
