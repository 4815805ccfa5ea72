import Foundation
import Testing
import TestSupport

/// `virthostd` as a process: flags, environment, the ready line and signals.
@Suite(.paced) struct ServiceProcessTests {
    @Test func startsServesAndStopsOnSIGTERM() async throws {
        let service = try await onOwnThread { try ServiceProcess(arguments: ["--listen", "127.0.0.1:0"]) }
        let host = try await httpRequest(port: service.port, "/v1/host")
        #expect(host.status == 200)
        #expect(try host.json()["uri"] as? String == "test:///default")
        #expect(service.log.contains { $0.contains("listening on http://127.0.0.1:\(service.port)") })
        let status = try await onOwnThread { service.stop(signal: SIGTERM) }
        #expect(status == 0)
        #expect(service.waitForLog("stopped", timeout: .seconds(5)))
    }

    /// An open event stream ends cleanly (the chunked body's last chunk) when the service stops.
    @Test func eventStreamsEndCleanlyOnSIGTERM() async throws {
        let service = try await onOwnThread { try ServiceProcess(arguments: ["--listen", "127.0.0.1:0"]) }
        let stream = try await onOwnThread { try SSEStreamClient(port: service.port, path: "/v1/events") }
        #expect(stream.head.status == 200)
        #expect(try await onOwnThread { try stream.next() }?.retry == 3000)
        let status = try await onOwnThread { service.stop(signal: SIGTERM) }
        #expect(status == 0)
        // The stream's end, not a cut connection: readChunk sees the last chunk.
        #expect(try await onOwnThread { try stream.next() } == nil)
    }

    @Test func stopsOnSIGINTToo() async throws {
        let service = try await onOwnThread { try ServiceProcess(arguments: ["--listen", "127.0.0.1:0"]) }
        #expect(try await httpRequest(port: service.port, "/healthz").status == 200)
        #expect(try await onOwnThread { service.stop(signal: SIGINT) } == 0)
    }

    /// libvirt writes to its socket without `MSG_NOSIGNAL`: when libvirtd dies mid-call, the
    /// service gets SIGPIPE, and must live through it (the fault test under ThreadSanitizer
    /// once lost the service this way). The signal is sent directly, since when libvirt
    /// writes into a dead socket depends on timing.
    @Test func survivesSIGPIPE() async throws {
        let service = try await onOwnThread { try ServiceProcess(arguments: ["--listen", "127.0.0.1:0"]) }
        kill(service.pid, SIGPIPE)
        try await Task.sleep(for: .milliseconds(200))
        #expect(service.exitStatus == nil, "SIGPIPE ended the service")
        #expect(try await httpRequest(port: service.port, "/healthz").status == 200)
        #expect(try await onOwnThread { service.stop() } == 0)
    }

    /// The service links FoundationEssentials only: full Foundation (with its ICU data and
    /// start-up class registration) cost 3 MiB of idle memory and half the binary's size.
    @Test func linksFoundationEssentialsOnly() async throws {
        let libraries = try await onOwnThread { try run("ldd", [ServiceProcess.executable.path]) }
        #expect(libraries.contains("libFoundationEssentials"))
        #expect(!libraries.contains("libFoundation.so"), "\(libraries)")
        #expect(!libraries.contains("libFoundationInternationalization"))
    }

    @Test func environmentVariablesConfigureItAndFlagsWin() async throws {
        let fromEnvironment = try await onOwnThread {
            try ServiceProcess(arguments: [], environment: ["VIRTHOST_LISTEN": "127.0.0.1:0", "VIRTHOST_LOG_LEVEL": "debug"])
        }
        _ = try await httpRequest(port: fromEnvironment.port, "/healthz")
        // Debug level logs each request.
        #expect(fromEnvironment.waitForLog("path=/healthz"))
        _ = try await onOwnThread { fromEnvironment.stop() }

        let flagWins = try await onOwnThread {
            try ServiceProcess(arguments: ["--uri", "test:///default", "--listen", "127.0.0.1:0"],
                               environment: ["VIRTHOST_URI": "nosuchdriver:///x"])
        }
        let host = try await httpRequest(port: flagWins.port, "/v1/host")
        #expect(try host.json()["uri"] as? String == "test:///default")
        _ = try await onOwnThread { flagWins.stop() }
    }

    @Test func badFlagsStopTheStartWithAMessage() async throws {
        let cases: [([String], [String: String])] = [
            (["--listen", "nonsense"], [:]), (["--log-level", "loud"], [:]), (["--connection-limit", "0"], [:]),
            ([], ["VIRTHOST_CONNECTION_TIMEOUT": "soon"]),
        ]
        for (arguments, environment) in cases {
            let (status, errors) = try await onOwnThread { () -> (Int32, String) in
                let process = try ChildProcess(ServiceProcess.executable.path, arguments,
                                               environment: ProcessInfo.processInfo.environment.merging(environment) { $1 },
                                               stderr: .pipe)
                let errors = process.readAll()
                return (process.waitForExit(timeout: .seconds(10)) ?? 0, errors)
            }
            #expect(status != 0, "\(arguments) \(environment) started")
            #expect(errors.contains("Error"), "\(arguments) \(environment): \(errors)")
        }
    }

    @Test func startsEvenWhenLibvirtIsUnreachableAndSaysNotReady() async throws {
        let service = try await onOwnThread {
            try ServiceProcess(arguments: ["--uri", "qemu+unix:///system?socket=/nonexistent/sock", "--listen", "127.0.0.1:0"])
        }
        #expect(try await httpRequest(port: service.port, "/healthz").status == 200)
        #expect(try await httpRequest(port: service.port, "/readyz").status == 503)
        #expect(try await onOwnThread { service.stop() } == 0)
    }
}
