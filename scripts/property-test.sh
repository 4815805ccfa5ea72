#!/usr/bin/env bash
# Property-based test of POST /v1/guests/render: guest specs drawn from the OpenAPI document's
# GuestSpec schema (hypothesis-jsonschema) are rendered by a running service on libvirt's test
# driver, and every accepted spec's XML must pass libvirt's own domain.rng (lxml's RelaxNG);
# every refusal must be a 422 with field errors. Bounded in time; failing specs are kept in
# .build/property-failures/ to become fuzz seeds or unit tests.
#   scripts/property-test.sh PYTHON [VIRTHOSTD]
set -euo pipefail
cd "$(dirname "$0")/.."
python=$1
virthostd=${2:-.build/debug/virthostd}

log=$(mktemp)
roots=$(mktemp -d)
"$virthostd" --listen 127.0.0.1:0 --instances-path "$roots" --allowed-disk-root "$roots" >"$log" 2>&1 &
service=$!
trap 'kill "$service" 2>/dev/null; rm -rf "$log" "$roots"' EXIT
for _ in $(seq 1 100); do grep -q "listening on" "$log" && break; sleep 0.1; done
url=$(grep -o "http://127.0.0.1:[0-9]*" "$log" | head -1)
[[ -n $url ]] || { echo "virthostd did not start" >&2; cat "$log" >&2; exit 1; }

"$python" scripts/guest-spec-properties.py --url "$url" --disk-root "$roots" \
    --examples "${PROPERTY_EXAMPLES:-300}" --seconds "${PROPERTY_SECONDS:-60}" --seed "${PROPERTY_SEED:-1}" \
    --failures .build/property-failures
