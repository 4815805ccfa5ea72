import Libvirt

/// Jobs libvirt runs on domains that this run of the service did not start: after a restart
/// the registry is empty, yet a save or a migration the last run started may still be going.
extension Operations {
    /// An adopted job ended and libvirt kept no record of how.
    public struct UnknownOutcome: Error, CustomStringConvertible {
        public var domain: String
        public var description: String { "the job on domain \(domain) ended; libvirt kept no record of how" }
    }

    /// A job libvirt says failed.
    public struct LibvirtJobFailed: Error, CustomStringConvertible {
        public var domain: String
        public var description: String { "the job on domain \(domain) failed" }
    }

    /// Asks every running domain for its job (`virDomainGetJobInfo`) and registers each one
    /// found as a running operation of kind `unknown-job`, followed until libvirt reports it
    /// gone; its cancel is `virDomainAbortJob`. The service calls it once at start.
    @discardableResult
    public func adoptRunningJobs() async throws -> [Operation] {
        let found = try await host.withConnection { connection -> [(name: String, uuid: String, job: DomainJobInfo)] in
            try connection.listAllDomains(.active).compactMap { domain in
                guard let job = try? domain.jobInfo(), job.isActive else { return nil }
                return (try domain.name(), try domain.uuid(), job)
            }
        }
        let known = Set(list(state: .running).compactMap { $0.domain?.uuid })
        return found.filter { !known.contains($0.uuid) }.map { domain in
            adopt(name: domain.name, uuid: domain.uuid, job: domain.job)
        }
    }

    private func adopt(name: String, uuid: String, job: DomainJobInfo) -> Operation {
        let host = host, interval = configuration.progressInterval
        @Sendable func current() async -> DomainJobInfo? {
            try? await host.withConnection { try $0.lookupDomain(uuid: uuid).jobInfo() }
        }
        return start(kind: "unknown-job", target: .domain(name: name, uuid: uuid), progress: Self.progress(job),
                     sample: { await current().map(Self.progress) },
                     onCancel: { _ = try? await host.withConnection { try $0.lookupDomain(uuid: uuid).abortJob() } }) { _ in
            // Followed from outside: the job belongs to libvirt, not to this task.
            while let job = await current(), job.isActive {
                try? await Task.sleep(for: interval)
            }
            let outcome = try? await host.withConnection { try $0.lookupDomain(uuid: uuid).completedJobKind() }
            switch outcome {
            case .completed?: return nil
            case .cancelled?: throw OperationError.cancelled
            case .failed?: throw LibvirtJobFailed(domain: name)
            default: throw UnknownOutcome(domain: name)
            }
        }
    }

    static func progress(_ job: DomainJobInfo) -> Operation.Progress {
        let known = job.dataTotal > 0
        return Operation.Progress(processedBytes: known ? job.dataProcessed : nil, totalBytes: known ? job.dataTotal : nil,
                                  remainingBytes: known ? job.dataRemaining : nil, phase: nil)
    }
}
