import ArgumentParser
import Foundation
import Logging
import TrellisServer

@main
struct Trellis: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trellis",
        abstract: "A self-hosted, OpenAI-compatible gateway for industry models.",
        version: TrellisVersion.string,
        subcommands: [
            Serve.self, Migrate.self, Backup.self, Restore.self, Catalog.self, Health.self, Tenants.self, Keys.self, Upstreams.self, Models.self, Prompts.self,
            Adapters.self,
            KnowledgeBases.self, Eval.self, Usage.self, Export.self, StoreCommand.self,
        ]
    )
}

/// Options shared by the commands that read the deployment configuration.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "YAML configuration file (default: $TRELLIS_CONFIG, else built-in defaults).")
    var config: String?

    @Option(name: .long, help: "Directory of the SQLite database (data.dir).")
    var dataDir: String?

    @Option(
        name: .long,
        help: "The store (store.url, TRELLIS_STORE_URL): postgres://user@host:5432/db?sslmode=require, or sqlite:///path; default SQLite in data.dir.")
    var storeURL: String?

    func load(extra: [String: String] = [:]) throws -> TrellisConfig {
        let environment = ProcessInfo.processInfo.environment
        var overrides = extra
        if let dataDir { overrides["data.dir"] = dataDir }
        if let storeURL { overrides["store.url"] = storeURL }
        let file = config ?? environment["TRELLIS_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        return try TrellisConfig.load(file: file, environment: environment, overrides: overrides)
    }

    /// The configuration; a configuration problem is printed the way a shell user expects and exits with status 2.
    func loadOrExit(extra: [String: String] = [:]) throws -> TrellisConfig {
        do {
            return try load(extra: extra)
        } catch let error as ConfigError {
            printRefusal(error)
            Foundation.exit(2)
        }
    }
}

/// Prints `trellis: <what was refused>` on standard error, the way a shell user expects.
func printRefusal(_ error: some CustomStringConvertible) {
    FileHandle.standardError.write(Data("trellis: \(error.description)\n".utf8))
}

/// Prints a refused input; the exit status to throw for it (2).
func refused(_ error: some CustomStringConvertible) -> ExitCode {
    printRefusal(error)
    return ExitCode(2)
}

func bootstrapLogging(level: Logger.Level) {
    LoggingSystem.bootstrap { label in
        var handler = LineLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}
