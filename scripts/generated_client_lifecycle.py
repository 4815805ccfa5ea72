"""A guest's life driven through a client generated from openapi/openapi.yaml by
openapi-python-client, as a Python compute manager would use it, against a running virthostd
on libvirt's test driver. Called by scripts/generated-client-test.sh, which generates the
client as the package `virthost_client` and puts it on sys.path.

    python generated_client_lifecycle.py BASE_URL

Every call goes through the generated functions and models (no hand-made HTTP), and every
answer is read as the typed model the document promises; any other answer fails the run.
"""

import sys
import uuid

from virthost_client import Client
from virthost_client.api.domains import (
    delete_domain, destroy_domain, get_domain, get_domain_vcpus, get_domain_xml, list_domains, pause_domain,
    resume_domain)
from virthost_client.api.guests import create_guest, render_guest
from virthost_client.api.host import get_host_capabilities
from virthost_client.api.meta import get_open_api_document
from virthost_client.models import (
    DiskSpec, DiskSpecBusType0, DomainDetails, DomainList, FieldError, GetDomainXmlFormat, GetOpenApiDocumentFormat,
    GuestCreation, GuestSpec, HostCapabilities, PowerState, Problem, VCPUList, WrappedXML)
from virthost_client.types import Response


def expect(condition, what):
    if not condition:
        raise SystemExit(f"generated client: {what}")


def answer(response: Response, status: int, model: type):
    """The parsed answer, after checking its status and its type."""
    expect(response.status_code == status,
           f"expected {status}, got {response.status_code}: {response.content[:500]!r}")
    expect(isinstance(response.parsed, model), f"expected a {model.__name__}, got {type(response.parsed).__name__}")
    return response.parsed


def main(base_url: str) -> None:
    client = Client(base_url=base_url, raise_on_unexpected_status=True)
    name = f"gen-client-{uuid.uuid4().hex[:8]}"

    # The smallest spec: no virt type, arch or machine named; the host's are taken.
    spec = GuestSpec(name=name, memory_mb=256)
    rendered = answer(render_guest.sync_detailed(client=client, body=spec), 200, WrappedXML)
    expect(rendered.xml.startswith("<domain type='test'>"), f"rendered XML: {rendered.xml[:80]}")

    # A render with errors: a 422 whose field errors are typed, each with its pointer.
    bad = GuestSpec(name="bad name", memory_mb=0, disks=[DiskSpec(source="relative.qcow2", bus=DiskSpecBusType0.IDE)])
    problem = answer(render_guest.sync_detailed(client=client, body=bad), 422, Problem)
    expect(problem.type_ == "https://virthost.dev/problems/invalid-guest-spec", f"problem type {problem.type_}")
    expect(all(isinstance(error, FieldError) for error in problem.errors), "errors are FieldError models")
    pointers = {error.pointer for error in problem.errors}
    expect({"/name", "/memory_mb", "/disks/0/source"} <= pointers, f"pointers {sorted(pointers)}")

    capabilities = answer(get_host_capabilities.sync_detailed(client=client), 200, HostCapabilities)
    expect(any("test" in guest.domain_types for guest in capabilities.guests), "capabilities name the test type")

    # Create and start it, then walk its power states.
    created = answer(create_guest.sync_detailed(client=client, body=GuestCreation(spec=spec, start=True)),
                     201, DomainDetails)
    expect(created.name == name and created.power_state == PowerState.RUNNING, f"created {created.name} {created.power_state}")
    expect(created.os.arch == "i686", f"os {created.os.arch}")
    ref = str(created.uuid)
    expect(any(str(domain.uuid) == ref for domain in answer(list_domains.sync_detailed(client=client), 200,
                                                             DomainList).domains), "listed")
    vcpus = answer(get_domain_vcpus.sync_detailed(ref, client=client), 200, VCPUList)
    expect(len(vcpus.vcpus) == 1, f"vcpus {vcpus.vcpus}")
    xml = answer(get_domain_xml.sync_detailed(ref, client=client, format_=GetDomainXmlFormat.JSON), 200, WrappedXML)
    expect(f"<name>{name}</name>" in xml.xml, "domain XML names the guest")

    for action, state in [(pause_domain, PowerState.PAUSED), (resume_domain, PowerState.RUNNING),
                          (destroy_domain, PowerState.SHUTDOWN)]:
        details = answer(action.sync_detailed(ref, client=client), 200, DomainDetails)
        expect(details.power_state == state, f"{action.__name__}: {details.power_state}")
    # Pausing a domain that is off is refused with a typed problem.
    refused = answer(pause_domain.sync_detailed(ref, client=client), 409, Problem)
    expect(refused.type_ == "https://virthost.dev/problems/invalid-state", f"pause when off: {refused.type_}")

    deleted = delete_domain.sync_detailed(ref, client=client)
    expect(deleted.status_code == 204, f"delete: {deleted.status_code}")
    gone = answer(get_domain.sync_detailed(ref, client=client), 404, Problem)
    expect(gone.type_ == "https://virthost.dev/problems/domain-not-found", f"after delete: {gone.type_}")

    document = get_open_api_document.sync_detailed(client=client, format_=GetOpenApiDocumentFormat.JSON)
    expect(document.status_code == 200 and document.parsed.yaml.startswith("openapi: 3.1"), "the document as JSON")
    print(f"generated client: {name} rendered, created, paused, resumed, destroyed and deleted; field errors typed")


if __name__ == "__main__":
    main(sys.argv[1])
