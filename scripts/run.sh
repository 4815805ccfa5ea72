#!/usr/bin/env bash
# Installs what is missing, builds virthostd and runs it. With no arguments it serves libvirt's
# embedded test driver (test:///default) on 127.0.0.1:8080; any arguments go to virthostd
# (see `virthostd --help`), for example: scripts/run.sh --uri qemu:///system --listen 0.0.0.0:8080
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
swift build -c release --product virthostd
exec .build/release/virthostd "$@"
