#if canImport(Glibc)
import Glibc
#endif

/// How much slower the suites run under a sanitizer (`scripts/sanitize.sh` sets
/// `VIRTHOST_TEST_SANITIZER`): timeouts and bounds that guard against a hang, not measure speed,
/// scale by it, so that a sanitizer's slowdown on a loaded two-core machine is not taken for a
/// hang. Speed is measured in `scripts/bench.sh`, never here.
public enum TestTiming {
    public static let slowdown: Double = getenv("VIRTHOST_TEST_SANITIZER") == nil ? 1 : 4

    public static func scaled(_ duration: Duration) -> Duration { duration * slowdown }
}
