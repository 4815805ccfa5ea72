import Foundation
import Testing
import TestSupport

/// Every setting's bad value stops the start with a message naming it: the flag, or the
/// environment variable it came from.
@Suite(.paced) struct ServiceConfigurationTests {
    func start(_ arguments: [String], _ environment: [String: String]) async throws -> (status: Int32, errors: String) {
        try await onOwnThread { () -> (Int32, String) in
            let process = try ChildProcess(ServiceProcess.executable.path, arguments + ["--listen", "127.0.0.1:0"],
                                           environment: ProcessInfo.processInfo.environment.merging(environment) { $1 },
                                           stderr: .pipe)
            let errors = process.readAll()
            return (process.waitForExit(timeout: .seconds(10)) ?? 0, errors)
        }
    }

    @Test(arguments: [
        ("VIRTHOST_READ_ONLY", "maybe"), ("VIRTHOST_INSECURE_NO_AUTH", "sure"), ("VIRTHOST_EVENT_BUFFER", "many"),
        ("VIRTHOST_EVENT_QUEUE", "1k"), ("VIRTHOST_SSE_HEARTBEAT", "15s"), ("VIRTHOST_HTTP_THREADS", "two"),
        ("VIRTHOST_IDEMPOTENCY_TTL", "1d"), ("VIRTHOST_RECONNECT_MAX_DELAY_MS", "1.5"), ("VIRTHOST_EVENT_BUFFER", "0"),
        ("VIRTHOST_MAX_HEADER_SIZE", "100"), ("VIRTHOST_LOG_LEVEL", "loud"), ("VIRTHOST_INSTANCES_PATH", "relative/dir"),
    ])
    func aBadEnvironmentValueIsRefusedByName(variable: String, value: String) async throws {
        let (status, errors) = try await start([], [variable: value])
        #expect(status != 0, "\(variable)=\(value) started")
        #expect(errors.contains(variable), "\(variable)=\(value): \(errors)")
    }

    @Test(arguments: [
        ["--event-queue", "0"], ["--max-header-size", "512"], ["--reconnect-max-delay-ms", "10"],
        ["--idempotency-ttl", "0"], ["--stop-event-delay", "-1"],
    ])
    func aBadFlagIsRefusedByName(arguments: [String]) async throws {
        let (status, errors) = try await start(arguments, [:])
        #expect(status != 0, "\(arguments) started")
        #expect(errors.contains(arguments[0]), "\(arguments): \(errors)")
    }

    /// The booleans read what they say, in each spelling.
    @Test(arguments: ["1", "true", "YES", "on"])
    func aTrueEnvironmentValueTurnsReadOnlyOn(value: String) async throws {
        let service = try await onOwnThread {
            try ServiceProcess(arguments: ["--listen", "127.0.0.1:0"], environment: ["VIRTHOST_READ_ONLY": value])
        }
        // A read-only connection refuses to define a guest.
        let response = try await httpRequest(port: service.port, "POST", "/v1/guests",
                                             body: Array(#"{"spec":{"name":"ro","memory_mb":64,"virt_type":"test"}}"#.utf8))
        #expect(response.status >= 400 && response.status != 422, "\(response.status) \(response.text)")
        _ = try await onOwnThread { service.stop() }
    }
}
