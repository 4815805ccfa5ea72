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
    r"|needs macaddress or name|is required for a config drive"
)
# Values that are documents of their own, checked by their own parsers, which a pattern cannot
# state: an SSH key's base64 body (it must hold a key of the type it names), `#cloud-config`
# user data (YAML whose top is a mapping, at most 65,535 bytes), network addresses (IPv4 and
# IPv6, with prefix lengths), search domains, and the first-boot files' total size (64 KiB).
CONTENT_FIELDS = re.compile(
    r"^(/spec)?/first_boot(/ssh_authorized_keys/\d+|/user_data"
    r"|/network_config/ethernets/[^/]+/(addresses/\d+|gateway4|gateway6|nameservers/(addresses|search)/\d+"
    r"|routes/\d+/(to|via)))?$"
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
              if not HOST_FIELDS.match(error.get("pointer", "")) and not CROSS_FIELD.search(error.get("detail", ""))
              and not CONTENT_FIELDS.match(error.get("pointer", ""))]
    if others:
        raise AssertionError(f"a schema-valid request was refused for what is not the host's to decide: {others}")
    return None


# The test driver cannot hold a volume's content (it implements no virStorageVolUpload), so a
# guest with a first-boot disk cannot be created on it: only its render runs here with
# `first_boot`. A schema-valid creation request loses its `first_boot` before it is sent (it
# stays valid without it); the real libvirtd test RealLibvirtdFirstBootTests creates guests with
# first-boot disks and reads them back. A negative request keeps it, and is refused before any
# disk is made.
@schemathesis.hook
def before_call(ctx, case, **kwargs):
    if case.operation.label != "POST /v1/guests" or case.meta is None or not case.meta.generation.mode.is_positive:
        return
    if isinstance(case.body, dict) and isinstance(case.body.get("spec"), dict):
        case.body["spec"].pop("first_boot", None)
