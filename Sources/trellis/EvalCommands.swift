import ArgumentParser
import Foundation
import NIOHTTP1
import OpenAIWire

/// `trellis eval`: evaluation sets (golden items) and runs that score model versions on them (`/admin/v1/eval-*`).
struct Eval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluation: upload sets of golden items, score model versions on them, compare.",
        subcommands: [
            Sets.self, ShowSet.self, Upload.self, FromFeedback.self, EvalRun.self, Status.self, Items.self, Cancel.self, Runs.self,
        ])

    struct Sets: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List evaluation sets (the latest version of each).")
        @OptionGroup var admin: AdminOptions
        @Option(help: "Only this tenant's sets (and the shared ones it sees).") var tenant: String?

        func run() async throws {
            let answer = try await AdminClient.call(admin, .GET, "eval-sets" + EvalPaths.query(["tenant": tenant]))
            AdminClient.show(answer, options: admin, columns: ["name", "tenant", "version", "items"])
        }
    }

    struct ShowSet: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show-set", abstract: "Show a set's version and its items.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Set name.") var name: String
        @Option(help: "Version (default: the latest).") var version: Int?
        @Option(help: "The set's tenant (default: the tenant's own set, else the shared one).") var tenant: String?
        @Option(help: "Terminal columns for INPUT and EXPECTED.") var width = 50

        func validate() throws {
            if width < 1 { throw ValidationError("--width takes a positive number of columns.") }
        }

        func run() async throws {
            let query = EvalPaths.query(["version": version.map(String.init), "tenant": tenant])
            let answer = try await AdminClient.call(admin, .GET, "eval-sets/\(EvalPaths.segment(name))" + query)
            if admin.json {
                print(JSONWriter.string(answer))
                return
            }
            AdminClient.printTable([answer], columns: ["name", "tenant", "version", "item_count", "created_at"])
            print()
            let rows: [JSONValue] = (answer["items"]?.arrayValue ?? []).enumerated().map { i, item in
                ["item": .int(i), "input": .string(Self.question(item)), "expected": .string(Self.expected(item["expected"]))]
            }
            AdminClient.printTable(rows, columns: ["item", "input", "expected"], maxWidths: ["input": width, "expected": width])
        }

        /// An item's question: its `input`, else its last user message's text.
        static func question(_ item: JSONValue) -> String {
            if let input = item["input"]?.stringValue { return input }
            let user = item["messages"]?.arrayValue?.last { $0["role"]?.stringValue == "user" }
            switch user?["content"] {
            case .string(let text)?: return text
            case .array(let parts)?: return parts.compactMap { $0["text"]?.stringValue }.joined(separator: " ")
            default: return "-"
            }
        }

        static func expected(_ value: JSONValue?) -> String {
            switch value {
            case .string(let text)?: return text
            case .array(let list)?: return list.compactMap(\.stringValue).joined(separator: " | ")
            default: return "-"
            }
        }
    }

    struct Upload: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Upload a set's items from a file; an existing name gets a new version.",
            discussion: """
                FILE holds a JSON array of items, a JSON object with "items", or JSON Lines (one item object per \
                line; blank lines are skipped). '-' reads standard input. An item is {"input": "question" or \
                "messages": [...], "expected"?: "answer" or ["one", "another"], "variables"?, "metadata"?}.
                """)
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Set name.") var name: String
        @Argument(help: "Items file (JSON or JSON Lines), or - for standard input.") var file: String
        @Option(help: "Owning tenant (default: shared with every tenant).") var tenant: String?

        func run() async throws {
            let items: EvalItemsFile
            do {
                items = try EvalItemsFile.read(file)
            } catch let problem as EvalItemsFile.Problem {
                throw refused(problem)
            }
            var body: JSONObject = ["name": .string(name), "items": .array(items.items)]
            if let tenant { body["tenant"] = .string(tenant) }
            let answer: JSONValue
            do {
                answer = try await AdminClient.call(admin, .POST, "eval-sets", body: .object(body))
            } catch let error as AdminCallError {
                throw AdminCallError(description: items.locate(error.description, name: file == "-" ? "standard input" : file))
            }
            AdminClient.show(answer, options: admin, columns: ["name", "tenant", "version", "items"])
        }
    }

    struct FromFeedback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "from-feedback",
            abstract: "Add a model's corrected and well-rated answers to a set (created when new) as a new version.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Set name.") var name: String
        @Option(help: "The model whose captured interactions to read.") var model: String
        @Option(help: "Only interactions from this day (2026-11-01) or RFC 3339 time on.") var since: String?
        @Option(help: "The tenant (required with the operator key).") var tenant: String?

        func run() async throws {
            var body: JSONObject = ["model": .string(model)]
            if let since { body["since"] = .string(since) }
            if let tenant { body["tenant"] = .string(tenant) }
            let answer = try await AdminClient.call(admin, .POST, "eval-sets/\(EvalPaths.segment(name))/from-feedback", body: .object(body))
            AdminClient.show(answer, options: admin, columns: ["name", "tenant", "version", "items", "added"])
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a run's status, results and comparison (without waiting).")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Run id (evr_…).") var id: String

        func run() async throws {
            EvalReport.show(try await AdminClient.call(admin, .GET, "eval-runs/\(EvalPaths.segment(id))"), options: admin)
        }
    }

    struct Items: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a run's answers per item and model version.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Run id (evr_…).") var id: String
        @Option(help: "Only this model (name, or name@version).") var model: String?
        @Flag(help: "Only the answers that failed.") var failed = false
        @Option(help: "Skip this many entries.") var offset: Int?
        @Option(help: "At most this many entries (1 to 1000; default 200).") var limit: Int?
        @Option(help: "Terminal columns for ANSWER.") var width = 60

        func validate() throws {
            if width < 1 { throw ValidationError("--width takes a positive number of columns.") }
        }

        func run() async throws {
            let query = EvalPaths.query([
                "model": model, "failed": failed ? "true" : nil, "offset": offset.map(String.init), "limit": limit.map(String.init),
            ])
            let answer = try await AdminClient.call(admin, .GET, "eval-runs/\(EvalPaths.segment(id))/items" + query)
            if admin.json {
                print(JSONWriter.string(answer))
                return
            }
            let rows: [JSONValue] = (answer["data"]?.arrayValue ?? []).map { entry in
                var row = entry.objectValue ?? [:]
                if entry["answer"]?.stringValue == nil, let error = entry["error"]?.stringValue { row["answer"] = .string("error: " + error) }
                return .object(row)
            }
            AdminClient.printTable(rows, columns: ["item", "model", "version", "passed", "score", "answer"], maxWidths: ["answer": width])
            if answer["has_more"]?.boolValue == true {
                let next = (offset ?? 0) + rows.count
                FileHandle.standardError.write(Data("more entries: --offset \(next)\n".utf8))
            }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a running run; the results so far stay.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Run id (evr_…).") var id: String

        func run() async throws {
            EvalReport.show(try await AdminClient.call(admin, .DELETE, "eval-runs/\(EvalPaths.segment(id))"), options: admin)
        }
    }

    struct Runs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List runs, the newest first.")
        @OptionGroup var admin: AdminOptions
        @Option(help: "Only this tenant's runs.") var tenant: String?
        @Option(help: "At most this many runs (1 to 200; default 50).") var limit: Int?

        func run() async throws {
            let answer = try await AdminClient.call(admin, .GET, "eval-runs" + EvalPaths.query(["tenant": tenant, "limit": limit.map(String.init)]))
            if admin.json {
                print(JSONWriter.string(answer))
                return
            }
            let rows: [JSONValue] = (answer["data"]?.arrayValue ?? []).map { run in
                [
                    "id": run["id"] ?? .null, "set": run["set"] ?? .null, "status": run["status"] ?? .null,
                    "done": run["progress"]?["done"] ?? .null, "total": run["progress"]?["total"] ?? .null, "created": run["created_at"] ?? .null,
                ]
            }
            AdminClient.printTable(rows, columns: ["id", "set", "status", "done", "total", "created"])
        }
    }
}

/// Paths and query strings of the evaluation routes.
enum EvalPaths {
    /// One path segment, percent-encoded.
    static func segment(_ text: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/?#")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    /// `?a=1&b=2` of the parameters given (nil ones left out, in name order), or "" when there are none.
    static func query(_ parameters: [String: String?]) -> String {
        let items = parameters.sorted { $0.key < $1.key }.compactMap { name, value in value.map { URLQueryItem(name: name, value: $0) } }
        guard !items.isEmpty else { return "" }
        var components = URLComponents()
        components.queryItems = items
        return "?" + (components.percentEncodedQuery ?? "")
    }
}
