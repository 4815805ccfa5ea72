#!/usr/bin/env bash
# A client generated from openapi/openapi.yaml by openapi-python-client (the usual way a Python
# compute manager gets one) drives a guest's life against the running service on libvirt's test
# driver: scripts/generated_client_lifecycle.py. The generator must print no warning: each one
# is a part of the contract the client silently lacks (a response it drops, a model it cannot
# make), so any output but its progress line fails the run.
#   scripts/generated-client-test.sh PYTHON [VIRTHOSTD]
# PYTHON is a Python whose environment has openapi-python-client (its `openapi-python-client`
# command sits beside it) and httpx/attrs, which the generated client imports.
set -euo pipefail
cd "$(dirname "$0")/.."
python=$1
virthostd=${2:-.build/debug/virthostd}
generator=$(dirname "$python")/openapi-python-client

work=$(mktemp -d)
log=$work/virthostd.log
service=""
trap '[[ -n $service ]] && kill "$service" 2>/dev/null; rm -rf "$work"' EXIT

# No post hooks: formatting the generated code (ruff) is no part of what is checked here. The
# generator knows binary bodies only as application/octet-stream; its content_type_overrides
# tells it a screenshot's image/png is such a body (a File in the client), as it is.
printf 'post_hooks: []\ncontent_type_overrides:\n  image/png: application/octet-stream\n' >"$work/config.yaml"
"$generator" generate --path openapi/openapi.yaml --meta none --config "$work/config.yaml" \
    --output-path "$work/virthost_client" >"$work/generate.out" 2>&1 || { cat "$work/generate.out" >&2; exit 1; }
# The only lines the generator prints when it has nothing to say.
expected='^(Generating client|Generating .*/virthost_client)?$'
if grep -Ev "$expected" "$work/generate.out" >/dev/null; then
    echo "openapi-python-client printed what this test does not expect:" >&2
    cat "$work/generate.out" >&2
    exit 1
fi

"$virthostd" --listen 127.0.0.1:0 --instances-path /tmp >"$log" 2>&1 &
service=$!
for _ in $(seq 1 100); do grep -q "listening on" "$log" && break; sleep 0.1; done
url=$(grep -o "http://127.0.0.1:[0-9]*" "$log" | head -1)
[[ -n $url ]] || { echo "virthostd did not start" >&2; cat "$log" >&2; exit 1; }

PYTHONPATH=$work "$python" scripts/generated_client_lifecycle.py "$url"
