import HTTPServer
import Logging
import Testing
import VirtHost
import VirtHostAPI

/// The router and `openapi/openapi.yaml` name the same operations, so neither can drift.
@Suite struct ContractDriftTests {
    @Test func everyRouteIsDocumentedAndEveryDocumentedOperationIsRouted() throws {
        let host = VirtHost.Host(configuration: .init(uri: "test:///default"), logger: Logger(label: "test"))
        let routes = Set(API(host: host, logger: Logger(label: "test")).router().routes.map { "\($0.method) \($0.pattern)" })
        let documented = try OpenAPIDocument.operations()
        #expect(!routes.isEmpty)
        #expect(routes.subtracting(documented).sorted() == [], "routes the document lacks")
        #expect(documented.subtracting(routes).sorted() == [], "documented operations the server lacks")
    }
}
