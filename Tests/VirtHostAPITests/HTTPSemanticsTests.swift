import Foundation
import HTTPServer
import Logging
import Testing
import TestSupport
import VirtHost
import VirtHostAPI

/// RFC 9110 on every route of the API: HEAD wherever GET is (same status and headers, no
/// body), OPTIONS everywhere (204 with Allow).
@Suite(.paced) struct HTTPSemanticsTests {
    static func concrete(_ pattern: String) -> String {
        pattern.replacingOccurrences(of: "{ref}", with: "test").replacingOccurrences(of: "{target}", with: "vda")
    }

    @Test func headAnswersEveryGetRouteAsGetWouldWithoutABody() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        let gets = api.api.router().routes.filter { $0.method == "GET" && $0.pattern != "/v1/events" }
        #expect(gets.count > 10)
        for route in gets {
            let path = Self.concrete(route.pattern)
            let port = api.port
            let (head, get) = try await onOwnThread {
                // One connection for both: a HEAD answer that sent a body would corrupt the GET.
                let connection = try HTTPTestConnection(port: port)
                try connection.sendRequest("HEAD", path)
                let head = try connection.readResponse()
                try connection.sendRequest("GET", path)
                return (head, try connection.readResponse())
            }
            #expect(head.status == get.status, "\(path)")
            #expect(head.body.isEmpty, "\(path)")
            #expect(head.headers["content-type"] == get.headers["content-type"], "\(path)")
        }
        await api.stop()
    }

    @Test func headOnTheEventStreamSubscribesNothing() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        let head = try await httpRequest(port: api.port, "HEAD", "/v1/events")
        #expect(head.status == 200)
        #expect(head.headers["content-type"] == "text/event-stream")
        #expect(head.body.isEmpty)
        #expect(await api.host.events.subscriberCount == 0)
        await api.stop()
    }

    @Test func optionsAnswersEveryRouteWithItsMethods() async throws {
        let api = try APITestServer(uri: try Fixtures.privateTestDriverURI())
        let routes = api.api.router().routes
        for pattern in Set(routes.map(\.pattern)) {
            let methods = Set(routes.filter { $0.pattern == pattern }.map(\.method))
            let response = try await httpRequest(port: api.port, "OPTIONS", Self.concrete(pattern))
            #expect(response.status == 204, "\(pattern)")
            let allowed = Set((response.headers["allow"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            #expect(methods.isSubset(of: allowed), "\(pattern): \(allowed)")
            #expect(allowed.contains("OPTIONS"))
            #expect(allowed.contains("HEAD") == methods.contains("GET"), "\(pattern)")
        }
        await api.stop()
    }
}
