import ArgumentParser

/// The API's event streams, idempotency window and console tickets' lifetime.
struct APIOptions: ParsableArguments {
    @Option(help: "Seconds between heartbeat comments on a quiet event stream. Env: VIRTHOST_SSE_HEARTBEAT.")
    var sseHeartbeat: Int = Environment.value("VIRTHOST_SSE_HEARTBEAT", default: 15)

    @Option(help: "Seconds an Idempotency-Key's answer is kept. Env: VIRTHOST_IDEMPOTENCY_TTL.")
    var idempotencyTtl: Int = Environment.value("VIRTHOST_IDEMPOTENCY_TTL", default: 86_400)

    @Option(help: "Seconds a finished operation stays listed (at most 1,000 are kept). Env: VIRTHOST_OPERATION_RETENTION.")
    var operationRetention: Int = Environment.value("VIRTHOST_OPERATION_RETENTION", default: 3600)
    @Option(help: "Seconds a console ticket may wait for its use. Env: VIRTHOST_CONSOLE_TICKET_TTL.")
    var consoleTicketTtl: Int = Environment.value("VIRTHOST_CONSOLE_TICKET_TTL", default: 30)

    @Option(help: "Seconds a console's WebSocket may carry nothing either way before it is closed with 1001 (0 = never). Env: VIRTHOST_CONSOLE_IDLE_TIMEOUT.")
    var consoleIdleTimeout: Int = Environment.value("VIRTHOST_CONSOLE_IDLE_TIMEOUT", default: 900)

    func validate() throws {
        try Require.atLeast(1, sseHeartbeat, "--sse-heartbeat", "VIRTHOST_SSE_HEARTBEAT")
        try Require.atLeast(1, idempotencyTtl, "--idempotency-ttl", "VIRTHOST_IDEMPOTENCY_TTL")
        try Require.atLeast(1, operationRetention, "--operation-retention", "VIRTHOST_OPERATION_RETENTION")
        try Require.atLeast(1, consoleTicketTtl, "--console-ticket-ttl", "VIRTHOST_CONSOLE_TICKET_TTL")
        try Require.atLeast(0, consoleIdleTimeout, "--console-idle-timeout", "VIRTHOST_CONSOLE_IDLE_TIMEOUT")
    }
}
