import ArgumentParser
import Foundation
import Logging
import Synchronization
import TrellisServer
import TrellisStore

struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store", abstract: "Work on a deployment's store as a whole.", subcommands: [Copy.self])

    struct Copy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy a whole deployment to another store (SQLite to PostgreSQL and back).",
            discussion: """
                Both stores are named by URL, as store.url: sqlite:///abs/path/trellis.sqlite or \
                postgres://user:password@host:5432/database?sslmode=require. The target's schema is created if \
                needed (a PostgreSQL database must exist already); it must hold no data. Tables move in batches, each batch one transaction on the target, \
                with a progress line per table; at the end the row counts of every table are compared (exit status \
                1 on any difference, 2 when the copy is refused). Keys keep working: only their digests are stored. \
                Stop the gateways using the source first, so that nothing is written while it is copied.
                """)

        @Option(name: .long, help: "The store to copy from (a store URL).") var from: String
        @Option(name: .long, help: "The store to copy into (a store URL; it must hold no data).") var to: String
        @Option(name: .long, help: "Environment variable holding the source database's password (instead of the URL's).")
        var fromPasswordEnv: String?
        @Option(name: .long, help: "Environment variable holding the target database's password (instead of the URL's).")
        var toPasswordEnv: String?
        @Option(name: .long, help: "Rows per batch (one transaction on the target each).") var batchSize = 2000

        func validate() throws {
            guard (1...50_000).contains(batchSize) else { throw ValidationError("--batch-size must be between 1 and 50000") }
        }

        func run() async throws {
            let source = try location(from, setting: "--from", passwordEnv: fromPasswordEnv)
            let target = try location(to, setting: "--to", passwordEnv: toPasswordEnv)
            print("copying \(describe(source)) to \(describe(target))")
            let printer = ProgressPrinter(batchSize: batchSize)
            let report: StoreCopy.Report
            do {
                report = try await StoreCopy.copy(from: source, to: target, batchSize: batchSize, progress: { printer.report($0) })
            } catch let refusal as StoreCopy.Refusal {
                throw refused(refusal)
            } catch {
                printRefusal("store copy failed: \(StoreFailure.describe(error))")
                throw ExitCode(1)
            }
            print("row counts (source, target):")
            for count in report.counts {
                print("  \(count.table): \(count.source) \(count.matches ? "=" : "≠") \(count.target)")
            }
            if report.matches {
                print("copy complete: \(report.counts.count) tables, every row count matches")
            } else {
                let differing = report.counts.filter { !$0.matches }.map(\.table).joined(separator: ", ")
                printRefusal("the row counts differ in \(differing)")
                throw ExitCode(1)
            }
        }

        func location(_ url: String, setting: String, passwordEnv: String?) throws -> StoreLocation {
            var password: String?
            if let passwordEnv {
                guard let value = ProcessInfo.processInfo.environment[passwordEnv], !value.isEmpty else {
                    throw refused("\(setting): the environment variable \(passwordEnv) is not set")
                }
                password = value
            }
            do {
                return try StoreLocation.parse(url, setting: setting, password: password)
            } catch {
                throw refused(error)
            }
        }

        func describe(_ location: StoreLocation) -> String {
            switch location {
            case .sqlite(let path): "sqlite://\(path)"
            case .postgres(let settings): settings.description
            }
        }
    }
}

/// Prints a table's progress about ten times while it moves, and once when it is done.
private final class ProgressPrinter: Sendable {
    private let batchSize: Int
    private let printed = Mutex<Int>(0)

    init(batchSize: Int) { self.batchSize = batchSize }

    func report(_ progress: StoreCopy.Progress) {
        let line = printed.withLock { last -> Bool in
            if progress.done {
                defer { last = 0 }
                return progress.copied == 0 || progress.copied != last
            }
            guard progress.copied >= last + max(batchSize, progress.total / 10) else { return false }
            last = progress.copied
            return true
        }
        if line { print("\(progress.table): \(progress.copied)/\(progress.total) rows") }
    }
}
