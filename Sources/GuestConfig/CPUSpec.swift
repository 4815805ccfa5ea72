/// The guest CPU: how it relates to the host's, and its topology.
public struct CPUSpec: Sendable, Hashable {
    public static let modes = ["host-model", "host-passthrough", "custom"]
    public static let policies = ["force", "require", "optional", "disable", "forbid"]

    public struct Feature: Sendable, Hashable {
        public var name: String
        public var policy: String

        public init(name: String, policy: String = "require") {
            self.name = name
            self.policy = policy
        }
    }

    public struct Topology: Sendable, Hashable {
        public var sockets: Int
        public var cores: Int
        public var threads: Int

        public init(sockets: Int, cores: Int, threads: Int) {
            self.sockets = sockets
            self.cores = cores
            self.threads = threads
        }
    }

    /// `host-model` by default.
    public var mode: String?
    /// For `custom`: a named model such as `Skylake-Server`.
    public var model: String?
    public var vendor: String?
    public var features: [Feature]
    /// When nil, derived from the vCPU count: all sockets, one core, one thread (Nova's way).
    public var topology: Topology?

    public init(mode: String? = nil, model: String? = nil, vendor: String? = nil, features: [Feature] = [],
                topology: Topology? = nil) {
        self.mode = mode
        self.model = model
        self.vendor = vendor
        self.features = features
        self.topology = topology
    }

    init(reader: ObjectReader) {
        mode = reader.choice("mode", Self.modes)
        model = reader.string("model")
        vendor = reader.string("vendor")
        features = reader.objects("features") { feature in
            Feature(name: feature.string("name") ?? "", policy: feature.choice("policy", Self.policies) ?? "require")
        }
        topology = reader.object("topology").map { topology in
            defer { topology.finish() }
            return Topology(sockets: topology.int("sockets", in: GuestSpec.vcpusRange) ?? 1, cores: topology.int("cores", in: GuestSpec.vcpusRange) ?? 1,
                            threads: topology.int("threads", in: GuestSpec.vcpusRange) ?? 1)
        }
        reader.finish()
    }
}
