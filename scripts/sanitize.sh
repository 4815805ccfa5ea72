#!/usr/bin/env bash
# Runs the HTTP server, Host, API and libvirt-binding suites on libvirt's test driver under
# ThreadSanitizer and AddressSanitizer (with LeakSanitizer), each build in a scratch path of
# its own. The suites on the real libvirtd are left out: they share one daemon with the rest
# of the machine and take minutes of QEMU start-up, which the sanitizers slow further; so are
# the two checks that only hand a document to a Python tool.
#   scripts/sanitize.sh [thread] [address]     default: both
#   SANITIZE_FILTER='HTTPServerTests|…'        which suites (a `swift test --filter` pattern)
# Which suites and why are in README ("Fuzzing and sanitizers"). A report fails the run: the
# sanitizers halt on the first error, and a report that does not halt still fails below.
set -euo pipefail
cd "$(dirname "$0")/.."

filter=${SANITIZE_FILTER:-'HTTPServerTests|VirtHostTests|VirtHostAPITests|LibvirtTests'}
skip='RealLibvirtdTests|theDocumentIsValidOpenAPI|prometheusClientParsesIt'
sanitizers=("$@")
((${#sanitizers[@]})) || sanitizers=(thread address)

export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/scripts/sanitizers/tsan.supp"
export ASAN_OPTIONS="halt_on_error=1 detect_leaks=1 detect_stack_use_after_return=1"
export LSAN_OPTIONS="suppressions=$PWD/scripts/sanitizers/lsan.supp print_suppressions=0"

for sanitizer in "${sanitizers[@]}"; do
    case $sanitizer in
        thread) scratch=.build-tsan ;;
        address) scratch=.build-asan ;;
        *) echo "unknown sanitizer: $sanitizer (thread or address)" >&2; exit 2 ;;
    esac
    flags=(--sanitize="$sanitizer" --scratch-path "$scratch")
    start=$SECONDS
    swift build --build-tests "${flags[@]}"
    built=$SECONDS
    log=$(mktemp)
    status=0
    swift test --skip-build "${flags[@]}" --filter "$filter" --skip "$skip" 2>&1 | tee "$log" || status=$?
    if ((status == 0)) && grep -qE "WARNING: ThreadSanitizer|ERROR: (AddressSanitizer|LeakSanitizer)" "$log"; then
        status=1
    fi
    if ((status == 0)) && grep -E "^➜ (Test|Suite) .* skipped" "$log" >&2; then
        echo "some tests were skipped under $sanitizer: a skip is not a pass" >&2
        status=1
    fi
    rm -f "$log"
    echo "$sanitizer sanitizer: build $((built - start)) s, tests $((SECONDS - built)) s, status $status"
    ((status == 0)) || exit "$status"
done
