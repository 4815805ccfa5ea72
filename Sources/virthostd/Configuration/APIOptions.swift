import ArgumentParser
import VirtHost

/// The API's event streams, idempotency window, operations, consoles, guest agent calls and migrations.
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

    @Option(help: "Seconds libvirt waits for a guest agent's answer before the call is a 504. Env: VIRTHOST_AGENT_TIMEOUT.")
    var agentTimeout: Int = Environment.value("VIRTHOST_AGENT_TIMEOUT", default: 5)

    @Option(help: "Seconds after which a guest file-system freeze nobody thawed is thawed. Env: VIRTHOST_FS_FREEZE_MAX_SECONDS.")
    var fsFreezeMaxSeconds: Int = Environment.value("VIRTHOST_FS_FREEZE_MAX_SECONDS", default: 60)

    @Option(name: .customLong("migration-destination"), parsing: .singleValue,
            help: "A libvirt URI prefix migrations may go to (repeatable; none given: any). Env: VIRTHOST_MIGRATION_DESTINATIONS, space-separated.")
    var migrationDestinations: [String] = Environment.list("VIRTHOST_MIGRATION_DESTINATIONS", separator: " ")

    @Option(help: "Seconds a migration check waits for the destination's libvirt. Env: VIRTHOST_MIGRATION_CHECK_TIMEOUT.")
    var migrationCheckTimeout: Int = Environment.value("VIRTHOST_MIGRATION_CHECK_TIMEOUT", default: 20)

    var migrationConfiguration: Migrations.Configuration {
        Migrations.Configuration(allowedDestinations: migrationDestinations, checkTimeout: .seconds(migrationCheckTimeout))
    }

    var agentConfiguration: GuestAgent.Configuration {
        GuestAgent.Configuration(responseTimeout: .seconds(agentTimeout), freezeMaximum: .seconds(fsFreezeMaxSeconds))
    }

    func validate() throws {
        try Require.atLeast(1, agentTimeout, "--agent-timeout", "VIRTHOST_AGENT_TIMEOUT")
        try Require.atLeast(1, fsFreezeMaxSeconds, "--fs-freeze-max-seconds", "VIRTHOST_FS_FREEZE_MAX_SECONDS")
        try Require.atLeast(1, sseHeartbeat, "--sse-heartbeat", "VIRTHOST_SSE_HEARTBEAT")
        try Require.atLeast(1, idempotencyTtl, "--idempotency-ttl", "VIRTHOST_IDEMPOTENCY_TTL")
        try Require.atLeast(1, operationRetention, "--operation-retention", "VIRTHOST_OPERATION_RETENTION")
        try Require.atLeast(1, consoleTicketTtl, "--console-ticket-ttl", "VIRTHOST_CONSOLE_TICKET_TTL")
        try Require.atLeast(1, migrationCheckTimeout, "--migration-check-timeout", "VIRTHOST_MIGRATION_CHECK_TIMEOUT")
        for prefix in migrationDestinations where prefix.isEmpty || prefix.contains(where: \.isWhitespace) {
            throw ValidationError("--migration-destination must be a URI prefix without spaces, got \"\(prefix)\"")
        }
        try Require.atLeast(0, consoleIdleTimeout, "--console-idle-timeout", "VIRTHOST_CONSOLE_IDLE_TIMEOUT")
    }
}
