import Foundation

/// A regular expression that a tenant writes (a router's `match`, an evaluation's `regex` scorer) and the gateway
/// runs over text a caller sends. ICU's engine backtracks, so a pattern such as `(a+)+$` can take exponential time
/// on a crafted input; every search therefore runs under a time budget (ICU reports progress while it works, and the
/// search stops when the budget is spent), and a search that ran out counts as no match, reported as such.
public struct SafePattern: Sendable {
    /// What a search found.
    public enum Outcome: Sendable, Equatable {
        case matched
        case noMatch
        /// The budget ran out before the engine decided: treated as no match.
        case timedOut
    }

    public static let maxPatternBytes = 512

    public let pattern: String
    /// `NSRegularExpression` is immutable once made and safe to match from several threads at once; Foundation declares
    /// it `Sendable`.
    private let regex: NSRegularExpression
    public let budget: Duration

    /// Compiles `pattern` or throws a 400 naming `path`.
    public init(_ pattern: String, path: String, budget: Duration = .milliseconds(20)) throws(TrellisError) {
        guard !pattern.isEmpty, pattern.utf8.count <= Self.maxPatternBytes else {
            throw .invalidField(path, "must be a regular expression of 1 to \(Self.maxPatternBytes) bytes")
        }
        do {
            regex = try NSRegularExpression(pattern: pattern)
        } catch {
            throw .invalidField(path, "is not a valid regular expression")
        }
        self.pattern = pattern
        self.budget = budget
    }

    /// Whether `text` contains a match, decided within the budget.
    public func search(_ text: String) -> Outcome {
        search(text, until: ContinuousClock.now + budget)
    }

    /// Whether `text` contains a match, decided by `deadline` (or the budget, whichever comes first).
    public func search(_ text: String, until deadline: ContinuousClock.Instant) -> Outcome {
        let clock = ContinuousClock()
        let deadline = min(deadline, clock.now + budget)
        var found = false
        var ranOut = false
        regex.enumerateMatches(in: text, options: [.reportProgress], range: NSRange(location: 0, length: text.utf16.count)) { match, _, stop in
            if match != nil {
                found = true
                stop.pointee = true
            } else if clock.now >= deadline {
                ranOut = true
                stop.pointee = true
            }
        }
        if found { return .matched }
        return ranOut ? .timedOut : .noMatch
    }

    public func matches(_ text: String) -> Bool { search(text) == .matched }
}

extension SafePattern: Equatable {
    public static func == (a: SafePattern, b: SafePattern) -> Bool { a.pattern == b.pattern && a.budget == b.budget }
}
