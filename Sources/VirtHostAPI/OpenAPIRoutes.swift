import HTTPServer

/// `GET /openapi.yaml`: the OpenAPI document, compiled into the binary from
/// `openapi/openapi.yaml` so the service always serves the contract it was built with.
struct OpenAPIRoutes {
    static let document: [UInt8] = PackageResources.openapi_yaml

    func register(in router: inout Router) {
        router.get("/openapi.yaml") { _ in
            Response(contentType: "application/yaml", body: OpenAPIRoutes.document)
        }
    }
}
