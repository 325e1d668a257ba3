import Testing

@testable import TrellisStore

/// The listener's reconnection waits (no database needed): doubling from the first retry, capped, jittered down
/// by at most half.
@Suite("PostgreSQL change listener")
struct PostgresChangeListenerTests {
    static let listener = PostgresChangeListener(
        settings: PostgresSettings(host: "127.0.0.1", port: 5432, user: "trellis", password: nil, database: "trellis", tls: .disable, caFile: nil),
        logger: .init(label: "test"))

    @Test("waits double from 100 ms per failure in a row, never past the 5 s cap, jittered within [half, whole]")
    func backoff() {
        for (failures, whole) in [(1, 100), (2, 200), (3, 400), (6, 3_200), (7, 5_000), (40, 5_000), (1_000, 5_000)] {
            for _ in 0..<50 {
                let wait = Self.listener.wait(afterFailures: failures)
                #expect(wait >= .milliseconds(whole) / 2 && wait <= .milliseconds(whole), "after \(failures) failures: \(wait)")
            }
        }
    }
}
