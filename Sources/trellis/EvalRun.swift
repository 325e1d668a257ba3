import ArgumentParser
import Foundation
import NIOHTTP1
import OpenAIWire

/// `trellis eval run`: starts a run, waits for it, prints the results and exits by what they say, for CI.
struct EvalRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Score model versions on a set; wait for the results and print them.",
        discussion: """
            Starts the run on the gateway, then asks for its progress every second (DONE/TOTAL on standard error) until \
            it ends, and prints the results per model version and each later version's paired comparison with the \
            first. Ctrl-C stops waiting but does not cancel the run: it goes on in the gateway (see it with \
            `trellis eval status ID`, stop it with `trellis eval cancel ID`).

            Scorers (each type once; default: contains): exact, contains, regex (the expected answer as the pattern), \
            regex:PATTERN, similarity:EMBEDDING_MODEL[:THRESHOLD], judge:MODEL[:THRESHOLD] (with --rubric).

            Exit status: 0 when the run ended done (and every version scored at least --fail-under); 1 when a \
            version scored below --fail-under; 2 when the run did not end done (failed, cancelled) or the gateway \
            refused it or could not be reached.
            """)

    @OptionGroup var admin: AdminOptions
    @Argument(help: "Set name.") var set: String
    @Option(
        parsing: .singleValue,
        help: "Model versions to score, comma-separated (assistant@1,assistant@2); a bare name is the version its traffic gives now.")
    var models: [String] = []
    @Option(name: .customLong("scorer"), parsing: .singleValue, help: "A scorer (repeatable): see below.") var scorers: [String] = []
    @Option(help: "What the judge should look for (with --scorer judge:MODEL).") var rubric: String?
    @Option(help: "Questions asked at once (1 to 8; default 2).") var concurrency: Int?
    @Option(help: "Set version (default: the latest).") var setVersion: Int?
    @Option(help: "The tenant the run acts for (required with the operator key).") var tenant: String?
    @Option(help: "Exit 1 when a version's score (0 to 1) is below this.") var failUnder: Double?
    @Flag(help: "Print the started run and return at once.") var noWait = false

    func validate() throws {
        if modelList.isEmpty { throw ValidationError("Give the model versions to score with --models, e.g. --models assistant@1,assistant@2.") }
        if noWait, failUnder != nil { throw ValidationError("--fail-under needs the results: leave out --no-wait.") }
        if let failUnder, !(0...1).contains(failUnder) { throw ValidationError("--fail-under takes a score from 0 to 1.") }
        _ = try scorerList()
    }

    var modelList: [String] {
        models.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// The scorers as the run's `scorers` array: `contains` when none is given.
    func scorerList() throws -> [JSONValue] {
        var list: [JSONObject] = []
        for text in scorers.isEmpty ? ["contains"] : scorers {
            var scorer = try Self.scorer(text)
            let type = scorer["type"]?.stringValue ?? ""
            if list.contains(where: { $0["type"]?.stringValue == type }) { throw ValidationError("--scorer \(type) is given twice; each type goes once.") }
            if type == "judge", let rubric { scorer["rubric"] = .string(rubric) }
            list.append(scorer)
        }
        if rubric != nil, !list.contains(where: { $0["type"]?.stringValue == "judge" }) {
            throw ValidationError("--rubric goes with --scorer judge:MODEL.")
        }
        return list.map { .object($0) }
    }

    /// One `--scorer` value as the run's scorer object.
    static func scorer(_ text: String) throws -> JSONObject {
        let type = text.prefix { $0 != ":" }
        let rest = text.dropFirst(type.count + 1)
        let hasRest = type.count < text.count
        switch type {
        case "exact", "contains":
            guard !hasRest else { throw ValidationError("--scorer \(type) takes nothing after it, got '\(text)'.") }
            return ["type": .string(String(type))]
        case "regex":
            guard hasRest else { return ["type": "regex"] }
            guard !rest.isEmpty else { throw ValidationError("--scorer regex:PATTERN needs a pattern.") }
            return ["type": "regex", "pattern": .string(String(rest))]
        case "similarity", "judge":
            let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
            guard hasRest, let model = parts.first, !model.isEmpty, parts.count <= 2 else {
                throw ValidationError("--scorer takes \(type):MODEL or \(type):MODEL:THRESHOLD, got '\(text)'.")
            }
            var scorer: JSONObject = ["type": .string(String(type)), "model": .string(String(model))]
            if parts.count == 2 {
                guard let threshold = Double(parts[1]), (0...1).contains(threshold) else {
                    throw ValidationError("The threshold in --scorer '\(text)' must be a number from 0 to 1.")
                }
                scorer["threshold"] = .double(threshold)
            }
            return scorer
        default:
            throw ValidationError(
                "Unknown scorer '\(type)': use exact, contains, regex, regex:PATTERN, similarity:MODEL[:THRESHOLD] or judge:MODEL[:THRESHOLD].")
        }
    }

    func run() async throws {
        var body: JSONObject = [
            "set": .string(set), "models": .array(modelList.map { .string($0) }), "scorers": .array(try scorerList()),
        ]
        if let setVersion { body["set_version"] = .int(setVersion) }
        if let tenant { body["tenant"] = .string(tenant) }
        if let concurrency { body["concurrency"] = .int(concurrency) }
        var run: JSONValue
        do {
            run = try await AdminClient.call(admin, .POST, "eval-runs", body: .object(body))
        } catch let error as AdminCallError {
            throw refused(error)
        }
        guard let id = run["id"]?.stringValue else { throw refused("the gateway's answer has no run id") }
        if noWait {
            AdminClient.show(run, options: admin, columns: ["id", "status", "set", "set_version", "models"])
            return
        }
        let progress = EvalProgress()
        progress.started(id)
        while run["status"]?.stringValue == "running" {
            progress.show(run)
            try await Task.sleep(for: .seconds(1))
            do {
                run = try await AdminClient.call(admin, .GET, "eval-runs/\(EvalPaths.segment(id))")
            } catch let error as AdminCallError {
                progress.finish()
                printRefusal("\(error); the run goes on in the gateway: trellis eval status \(id)")
                throw ExitCode(2)
            }
        }
        progress.show(run)
        progress.finish()
        EvalReport.show(run, options: admin)
        guard run["status"]?.stringValue == "done" else {
            printRefusal("the run ended \(run["status"]?.stringValue ?? "without a status")" + (run["error"]?.stringValue.map { ": \($0)" } ?? ""))
            throw ExitCode(2)
        }
        if let failUnder {
            let under = EvalReport.versions(run, under: failUnder)
            if !under.isEmpty {
                printRefusal("score below \(failUnder): \(under.joined(separator: ", "))")
                throw ExitCode(1)
            }
        }
    }
}

/// The progress of a run being waited for, on standard error: rewritten in place on a terminal, a line per change
/// otherwise.
final class EvalProgress {
    let interactive = isatty(STDERR_FILENO) == 1
    var last: String?

    func started(_ id: String) {
        write("run \(id) started; Ctrl-C stops waiting, not the run (trellis eval status \(id), trellis eval cancel \(id))\n")
    }

    func show(_ run: JSONValue) {
        let done = run["progress"]?["done"]?.numberValue?.literal ?? "?"
        let total = run["progress"]?["total"]?.numberValue?.literal ?? "?"
        let text = "\(done)/\(total)"
        guard text != last else { return }
        last = text
        write(interactive ? "\r\u{1B}[K" + text : text + "\n")
    }

    func finish() {
        if interactive, last != nil { write("\n") }
    }

    func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}

/// A run as `eval run`, `eval status` and `eval cancel` print it: a summary line, the results per model version
/// and the comparison lines.
enum EvalReport {
    static func show(_ run: JSONValue, options: AdminOptions) {
        if options.json {
            print(JSONWriter.string(run))
            return
        }
        for line in lines(run) { print(line) }
    }

    static func lines(_ run: JSONValue) -> [String] {
        let id = run["id"]?.stringValue ?? "?"
        let set = run["set"]?.stringValue ?? "?"
        let setVersion = run["set_version"]?.numberValue?.literal ?? "?"
        let status = run["status"]?.stringValue ?? "?"
        let done = run["progress"]?["done"]?.numberValue?.literal ?? "?"
        let total = run["progress"]?["total"]?.numberValue?.literal ?? "?"
        var out = [TableText.cell("run \(id) (set \(set) v\(setVersion)): \(status), \(done)/\(total)")]
        if let error = run["error"]?.stringValue { out.append(TableText.cell("error: \(error)")) }
        let results = run["results"]?.arrayValue ?? []
        if !results.isEmpty {
            let columns = ["model", "version", "score", "passed", "failed", "errors", "p50_ms", "tokens", "cost"]
            let table = [columns.map { $0.uppercased() }] + results.map { row in columns.map { AdminClient.cell(row[$0]) } }
            out += TableText.layout(table)
        }
        let comparisons = run["comparisons"]?.arrayValue ?? run["comparison"].map { $0.isNull ? [] : [$0] } ?? []
        if !comparisons.isEmpty {
            out.append("")
            out += comparisons.map { TableText.cell(comparisonLine($0)) }
        }
        return out
    }

    /// `assistant@2 vs assistant@1: better 5, worse 1, same 14, mean difference +0.15 (95% CI −0.02 to +0.32)`.
    static func comparisonLine(_ c: JSONValue) -> String {
        func int(_ key: String) -> String { c[key]?.numberValue?.literal ?? "0" }
        func double(_ key: String) -> Double? { c[key]?.numberValue?.doubleValue }
        var line = "\(c["b"]?.stringValue ?? "?") vs \(c["a"]?.stringValue ?? "?"): better \(int("better")), worse \(int("worse")), same \(int("same"))"
        guard let mean = double("mean_difference") else { return line + ", no item scored by both" }
        line += ", mean difference \(signed(mean))"
        if let low = double("ci_low"), let high = double("ci_high") {
            let level = (double("confidence") ?? 0.95) * 100
            let percent = level.rounded() == level ? String(Int(level)) : String(format: "%.1f", level)
            line += " (\(percent)% CI \(signed(low)) to \(signed(high)))"
        }
        return line
    }

    /// `+0.15`, `−0.02` (a minus sign), to 2 decimal places.
    static func signed(_ value: Double) -> String {
        let rounded = (value * 100).rounded() / 100
        return (rounded < 0 ? "−" : "+") + String(format: "%.2f", abs(rounded))
    }

    /// The results scoring below `threshold`, as `name@version (score)`.
    static func versions(_ run: JSONValue, under threshold: Double) -> [String] {
        (run["results"]?.arrayValue ?? []).compactMap { result in
            guard let score = result["score"]?.numberValue?.doubleValue, score < threshold else { return nil }
            let name = result["model"]?.stringValue ?? "?"
            let version = result["version"]?.numberValue?.literal
            return (version.map { "\(name)@\($0)" } ?? name) + " (\(result["score"]?.numberValue?.literal ?? "?"))"
        }
    }
}
