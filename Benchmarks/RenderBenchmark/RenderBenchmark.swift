import Foundation
import GuestConfig

/// In-process guest rendering on one core: parse, validate (no host) and render a spec,
/// repeatedly; prints renders per second of the thread's CPU time (what one core does,
/// whatever else the machine runs) and of wall-clock time.
///   render-benchmark SPEC.json [SECONDS]
@main
enum RenderBenchmark {
    static func main() throws {
        let arguments = CommandLine.arguments
        guard arguments.count >= 2 else {
            FileHandle.standardError.write(Data("usage: render-benchmark SPEC.json [SECONDS]\n".utf8))
            exit(2)
        }
        let json = try Data(contentsOf: URL(fileURLWithPath: arguments[1]))
        let seconds = arguments.count > 2 ? Double(arguments[2]) ?? 3 : 3
        let policy = ValidationPolicy(allowedDiskRoots: ["/var/lib/libvirt/images", "/dev/disk"], resolve: { $0 })
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(Int(seconds * 1000))
        var renders = 0
        var bytes = 0
        let started = clock.now
        let startedCPU = threadCPUSeconds()
        while clock.now < deadline {
            for _ in 0..<100 {
                let spec = try GuestSpec.parse(json: json)
                bytes &+= GuestXML.xml(try GuestDefinition(spec, policy: policy)).utf8.count
            }
            renders += 100
        }
        let cpu = threadCPUSeconds() - startedCPU
        let elapsed = clock.now - started
        let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("renders_per_second \(Int(Double(renders) / cpu)) renders \(renders) bytes \(bytes)"
              + " wall_renders_per_second \(Int(Double(renders) / wall))")
    }

    static func threadCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
