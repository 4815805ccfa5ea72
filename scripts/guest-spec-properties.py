#!/usr/bin/env python3
"""Property-based test of POST /v1/guests/render against libvirt's own schema.

Draws guest specs that are valid against the OpenAPI document's `GuestSpec` schema (with its
`$ref`s resolved from the document) using hypothesis-jsonschema, posts each to a running
virthostd, and checks what the service promises:
  - every 200 is domain XML that libvirt's RelaxNG schema (domain.rng) accepts;
  - every refusal is a 422 invalid-guest-spec problem with field errors, each a JSON pointer.
Anything else fails the run; each failing spec is written to --failures (a directory) so it
can become a fuzz seed (Fuzz/seeds) or a unit test.

  guest-spec-properties.py --url http://127.0.0.1:PORT [--examples N] [--seconds S] [--seed N]
"""
import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request

import jsonschema
import yaml
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis_jsonschema import from_schema
from lxml import etree

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


ANNOTATIONS = ("example", "examples", "discriminator", "xml", "externalDocs", "readOnly", "writeOnly")
# The rules between fields (`if`/`then`/`else`, `not`): hypothesis-jsonschema meets them by
# drawing and rejecting, which took minutes per spec here, so the generator leaves them out.
# Every field still has its own type, enum, pattern and range; a drawn spec that breaks a rule
# between fields is still posted (and must be refused with field errors, or render valid XML),
# and is counted apart by the full schema.
BETWEEN_FIELDS = ("if", "then", "else", "not")


def guest_spec_schema(document, leave_out=()):
    """GuestSpec as a JSON Schema whose `#/components/schemas/...` refs resolve in itself."""
    schemas = document["components"]["schemas"]

    def clean(node):
        # OpenAPI's annotations are not JSON Schema keywords; drop them so the generator sees
        # only constraints.
        if isinstance(node, dict):
            out = {k: clean(v) for k, v in node.items()
                   if k not in ANNOTATIONS and k not in leave_out and not k.startswith("x-")}
            if "allOf" in out:
                out["allOf"] = [branch for branch in out["allOf"] if branch]
                if not out["allOf"]:
                    del out["allOf"]
            return out
        if isinstance(node, list):
            return [clean(v) for v in node]
        return node

    return {"$ref": "#/components/schemas/GuestSpec", "components": {"schemas": clean(schemas)}}


def on_the_host(spec, virt_type, disk_root):
    """What depends on the host rather than on the spec's rules, set to what the host offers:
    its domain type, its architecture and machines (left to the defaults), and disk paths
    inside an allowed root (the path rules have tests of their own). Everything else is kept
    as drawn."""
    spec = dict(spec)
    spec["virt_type"] = virt_type
    if isinstance(spec.get("os"), dict):
        spec["os"] = {k: v for k, v in spec["os"].items() if k not in ("arch", "machine")}
    counter = [0]

    def place(disk):
        if isinstance(disk, dict) and isinstance(disk.get("source"), str):
            counter[0] += 1
            name = disk["source"].replace("/", "_")[:200]
            disk = dict(disk, source=f"{disk_root}/d{counter[0]}-{name}")
        return disk

    if isinstance(spec.get("disks"), list):
        spec["disks"] = [place(d) for d in spec["disks"]]
    storage = spec.get("storage")
    if isinstance(storage, dict):
        storage = dict(storage)
        for role in ("root", "swap", "config_drive"):
            if role in storage:
                storage[role] = place(storage[role])
        for role in ("ephemeral", "volumes"):
            if isinstance(storage.get(role), list):
                storage[role] = [place(d) for d in storage[role]]
        spec["storage"] = storage
    return spec


class TimeUp(Exception):
    """Raised once the time bound has passed, to stop drawing (drawing is what takes time)."""


def post(url, spec):
    body = json.dumps(spec).encode()
    request = urllib.request.Request(url + "/v1/guests/render", data=body, method="POST",
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--examples", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--schemas", default=os.environ.get("VIRTHOST_LIBVIRT_SCHEMAS", "/usr/share/libvirt/schemas"))
    parser.add_argument("--failures", default=None, help="directory to write failing specs to")
    parser.add_argument("--virt-type", default="test", help="the host's domain type (libvirt's test driver: test)")
    parser.add_argument("--disk-root", default="/tmp", help="a disk root the service allows (--allowed-disk-root)")
    options = parser.parse_args()

    with open(os.path.join(REPOSITORY, "openapi", "openapi.yaml")) as file:
        document = yaml.safe_load(file)
    relaxng = etree.RelaxNG(etree.parse(os.path.join(options.schemas, "domain.rng")))
    # The validator must be able to fail: a domain with a vCPU count past an unsigned short.
    refused = etree.fromstring(b"<domain type='test'><name>a</name><memory>1</memory><vcpu>65536</vcpu>"
                               b"<os><type>hvm</type></os></domain>")
    if relaxng.validate(etree.ElementTree(refused)):
        print("FAIL: domain.rng accepted a domain it must refuse: the check would prove nothing", file=sys.stderr)
        return 1
    deadline = time.monotonic() + options.seconds
    counts = {"rendered": 0, "refused": 0, "valid against the whole schema": 0}
    whole_schema = jsonschema.Draft202012Validator(guest_spec_schema(document))
    failures = []

    def fail(spec, why):
        failures.append((spec, why))
        print(f"FAIL: {why}\n  spec: {json.dumps(spec)}", file=sys.stderr)

    @seed(options.seed)
    @settings(max_examples=options.examples, deadline=None, database=None, derandomize=False,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(from_schema(guest_spec_schema(document, leave_out=BETWEEN_FIELDS)).map(lambda spec: on_the_host(spec, options.virt_type, options.disk_root)))
    def renders_what_libvirt_accepts(spec):
        if time.monotonic() > deadline:
            raise TimeUp()
        if whole_schema.is_valid(spec):
            counts["valid against the whole schema"] += 1
        status, content_type, body = post(options.url, spec)
        if status == 200:
            counts["rendered"] += 1
            try:
                xml = json.loads(body)["xml"] if "json" in content_type else body.decode()
                root = etree.fromstring(xml.encode())
            except Exception as error:  # noqa: BLE001 - any unreadable answer is a failure
                fail(spec, f"200 with an unreadable document: {error}")
                return
            if not relaxng.validate(etree.ElementTree(root)):
                fail(spec, "accepted, but libvirt's domain.rng refuses the XML: "
                     + "; ".join(str(e) for e in relaxng.error_log))
        elif status == 422:
            counts["refused"] += 1
            try:
                problem = json.loads(body)
                errors = problem["errors"]
                ok = (problem.get("type", "").endswith("/invalid-guest-spec") and errors
                      and all(isinstance(e.get("pointer"), str) and (e["pointer"] == "" or e["pointer"].startswith("/"))
                              and isinstance(e.get("detail"), str) for e in errors))
            except Exception:  # noqa: BLE001
                ok = False
            if not ok:
                fail(spec, f"422 without field errors: {body[:500]!r}")
        else:
            fail(spec, f"status {status}: {body[:500]!r}")

    try:
        renders_what_libvirt_accepts()
    except TimeUp:
        print(f"guest-spec properties: stopped at the time bound ({options.seconds:g} s)")
    print("guest-spec properties: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    if counts["rendered"] == 0:
        failures.append((None, "no generated spec was accepted: the run proved nothing"))
        print("FAIL: no generated spec was accepted", file=sys.stderr)
    if failures and options.failures:
        os.makedirs(options.failures, exist_ok=True)
        for index, (spec, why) in enumerate(failures):
            if spec is not None:
                with open(os.path.join(options.failures, f"failure-{index}.json"), "w") as file:
                    json.dump(spec, file, indent=1)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
