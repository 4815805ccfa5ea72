import HTTPServer

/// `GET /openapi.yaml`: the OpenAPI document, compiled into the binary from
/// `openapi/openapi.yaml` so the service always serves the contract it was built with.
struct OpenAPIRoutes {
    static let document: [UInt8] = PackageResources.openapi_yaml

    /// `?format=json`: the document wrapped as `{"yaml": "…"}`, for generated clients that
    /// read only JSON.
    struct WrappedYAML: Encodable {
        let yaml: String
    }

    enum Format: String, CaseIterable { case yaml, json }

    func register(in router: inout Router) {
        router.get("/openapi.yaml") { request in
            switch try request.choice("format", default: Format.yaml) {
            case .yaml: Response(contentType: "application/yaml", body: OpenAPIRoutes.document)
            case .json: .json(WrappedYAML(yaml: String(decoding: OpenAPIRoutes.document, as: UTF8.self)))
            }
        }
    }
}
