#!/usr/bin/env bash
# The OpenAPI contract against the running service: schemathesis (4.x) generates requests for
# every operation from openapi/openapi.yaml and checks each answer with every check on: no
# server error, status codes, content types, headers and bodies the document names, invalid
# input refused, and valid input accepted (positive_data_acceptance). Its stateful phase
# follows the document's links (a created guest's uuid to its reads, actions, devices and
# removal). At the end it prints, per operation, how many cases got a 2xx, and fails when an
# operation got none.
#
# The service runs on libvirt's embedded test driver, with domains made for the run so the
# operations on `/v1/domains/{ref}` reach their logic: each action gets a domain of its own in
# the state the action needs. What the test driver cannot do (domain capabilities, nwfilters,
# device hot-plug: 501 unsupported-by-driver, as documented) runs a second time against the
# real libvirtd when VIRTHOST_TEST_QEMU_URI names one (scripts/test.sh sets it), on a guest
# defined (never started) for the run and removed after it.
#   scripts/contract-test.sh SCHEMATHESIS [VIRTHOSTD]
set -euo pipefail
cd "$(dirname "$0")/.."
schemathesis=$1
virthostd=${2:-.build/debug/virthostd}
python=$(dirname "$schemathesis")/python
qemu_uri=${VIRTHOST_TEST_QEMU_URI:-}
examples=${CONTRACT_MAX_EXAMPLES:-25}

work=$(mktemp -d)
services=()
qemu_guest=""
cleanup() {
    if [[ -n $qemu_guest ]]; then
        virsh -c "$qemu_uri" undefine "$qemu_guest" --nvram >/dev/null 2>&1 || true
        # The pool made for resizeStorageVolume, with its volume and directory.
        virsh -c "$qemu_uri" vol-delete resize.qcow2 --pool "$qemu_guest" >/dev/null 2>&1 || true
        virsh -c "$qemu_uri" pool-destroy "$qemu_guest" >/dev/null 2>&1 || true
        virsh -c "$qemu_uri" pool-undefine "$qemu_guest" >/dev/null 2>&1 || true
        rm -rf "/var/lib/libvirt/images/$qemu_guest-pool"
    fi
    for pid in "${services[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# start_service NAME ARGS...: runs virthostd on a free port and sets $url.
start_service() {
    local name=$1
    shift
    "$virthostd" --listen 127.0.0.1:0 "$@" >"$work/$name.log" 2>&1 &
    services+=($!)
    for _ in $(seq 1 100); do grep -q "listening on" "$work/$name.log" && break; sleep 0.1; done
    url=$(grep -o "http://127.0.0.1:[0-9]*" "$work/$name.log" | head -1)
    [[ -n $url ]] || { echo "virthostd did not start" >&2; cat "$work/$name.log" >&2; exit 1; }
}

# create_guest URL BODY: POST /v1/guests, which must answer 201.
create_guest() {
    local status
    status=$(curl -s -o "$work/create.out" -w '%{http_code}' -X POST "$1/v1/guests" \
        -H 'Content-Type: application/json' -d "$2")
    [[ $status == 201 ]] || { echo "creating a guest for the contract run: $status" >&2; cat "$work/create.out" >&2; exit 1; }
}

# run_schemathesis NAME URL CONFIG ARGS...: one run, its events kept for the 2xx count.
status=0
run_schemathesis() {
    local name=$1 url=$2 config=$3
    shift 3
    "$schemathesis" --config-file "$config" --no-color run openapi/openapi.yaml --url "$url" \
        --max-examples "$examples" --seed 1 --report ndjson --report-ndjson-path "$work/$name.ndjson" \
        "$@" | tee "$work/$name.out" || status=$?
    grep -E "[0-9]+ generated" "$work/$name.out" | sed "s/^/contract ($name): /"
}

# --- libvirt's test driver ---------------------------------------------------------------
# Migrations may only go to a port where nothing listens: a generated destination is refused
# (403) or found unreachable at once (409), never a host the run would wait for.
migration_destination=qemu+tcp://127.0.0.1:1/
start_service test --instances-path /tmp --allowed-disk-root /tmp --allowed-disk-root /var/lib/libvirt/images \
    --migration-destination "$migration_destination"
# One domain per action, in the state it needs; `test` (the driver's own, running) for reads.
for name in start delete; do
    create_guest "$url" "{\"spec\": {\"name\": \"contract-$name\", \"memory_mb\": 64}, \"start\": false}"
done
for name in shutdown reboot destroy pause nmi; do
    create_guest "$url" "{\"spec\": {\"name\": \"contract-$name\", \"memory_mb\": 64}}"
done
create_guest "$url" '{"spec": {"name": "contract-resume", "memory_mb": 64}, "paused": true}'

# A schema-valid spec can still be refused (422) by what this host offers: virt types, arches
# and machines it runs, disk paths outside its disk roots, the networks and bridges its
# interfaces name. That is validation against the host, not a contract breach: the operations
# that validate a spec against the host may answer 422 to valid data, and the check
# host_refusals_only (scripts/contract_hooks.py, which lists those fields) fails any such 422
# with an error at another field. Every other status the check allows by default stays as it is.
default_statuses='["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]'
host_checked='["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]'
cat >"$work/test.toml" <<EOF
hooks = "$PWD/scripts/contract_hooks.py"

[[operations]]
include-operation-id = ["createGuest", "createStoragePool", "createStorageVolume"]
checks.positive_data_acceptance.expected-statuses = $host_checked

# renderGuest's include=first_boot answers in JSON only: with format=xml it is a 400 naming
# include, a rule across parameters OpenAPI cannot state.
[[operations]]
include-operation-id = "renderGuest"
checks.positive_data_acceptance.expected-statuses = $(echo "$host_checked" | sed 's/"3xx"/"3xx", "400"/')

# patchDomain takes live and persistent as attachDevice does (both false: 400 naming live), and
# a domain has at most 64 labels across patches, which no schema of one patch can state (422).
# shutdownDomain's mode (agent|acpi) does not go with timeout_s or force: a rule across
# parameters OpenAPI cannot state, refused with 400 naming mode.
[[operations]]
include-operation-id = "shutdownDomain"
checks.positive_data_acceptance.expected-statuses = $(echo "$default_statuses" | sed 's/"3xx"/"3xx", "400"/')

[[operations]]
include-operation-id = "patchDomain"
checks.positive_data_acceptance.expected-statuses = $(echo "$default_statuses" | sed 's/"3xx"/"3xx", "400", "422"/')

# The migration check of the driver's own domain, to the destination allowed: a plan (200)
# whose destination cannot be reached.
[[operations]]
include-operation-id = "checkDomainMigration"
parameters = { ref = "test", destination = "${migration_destination}system" }

$(for pair in startDomain:start deleteDomain:delete shutdownDomain:shutdown rebootDomain:reboot \
              destroyDomain:destroy pauseDomain:pause resumeDomain:resume injectNMI:nmi; do
    printf '[[operations]]\ninclude-operation-id = "%s"\nparameters = { ref = "contract-%s" }\n\n' "${pair%%:*}" "${pair#*:}"
done)
EOF
# Every operation but the stream (it never ends) and the document itself (the validator checks
# it); the test driver's 501s are checked against the real libvirtd below.
unsupported=(/v1/host/domain-capabilities /v1/firewall/filters '/v1/domains/{ref}/firewall'
             '/v1/domains/{ref}/devices' '/v1/domains/{ref}/devices/{target}'
             '/v1/storage/pools/{pool}/volumes/{volume}/resize'
             '/v1/domains/{ref}/disks/{target}/resize' '/v1/domains/{ref}/disks/{target}/media')
# The serial console is a WebSocket (its 2xx is a 101 whose socket then belongs to the
# console): schemathesis speaks no WebSocket, and the test driver has no consoles. The real
# libvirtd test RealLibvirtdTests.theSerialConsoleShowsSeaBIOSAndEndsWithTheDomain drives it
# with Python's websockets client instead; theVNCDisplayCompletesTheRFBHandshakeAndSendsAFramebufferUpdate
# drives the VNC display in RFB the same way.
websockets=('/v1/domains/{ref}/console/serial' '/v1/domains/{ref}/console/vnc')
# A volume's content is an image's bytes: a schemathesis-generated body for a binary upload is
# meaningless (and a generated volume name is a volume that does not exist to download), and
# the test driver implements neither virStorageVolUpload nor virStorageVolDownload. The real
# libvirtd tests RealLibvirtdTests.sparseRawAndQcow2ImagesGoInAndComeBackByteForByte and
# anUploadCutOffMidBodyLeavesNoVolume drive both with curl and real images instead.
transfers=('/v1/storage/pools/{pool}/volumes/{volume}/content')
# An operation's id exists only once something started it, and a random one is a 404 by design;
# a clone needs a volume in a running pool, which the test driver's contract run does not keep
# between calls. RealLibvirtdTests.aVolumeCloneIsAnOperationSeenOnTheEventStreamWhileTheAPIAnswers
# and aCancelledCloneLeavesNoVolumeAndAWipeDeletesOnlyWhatNothingUses reach each one's 2xx.
# Snapshots need a domain whose disks are qcow2 files; the test driver's domain has no such
# disk, and a snapshot of it would be a memory snapshot of the domain every other call shares.
# RealLibvirtdTests.dataWrittenAfterASnapshotIsGoneAfterTheRevert and
# aSnapshotWithMemoryIsAnOperationSeenOnTheEventStream reach each snapshot route's 2xx. A managed
# save would stop the test driver's shared domain for the calls after it;
# aManagedSaveIsAnOperationAndTheNextStartRestoresTheGuest reaches both of its 2xx.
operations=('/v1/operations/{id}' '/v1/operations/{id}/cancel' '/v1/storage/pools/{pool}/volumes/{volume}/clone'
            '/v1/domains/{ref}/snapshots' '/v1/domains/{ref}/snapshots/{name}' '/v1/domains/{ref}/snapshots/{name}/revert'
            '/v1/domains/{ref}/save')
# The console log is virtlogd's file of a guest that ran on QEMU: the test driver's domain has
# none (always 404). RealLibvirtdTests.theConsoleLogHoldsSeaBIOSsBannerAfterBoot reads one.
websockets+=('/v1/domains/{ref}/console/log')
# The guest agent's calls need a running guest OS with qemu-ga: neither driver's guests here
# have one (they answer 409 agent-unavailable). RealLibvirtdAgentTests drives every one of them
# against the tiny Linux guest (scripts/tiny-guest.sh); GET /v1/domains/{ref}/agent stays in.
agent_calls=('/v1/domains/{ref}/addresses' '/v1/domains/{ref}/guest-info' '/v1/domains/{ref}/password'
             '/v1/domains/{ref}/fs-freeze' '/v1/domains/{ref}/fs-thaw' '/v1/domains/{ref}/fs-info'
             '/v1/domains/{ref}/time-sync')
# A migration that starts, and the post-copy switch and tuning of one that runs, need a second
# libvirt host: RealLibvirtdMigrationTests reaches each one's 2xx between two real daemons. Here
# their refusals are checked in a run of their own whose operations need no 2xx: a destination
# outside --migration-destination (403), the allowed one unreachable (409 migration-refused),
# no migration running (409 not-migrating), and field errors (422). A migration request's
# rules across fields (postcopy and auto_converge need live, undefine_source needs persistent)
# are 422s OpenAPI cannot state.
migrations=('/v1/domains/{ref}/migrate' '/v1/domains/{ref}/migration/postcopy' '/v1/domains/{ref}/migration/tuning')
run_schemathesis test "$url" "$work/test.toml" \
    --exclude-path /v1/events --exclude-path /openapi.yaml \
    $(printf -- "--exclude-path %s " "${unsupported[@]}" "${websockets[@]}" "${transfers[@]}" "${operations[@]}" "${agent_calls[@]}" "${migrations[@]}")
cat >"$work/migration.toml" <<EOF
hooks = "$PWD/scripts/contract_hooks.py"

[[operations]]
include-operation-id = ["migrateDomain", "startDomainMigrationPostcopy", "tuneDomainMigration"]
parameters = { ref = "test" }

[[operations]]
include-operation-id = "migrateDomain"
checks.positive_data_acceptance.expected-statuses = $(echo "$default_statuses" | sed 's/"3xx"/"3xx", "422"/')
EOF
run_schemathesis migration "$url" "$work/migration.toml" $(printf -- "--include-path %s " "${migrations[@]}") \
    --phases examples,coverage,fuzzing

# --- the real libvirtd, for what the test driver does not do ------------------------------
if [[ -n $qemu_uri ]]; then
    start_service qemu --uri "$qemu_uri" --instances-path /var/lib/libvirt/images
    qemu_guest=contract-$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')
    # A dir pool with a 1 MiB volume for resizeStorageVolume and resizeDomainDisk (the test
    # driver cannot resize).
    for request in "pools {\"name\": \"$qemu_guest\", \"type\": \"dir\", \"path\": \"/var/lib/libvirt/images/$qemu_guest-pool\"}" \
                   "pools/$qemu_guest/volumes {\"name\": \"resize.qcow2\", \"capacity_bytes\": 1048576}"; do
        made=$(curl -s -o "$work/create.out" -w '%{http_code}' -X POST "$url/v1/storage/${request%% *}" \
            -H 'Content-Type: application/json' -d "${request#* }")
        [[ $made == 201 ]] || { echo "making storage for the contract run: $made" >&2; cat "$work/create.out" >&2; exit 1; }
    done
    # Defined, never started: devices are attached to and detached from its definition, its
    # disk vdc on the pool's volume grows through the pool, and its empty CD-ROM drive sda
    # takes and gives back media in its definition.
    create_guest "$url" "{\"spec\": {\"name\": \"$qemu_guest\", \"memory_mb\": 64,
        \"disks\": [{\"source\": \"/var/lib/libvirt/images/$qemu_guest-a.qcow2\"},
                    {\"source\": \"/var/lib/libvirt/images/$qemu_guest-b.qcow2\"},
                    {\"source\": {\"pool\": \"$qemu_guest\", \"volume\": \"resize.qcow2\"}, \"target\": \"vdc\"},
                    {\"device\": \"cdrom\", \"target\": \"sda\"}]}, \"start\": false}"
    cat >"$work/qemu.toml" <<EOF
hooks = "$PWD/scripts/contract_hooks.py"

[[operations]]
include-operation-id = ["getDomainFirewall", "attachDevice"]
parameters = { ref = "$qemu_guest" }

# attachDevice validates its device against the host as render does (422). Both take live and
# persistent, which cannot both be false: a rule across two parameters that OpenAPI cannot
# state, refused with 400 naming live.
[[operations]]
include-operation-id = "attachDevice"
checks.positive_data_acceptance.expected-statuses = $(echo "$host_checked" | sed 's/"3xx"/"3xx", "400"/')

[[operations]]
include-operation-id = "detachDevice"
parameters = { ref = "$qemu_guest", target = "vdb" }
checks.positive_data_acceptance.expected-statuses = $(echo "$default_statuses" | sed 's/"3xx"/"3xx", "400"/')

# Domain capabilities exist only for the arches, machines and virt types the host runs: any
# other is a 400 naming the parameter.
[[operations]]
include-operation-id = "getDomainCapabilities"
checks.positive_data_acceptance.expected-statuses = $(echo "$default_statuses" | sed 's/"3xx"/"3xx", "400"/')

# Growing only: a capacity below the volume's current one (grown by earlier cases) is a 422.
[[operations]]
include-operation-id = "resizeStorageVolume"
parameters = { pool = "$qemu_guest", volume = "resize.qcow2" }
checks.positive_data_acceptance.expected-statuses = $(echo "$default_statuses" | sed 's/"3xx"/"3xx", "422"/')

# The same volume as the guest's disk vdc: it grows only, too.
[[operations]]
include-operation-id = "resizeDomainDisk"
parameters = { ref = "$qemu_guest", target = "vdc" }
checks.positive_data_acceptance.expected-statuses = $(echo "$default_statuses" | sed 's/"3xx"/"3xx", "422"/')

# Media go into the guest's empty CD-ROM drive; live and persistent cannot both be false (400
# naming live), and a path is checked against the host's disk roots (host_refusals_only).
[[operations]]
include-operation-id = "insertDomainMedia"
parameters = { ref = "$qemu_guest", target = "sda" }
checks.positive_data_acceptance.expected-statuses = $(echo "$host_checked" | sed 's/"3xx"/"3xx", "400"/')

[[operations]]
include-operation-id = "ejectDomainMedia"
parameters = { ref = "$qemu_guest", target = "sda" }
checks.positive_data_acceptance.expected-statuses = $(echo "$default_statuses" | sed 's/"3xx"/"3xx", "400"/')

# A shared libvirtd: pruning could remove the filters of a guest another client is creating
# at this moment (they are defined just before their domain).
[[operations]]
include-operation-id = "listFirewallFilters"
parameters = { prune = "false" }
EOF
    # No stateful phase here: the links start at createGuest, which runs on the test driver.
    run_schemathesis qemu "$url" "$work/qemu.toml" $(printf -- "--include-path %s " "${unsupported[@]}") \
        --phases examples,coverage,fuzzing
else
    # Without a real libvirtd, the test driver's 501s are checked for everything else.
    : >"$work/unsupported.toml"
    run_schemathesis unsupported "$url" "$work/unsupported.toml" $(printf -- "--include-path %s " "${unsupported[@]}") \
        --exclude-checks positive_data_acceptance,not_a_server_error --phases examples,coverage,fuzzing
fi

# Every operation must have reached a 2xx, but those only the test driver's 501s answered and
# the migration's refusals.
"$python" scripts/contract-coverage.py "$work"/test.ndjson --informational "$work/migration.ndjson" \
    $([[ -n $qemu_uri ]] && echo "$work/qemu.ndjson" || echo "--informational $work/unsupported.ndjson") || status=$?
exit "$status"
