#!/usr/bin/env bash
# Runs every Swift test suite under ThreadSanitizer, then AddressSanitizer with LeakSanitizer,
# each build in a scratch path of its own: the test driver's suites and the real libvirtd's,
# fault test included. The virthostd processes the tests start are built with the same
# sanitizer, so a report in the service fails its test too (a halted service, or a non-zero
# exit from LeakSanitizer when the test stops it).
#   scripts/sanitize.sh [thread] [address]     default: both
#   SANITIZE_FILTER='HTTPServerTests|…'        a subset (a `swift test --filter` pattern)
#   scripts/sanitize.sh --build-only [thread] [address]
#                                              the builds alone (scripts/test.sh starts them early)
# scripts/test.sh calls it after its own run, with libvirtd started and the Python tools'
# paths exported; run alone, it starts libvirtd itself and wants .build/pyvenv from one run of
# scripts/test.sh. A report fails the run: the sanitizers halt on the first error, and a
# report that does not halt still fails below. So does a skipped test.
set -euo pipefail
cd "$(dirname "$0")/.."

build_only=false
if [[ ${1:-} == --build-only ]]; then build_only=true; shift; fi
filter=${SANITIZE_FILTER:-.}
sanitizers=("$@")
((${#sanitizers[@]})) || sanitizers=(thread address)

scratch_path() {
    case $1 in
        thread) echo .build-tsan ;;
        address) echo .build-asan ;;
        *) echo "unknown sanitizer: $1 (thread or address)" >&2; return 2 ;;
    esac
}
if $build_only; then
    for sanitizer in "${sanitizers[@]}"; do
        scratch=$(scratch_path "$sanitizer")
        swift build --build-tests --sanitize="$sanitizer" --scratch-path "$scratch"
    done
    exit 0
fi

if [[ -z ${VIRTHOST_TEST_QEMU_URI:-} ]]; then
    VIRTHOST_TEST_VIRT_TYPE=$(scripts/start-libvirtd.sh)
    export VIRTHOST_TEST_VIRT_TYPE VIRTHOST_TEST_QEMU_URI=qemu:///system
fi
if [[ -z ${VIRTHOST_TEST_SECOND_HOST_URI:-} ]]; then
    second_host=$(scripts/second-host.sh test-env)
    eval "$second_host"
fi
venv=$PWD/.build/pyvenv
export VIRTHOST_OPENAPI_VALIDATOR=${VIRTHOST_OPENAPI_VALIDATOR:-$venv/bin/openapi-spec-validator}
export VIRTHOST_TEST_PYTHON=${VIRTHOST_TEST_PYTHON:-$venv/bin/python}
# The large-upload test streams 64 MiB instead of 1 GiB: the sanitizers slow every byte.
export VIRTHOST_TEST_TRANSFER_MIB=${VIRTHOST_TEST_TRANSFER_MIB:-64}
# Likewise the clone operation copies 64 MiB instead of 256, and 60 idle VNC WebSockets stand for
# 200 (the same code path, fewer sockets for the instrumented relay to hold).
export VIRTHOST_TEST_CLONE_MIB=${VIRTHOST_TEST_CLONE_MIB:-64}
export VIRTHOST_TEST_IDLE_SOCKETS=${VIRTHOST_TEST_IDLE_SOCKETS:-60}

# Data races are what this pass is for. Its lock-order (deadlock) detector is off: it takes one
# global lock around every mutex operation of every thread, and with the suites' hundreds of
# threads (servers, Hosts, dedicated connections, console relays) on two cores the threads spent
# the pass spinning on that lock (sched_yield in MutexBeforeLock/MutexAfterLock, seen with gdb):
# two minutes of tests grew past fifteen. Lock-order inversions are therefore not checked here.
export TSAN_OPTIONS="halt_on_error=1 detect_deadlocks=0 suppressions=$PWD/scripts/sanitizers/tsan.supp"
export ASAN_OPTIONS="halt_on_error=1 detect_leaks=1 detect_stack_use_after_return=1"
export LSAN_OPTIONS="suppressions=$PWD/scripts/sanitizers/lsan.supp print_suppressions=0"

for sanitizer in "${sanitizers[@]}"; do
    scratch=$(scratch_path "$sanitizer")
    flags=(--sanitize="$sanitizer" --scratch-path "$scratch")
    start=$SECONDS
    swift build --build-tests "${flags[@]}"
    built=$SECONDS
    log=$(mktemp)
    status=0
    VIRTHOST_TEST_SANITIZER=$sanitizer swift test --skip-build "${flags[@]}" --filter "$filter" 2>&1 | tee "$log" || status=$?
    if ((status == 0)) && grep -qE "WARNING: ThreadSanitizer|ERROR: (AddressSanitizer|LeakSanitizer)" "$log"; then
        status=1
    fi
    if ((status == 0)) && grep -E "^➜ (Test|Suite) .* skipped" "$log" >&2; then
        echo "some tests were skipped under $sanitizer: a skip is not a pass" >&2
        status=1
    fi
    echo "$sanitizer sanitizer: $(grep -E "^✔ Test run with [0-9]+ tests" "$log" | tail -1 | sed "s/^✔ //")" \
        "build $((built - start)) s, tests $((SECONDS - built)) s, status $status"
    rm -f "$log"
    ((status == 0)) || exit "$status"
done
