"""schemathesis hooks for scripts/contract-test.sh.

`host_refusals_only`: the operations that check a spec against the host (render, create,
attach a device) may refuse a schema-valid request with 422 only for what the host does not
offer. The contract run lets positive_data_acceptance take their 422s; this check then reads
each such 422 and fails unless every field error is at a field whose validity depends on the
host, or that breaks a rule across fields. A schema-valid spec refused for anything else is a
limit the document does not state (a pattern, a maximum), which clients cannot know.
"""

import re

import schemathesis

# Fields checked against the host (each under `/spec` for createGuest, at the device for
# attachDevice):
# - virt type, arch, machine, and firmware (EFI exists for some arches only), vCPU count (the
#   host's maximum), CPU mode and model (the host's offer), disk bus (the offer);
# - file paths: disk, storage and kernel/initrd sources, the serial log (inside the host's
#   allowed disk roots, symlinks resolved on the host);
# - what interfaces attach to (bridges, host devices, libvirt networks) and their firewall
#   (libvirt's clean-traffic filter must be installed);
# - a PCI device the domain has already, a device libvirt's parser refuses;
# - a storage pool's path (inside the allowed disk roots, as disk paths), a CD-ROM medium's path
#   or volume (as a disk's);
# - the pools and volumes volume disks name, the image a root or ephemeral disk the service
#   makes sits on, and the name it would get (free in the instances pool).
HOST_FIELDS = re.compile(
    r"^(/spec)?("
    r"/virt_type|/os/arch|/os/machine|/os/firmware|/vcpus|/cpu/mode|/cpu/model"
    r"|/os/kernel|/os/initrd|/serial/log_file"
    r"|/disks/\d+/(source|bus)|/storage/\w+(/\d+)?/(source|bus)"
    r"|/disks/\d+/source/(pool|volume)|/storage/\w+(/\d+)?(/source/(pool|volume)|/image/(pool|volume))?"
    r"|/disk/source/(pool|volume)"
    r"|/interfaces/\d+/(source|firewall)"
    r"|/disk(/source|/bus)?|/interface(/source|/firewall)?|/pci_device(/address)?"
    r"|/path|/backing/(pool|volume)"
    r"|/source|/source/(pool|volume)"
    r")$"
)
# Rules across fields, which JSON Schema cannot state (or not so that generators follow it):
# the topology's product, values that must differ between items (targets, MACs, boot orders,
# PCI addresses, feature names, boot devices) or from the domain's own devices (attach), and
# fields that need or exclude another, an overlay smaller than its backing volume, a maximum
# (max_vcpus, max_memory_mb) below the size the guest starts with.
CROSS_FIELD = re.compile(
    r"sockets × cores × threads|names each .* once|already|passed through twice"
    r"|cannot be combined with|needs a kernel|needs the virtio model|is only used with"
    r"|is required when mode|a CD-ROM cannot be on virtio|at least the backing volume's|at least the image's"
    r"|must be at least vcpus|must be at least memory_mb"
)
OPERATIONS = {"POST /v1/guests/render", "POST /v1/guests", "POST /v1/domains/{ref}/devices", "POST /v1/storage/pools",
              "POST /v1/storage/pools/{pool}/volumes", "PUT /v1/domains/{ref}/disks/{target}/media"}
FIELD_ERROR_TYPES = {"https://virthost.dev/problems/invalid-guest-spec",
                     "https://virthost.dev/problems/invalid-storage-request"}


@schemathesis.check
def host_refusals_only(ctx, response, case):
    if case.operation.label not in OPERATIONS or response.status_code != 422:
        return None
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    body = response.json()
    if body.get("type") not in FIELD_ERROR_TYPES:
        return None
    others = [error for error in body.get("errors", [])
              if not HOST_FIELDS.match(error.get("pointer", "")) and not CROSS_FIELD.search(error.get("detail", ""))]
    if others:
        raise AssertionError(f"a schema-valid request was refused for what is not the host's to decide: {others}")
    return None
