import ArgumentParser
import VirtHost

/// The Host: its libvirt connection, where guests' disks live, and its event stream.
struct HostOptions: ParsableArguments {
    @Option(help: "libvirt connection URI. Env: VIRTHOST_URI.")
    var uri: String = Environment.value("VIRTHOST_URI", default: "test:///default")

    @Flag(inversion: .prefixedNo, help: "Open a read-only libvirt connection. Env: VIRTHOST_READ_ONLY (1/0, true/false, yes/no, on/off).")
    var readOnly: Bool = Environment.value("VIRTHOST_READ_ONLY", default: false)

    @Option(help: "Where guests' disk images live; its free space is reported. Env: VIRTHOST_INSTANCES_PATH.")
    var instancesPath: String = Environment.value("VIRTHOST_INSTANCES_PATH", default: "/var/lib/libvirt/images")

    @Option(help: "The storage pool guests' root and ephemeral volumes are made in; created as a dir pool on the instances path the first time it is needed, when missing. Env: VIRTHOST_INSTANCES_POOL.")
    var instancesPool: String = Environment.value("VIRTHOST_INSTANCES_POOL", default: "default")

    @Option(name: .customLong("allowed-disk-root"), parsing: .singleValue,
            help: "A directory guests' disks may live in (repeatable; default: the instances path). Env: VIRTHOST_ALLOWED_DISK_ROOTS (colon-separated).")
    var allowedDiskRoots: [String] = Environment.list("VIRTHOST_ALLOWED_DISK_ROOTS", separator: ":")

    @Option(help: "Milliseconds a host-metrics sample may be reused (0 = every request sweeps libvirt). Env: VIRTHOST_METRICS_MAX_AGE_MS.")
    var metricsMaxAgeMs: Int = Environment.value("VIRTHOST_METRICS_MAX_AGE_MS", default: 1000)

    @Option(help: "Longest wait in milliseconds between attempts to reach a lost libvirt (the wait doubles from 250 ms up to this). Env: VIRTHOST_RECONNECT_MAX_DELAY_MS.")
    var reconnectMaxDelayMs: Int = Environment.value("VIRTHOST_RECONNECT_MAX_DELAY_MS", default: 1000)

    @Option(help: "Events kept for replay with Last-Event-ID. Env: VIRTHOST_EVENT_BUFFER.")
    var eventBuffer: Int = Environment.value("VIRTHOST_EVENT_BUFFER", default: 1024)

    @Option(help: "Events queued per event-stream client before its oldest are dropped. Env: VIRTHOST_EVENT_QUEUE.")
    var eventQueue: Int = Environment.value("VIRTHOST_EVENT_QUEUE", default: 1024)

    @Option(help: "Seconds a stopped event is held for ?coalesce=true clients, dropped if the domain starts again (0 = off). Env: VIRTHOST_STOP_EVENT_DELAY.")
    var stopEventDelay: Int = Environment.value("VIRTHOST_STOP_EVENT_DELAY", default: 0)

    @Option(help: "Directory of guests' serial-console logs: each guest created gets <log file='DIR/NAME-serial0.log' append='on'/> on its serial port, read by GET /v1/domains/{ref}/console/log. Env: VIRTHOST_CONSOLE_LOG_DIR.")
    var consoleLogDir: String = Environment.value("VIRTHOST_CONSOLE_LOG_DIR", default: "/var/log/libvirt/qemu")

    @Option(help: "The program that writes first-boot disks' ISO 9660 images (genisoimage's options), run without a shell. Env: VIRTHOST_ISO_TOOL.")
    var isoTool: String = Environment.value("VIRTHOST_ISO_TOOL", default: "genisoimage")

    @Option(help: "Seconds the ISO tool may run before it is killed and the guest's creation fails. Env: VIRTHOST_ISO_TIMEOUT.")
    var isoTimeout: Int = Environment.value("VIRTHOST_ISO_TIMEOUT", default: 30)

    func validate() throws {
        guard consoleLogDir.hasPrefix("/") else {
            throw ValidationError("--console-log-dir (VIRTHOST_CONSOLE_LOG_DIR) must be absolute, got \(consoleLogDir)")
        }
        for root in allowedDiskRoots + [instancesPath] where !root.hasPrefix("/") {
            throw ValidationError("disk roots and the instances path must be absolute (--allowed-disk-root, VIRTHOST_ALLOWED_DISK_ROOTS, --instances-path, VIRTHOST_INSTANCES_PATH), got \(root)")
        }
        // The pool's name becomes a libvirt object name and, when it is made, a file name.
        if instancesPool.isEmpty || instancesPool.hasPrefix(".") || instancesPool.utf8.count > 255
            || !instancesPool.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._+-".contains($0)) }) {
            throw ValidationError("--instances-pool (VIRTHOST_INSTANCES_POOL) must be letters, digits, '.', '_', '+' and '-', not starting with '.', got \(instancesPool)")
        }
        try Require.atLeast(0, metricsMaxAgeMs, "--metrics-max-age-ms", "VIRTHOST_METRICS_MAX_AGE_MS")
        try Require.atLeast(250, reconnectMaxDelayMs, "--reconnect-max-delay-ms", "VIRTHOST_RECONNECT_MAX_DELAY_MS")
        try Require.atLeast(1, eventBuffer, "--event-buffer", "VIRTHOST_EVENT_BUFFER")
        try Require.atLeast(1, eventQueue, "--event-queue", "VIRTHOST_EVENT_QUEUE")
        try Require.atLeast(0, stopEventDelay, "--stop-event-delay", "VIRTHOST_STOP_EVENT_DELAY")
        try Require.atLeast(1, isoTimeout, "--iso-timeout", "VIRTHOST_ISO_TIMEOUT")
    }

    var configuration: Host.Configuration {
        var configuration = Host.Configuration(uri: uri, readOnly: readOnly, instancesPath: instancesPath, allowedDiskRoots: allowedDiskRoots,
                           events: .init(bufferSize: eventBuffer, subscriberQueueSize: eventQueue,
                                         stopEventDelay: .seconds(stopEventDelay)),
                           metricsMaxAge: .milliseconds(metricsMaxAgeMs),
                           maximumRetryDelay: .milliseconds(reconnectMaxDelayMs))
        configuration.instancesPool = instancesPool
        configuration.consoleLogDirectory = consoleLogDir
        var isoImage = ISOImage.Configuration(tool: isoTool, timeout: .seconds(isoTimeout))
        if let path = Environment.string("PATH") { isoImage.searchPath = path }
        configuration.isoImage = isoImage
        return configuration
    }
}
