import Foundation
import HTTPServer
import Logging
import Testing
import TestSupport
import VirtHost
import VirtHostAPI

/// The router and `openapi/openapi.yaml` name the same operations, so neither can drift.
@Suite(.paced) struct ContractDriftTests {
    @Test func everyRouteIsDocumentedAndEveryDocumentedOperationIsRouted() throws {
        let host = VirtHost.Host(configuration: .init(uri: "test:///default"), logger: Logger(label: "test"))
        let routes = Set(API(host: host, logger: Logger(label: "test")).router().routes.map { "\($0.method) \($0.pattern)" })
        let documented = try OpenAPIDocument.operations()
        #expect(!routes.isEmpty)
        #expect(routes.subtracting(documented).sorted() == [], "routes the document lacks")
        #expect(documented.subtracting(routes).sorted() == [], "documented operations the server lacks")
    }

    /// Each operation's documented scope is the one the server demands of it.
    @Test func everyOperationDocumentsTheScopeTheServerRequires() throws {
        let host = VirtHost.Host(configuration: .init(uri: "test:///default"), logger: Logger(label: "test"))
        let router = API(host: host, logger: Logger(label: "test")).router()
        for (operation, documented) in try OpenAPIDocument.scopes() {
            let parts = operation.split(separator: " ", maxSplits: 1)
            let path = String(parts[1]).replacingOccurrences(of: "{ref}", with: "web1")
                .replacingOccurrences(of: "{target}", with: "vdb")
            let required = Scope.required(for: router.resolve(Request(method: String(parts[0]), path: path)))
            #expect(documented == (required?.rawValue ?? "public"), "\(operation)")
        }
    }

    /// The document is valid OpenAPI 3.1, by the PyPI validator the test command installs
    /// (`VIRTHOST_OPENAPI_VALIDATOR` names it; `scripts/test.sh` fails the run on any skip).
    @Test(.enabled(if: ContractDriftTests.validator != nil, "VIRTHOST_OPENAPI_VALIDATOR names openapi-spec-validator"))
    func theDocumentIsValidOpenAPI() async throws {
        let validator = try #require(Self.validator)
        let output = try await onOwnThread { try run(validator, [OpenAPIDocument.url.path]) }
        #expect(output.contains("OK"), "\(output)")
    }

    static let validator = ProcessInfo.processInfo.environment["VIRTHOST_OPENAPI_VALIDATOR"]

    /// What code generators need of the document (openapi-python-client is the one the test
    /// command runs; these are the shapes it and its peers mishandle): nullable enums written as
    /// `anyOf` of the enum and null, not an enum that lists null (one class per field, not
    /// three); `oneOf`/`anyOf` members that are objects named by `$ref` (or built on one with
    /// `allOf`); every response that
    /// has XML or YAML also as JSON (generators drop the others); and parameters whose names
    /// stay apart in snake case. The document is read by PyYAML (installed with the validator).
    @Test(.enabled(if: ContractDriftTests.python != nil, "VIRTHOST_TEST_PYTHON names a Python with PyYAML"))
    func theDocumentHasShapesGeneratorsHandle() async throws {
        let python = try #require(Self.python)
        let script = #"""
            import re, sys, yaml
            document = yaml.safe_load(open(sys.argv[1]))
            def walk(node, where):
                if isinstance(node, dict):
                    if None in (node.get("enum") or []):
                        print(f"nullable enum listing null at {where}")
                    for key in ("oneOf", "anyOf"):
                        for index, member in enumerate(node.get(key) or []):
                            named = "$ref" in member or any("$ref" in part for part in member.get("allOf", []))
                            if not named and ("properties" in member or member.get("type") == "object"):
                                print(f"unnamed object in {key} at {where}/{key}/{index}")
                    for key, value in node.items():
                        walk(value, f"{where}/{key}")
                elif isinstance(node, list):
                    for index, value in enumerate(node):
                        walk(value, f"{where}/{index}")
            walk(document, "")
            for path, item in document["paths"].items():
                for method, operation in item.items():
                    names = [re.sub(r"[^a-z0-9]+", "_", p["name"].lower()) for p in operation.get("parameters", []) if "name" in p]
                    if len(names) != len(set(names)):
                        print(f"{method.upper()} {path}: parameter names that collide in snake case: {names}")
                    for status, response in operation.get("responses", {}).items():
                        content = response.get("content", {})
                        if (set(content) & {"application/xml", "application/yaml"}) and "application/json" not in content:
                            print(f"{method.upper()} {path} {status}: XML or YAML without a JSON form")
            """#
        let output = try await onOwnThread { try run(python, ["-c", script, OpenAPIDocument.url.path]) }
        #expect(output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(output)")
    }

    static let python = ProcessInfo.processInfo.environment["VIRTHOST_TEST_PYTHON"]
}
