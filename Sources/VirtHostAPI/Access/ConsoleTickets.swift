import FoundationEssentials
import HTTPServer
import Locking

/// One-time tickets that open one console of one domain (`POST /v1/domains/{ref}/console-tickets`):
/// a browser cannot put a bearer token on a WebSocket, so a caller with `write` trades its
/// token for a ticket it may put in the URL (`?ticket=`).
///
/// A ticket is 256 random bits from the system's CSPRNG; only its SHA-256 is kept, so the
/// store gives away no ticket. It is bound to the domain's UUID, the console's kind and the
/// name of the token that asked for it, opens at most one console (any use spends it, even a
/// refused one), and expires after ``Configuration/timeToLive``.
public final class ConsoleTickets: Sendable {
    public struct Configuration: Sendable {
        public var timeToLive: Duration
        /// The monotonic time expiry is measured in; tests give a clock they advance by hand.
        public var now: @Sendable () -> ContinuousClock.Instant

        public init(timeToLive: Duration = .seconds(30), now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
            self.timeToLive = timeToLive
            self.now = now
        }
    }

    /// What a ticket opens, and for whom.
    public struct Grant: Sendable, Equatable {
        public let domainUUID: String
        public let kind: String
        /// The token's name (nil when the service runs without tokens).
        public let principal: String?
    }

    public struct Issued: Sendable {
        public let ticket: String
        public let expiresAt: Date
    }

    /// Why a ticket opens nothing.
    public enum Refusal: Error, Sendable, Equatable {
        case unknown
        case expired
        case wrongKind(String)
        case wrongDomain
    }

    private struct Entry {
        let grant: Grant
        let expires: ContinuousClock.Instant
    }

    public let configuration: Configuration
    /// By the ticket's SHA-256. A dictionary lookup's timing depends on the digest only, which
    /// a caller cannot steer towards a stored one without knowing a ticket.
    private let entries = Mutex<[[UInt8]: Entry]>([:])

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Tickets not yet spent nor swept (expired ones go at the next issue).
    public var count: Int { entries.withLock { $0.count } }

    public func issue(_ grant: Grant) -> Issued {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let ticket = Self.hex(bytes)
        let now = configuration.now()
        entries.withLock { entries in
            entries = entries.filter { $0.value.expires > now }
            entries[SHA256.digest(ticket.utf8)] = Entry(grant: grant, expires: now + configuration.timeToLive)
        }
        let seconds = configuration.timeToLive.components.seconds
        return Issued(ticket: ticket, expiresAt: Date.now.addingTimeInterval(TimeInterval(seconds)))
    }

    /// Spends `ticket` and returns what it grants if it opens a console of `kind`; the caller
    /// then checks that the domain asked for is the grant's (``Refusal/wrongDomain``
    /// otherwise), after the ticket is spent, so an unauthenticated caller learns nothing of
    /// which domains exist.
    public func redeem(_ ticket: String, kind: String) -> Result<Grant, Refusal> {
        let now = configuration.now()
        guard let entry = entries.withLock({ $0.removeValue(forKey: SHA256.digest(ticket.utf8)) }) else {
            return .failure(.unknown)
        }
        guard entry.expires > now else { return .failure(.expired) }
        guard entry.grant.kind == kind else { return .failure(.wrongKind(entry.grant.kind)) }
        return .success(entry.grant)
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// The 401 a refused ticket gets.
    public static func problem(_ refusal: Refusal) -> Problem {
        let detail = switch refusal {
        case .unknown: "the console ticket is not known: it was already used, or never issued"
        case .expired: "the console ticket expired"
        case .wrongKind(let kind): "the console ticket opens a \(kind) console, not this one"
        case .wrongDomain: "the console ticket opens a console of another domain"
        }
        return Problem(type: Problem.type(Authenticator.Problems.unauthorized), title: "Unauthorized", status: 401,
                       detail: detail, headers: [("WWW-Authenticate", "Bearer realm=\"virthost\", error=\"invalid_token\"")])
    }
}
