import Foundation
import Logging
import OpenAIWire
import TrellisCore
import TrellisStore

/// Executes one evaluation run: each (item, model version) pair not yet answered, at most `concurrency` calls at
/// once, through the same inference flow as clients' requests (limits, usage with `source` = `eval`, masking), under
/// the key that started the run. Pairs go in batches (``batchSize(concurrency:)``): every answer of a batch, the
/// answers of one version after each other, then every grade, then the batch's results are kept. So a model server
/// with one slot (llama.cpp) finds the judge's long instructions, or a version's prompt, already evaluated from the
/// call before, where answer, grade, answer, grade made it start over each time. A run resumed after a restart asks
/// only what is left (a batch cut short is asked again); a 429 waits for its `Retry-After` and asks again. The run
/// ends `done`, or `failed` when the key is gone or the set is missing; a cancelled run stops at once (its status was
/// set by the cancel).
struct EvalRunner: Sendable {
    let gateway: Gateway
    let run: EvalRunRecord
    let logger: Logger

    /// How long a run waits out a 429 at most, and how many times it asks again.
    static let maxRetryWait: Duration = .seconds(30)
    static let maxRetries = 6

    func execute() async {
        do {
            guard let set = try await gateway.store.evalSet(name: run.setName, tenantID: setNamespace(), version: run.setVersion), set.id == run.setID
            else {
                return await finish(.failed, error: "The evaluation set '\(run.setName)' version \(run.setVersion) no longer exists.")
            }
            let items = try set.items.enumerated().map { i, value throws(TrellisError) in try EvalItem.parse(value, path: "items[\(i)]") }
            let scorers = (run.scorers.arrayValue ?? []).compactMap(EvalScorer.init(json:))
            let done = Set(try await gateway.store.evalOutcomes(runID: run.id).map { Pair(item: $0.item, model: $0.model) })
            let pending = items.indices.flatMap { i in run.models.map { Pair(item: i, model: $0) } }.filter { !done.contains($0) }
            try await ask(pending, items: items, scorers: scorers)
            await finish(.done, error: nil)
        } catch is CancellationError {
            // Cancelled by `DELETE` (the status is already set) or by shutdown (resumed at the next start).
        } catch let error as EvalStop {
            await finish(.failed, error: error.message)
        } catch {
            // A shutdown's cancellation may surface as another error (a store call cut short): the run stays running,
            // to be resumed.
            guard !Task.isCancelled else { return }
            logger.error("evaluation run failed", metadata: ["run": "\(run.id)", "error_type": "\(type(of: error))"])
            await finish(.failed, error: "The run stopped on an internal error.")
        }
    }

    struct Pair: Hashable, Sendable {
        var item: Int
        var model: String
    }

    /// A reason the whole run stops.
    struct EvalStop: Error {
        var message: String
    }

    /// Where the run's set lives: the run's tenant's, else shared (the id check above tells them apart).
    func setNamespace() async throws -> String? {
        let own = try await gateway.store.evalSet(name: run.setName, tenantID: run.tenantID, version: run.setVersion)
        return own?.id == run.setID ? run.tenantID : nil
    }

    /// Pairs per batch: enough for the judge's calls to follow each other, few enough that a run cut short loses
    /// little and its progress moves.
    static func batchSize(concurrency: Int) -> Int { min(64, max(8, 4 * concurrency)) }

    /// Asks the pairs batch by batch: the batch's answers (a version's after each other), then its grades, each step
    /// with at most `run.concurrency` calls in flight; then saves the batch's results.
    func ask(_ pending: [Pair], items: [EvalItem], scorers: [EvalScorer]) async throws {
        let size = Self.batchSize(concurrency: run.concurrency)
        var start = pending.startIndex
        while start < pending.endIndex {
            let end = min(start + size, pending.endIndex)
            let batch = pending[start..<end].sorted { ($0.model, $0.item) < ($1.model, $1.item) }
            let answered = try await inParallel(batch) { pair in try await answer(pair, item: items[pair.item]) }
            let graded = try await inParallel(answered) { result in try await grade(result, item: items[result.item], scorers: scorers) }
            for result in graded {
                try Task.checkCancellation()
                try await gateway.store.saveEvalResult(result)
            }
            start = end
        }
    }

    /// `work` on each element, at most `run.concurrency` at once; the results in the elements' order.
    func inParallel<Element: Sendable, Result: Sendable>(
        _ elements: [Element], _ work: @escaping @Sendable (Element) async throws -> Result
    ) async throws -> [Result] {
        try await withThrowingTaskGroup(of: (Int, Result).self) { group in
            var results: [Result?] = Array(repeating: nil, count: elements.count)
            var next = elements.indices.makeIterator()
            func add() -> Bool {
                guard let i = next.next() else { return false }
                let element = elements[i]
                group.addTask {
                    try Task.checkCancellation()
                    return (i, try await work(element))
                }
                return true
            }
            for _ in 0..<max(1, run.concurrency) where !add() { break }
            while let (i, result) = try await group.next() {
                results[i] = result
                _ = add()
            }
            return results.compactMap { $0 }
        }
    }

    /// The key the run acts with now: the key that started it, while it lives; the operator's runs act for the tenant
    /// with no key limits of their own (the tenant's limits still apply).
    func key() throws -> TenantKey {
        let snapshot = gateway.snapshot
        if run.keyID == EvalRunRecord.operatorKeyID {
            guard let tenant = snapshot.tenants[run.tenantID] else { throw EvalStop(message: "The run's tenant no longer exists.") }
            return TenantKey.evaluationOperator(for: tenant)
        }
        guard let key = snapshot.key(id: run.keyID), !key.isExpired(at: Date()) else {
            throw EvalStop(message: "The key that started the run was revoked or has expired.")
        }
        return key
    }

    /// One item asked of one model version, not yet scored. Errors of the model's answer are the result's error; what
    /// stops the whole run (a revoked key) is thrown.
    func answer(_ pair: Pair, item: EvalItem) async throws -> EvalResultRecord {
        let started = ContinuousClock.now
        var result = EvalResultRecord(
            runID: run.id, item: pair.item, model: pair.model, answer: nil, error: nil, scores: .array([]), passed: false, score: nil, latencyMs: 0,
            promptTokens: 0, completionTokens: 0, costMicros: 0)
        let completion: JSONObject
        do {
            completion = try await chat(item.chatBody(model: pair.model, maxTokens: nil), endpoint: "eval:answer")
        } catch let error as TrellisError {
            result.error = error.message
            result.latencyMs = (ContinuousClock.now - started).milliseconds
            return result
        }
        result.latencyMs = (ContinuousClock.now - started).milliseconds
        result.answer = completion["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue ?? ""
        if let usage = TokenUsage(json: completion["usage"]) {
            result.promptTokens = usage.promptTokens
            result.completionTokens = usage.completionTokens
            result.costMicros = cost(of: pair.model, usage: usage)
        }
        return result
    }

    /// An answered result scored by every scorer; a result whose model failed is kept as it is, unscored. A scorer
    /// whose own model fails scores 0 with the reason.
    func grade(_ answered: EvalResultRecord, item: EvalItem, scorers: [EvalScorer]) async throws -> EvalResultRecord {
        guard answered.error == nil, let answer = answered.answer else { return answered }
        var result = answered
        var scores: [EvalScore] = []
        for scorer in scorers {
            do {
                scores.append(try await score(scorer, answer: answer, item: item))
            } catch let error as TrellisError {
                scores.append(EvalScore(scorer: scorer.name, score: 0, passed: false, reason: "the scorer's model failed: \(error.message)"))
            }
        }
        result.scores = .array(scores.map(\.json))
        result.passed = !scores.isEmpty && scores.allSatisfy(\.passed)
        result.score = scores.isEmpty ? nil : scores.reduce(0) { $0 + $1.score } / Double(scores.count)
        return result
    }

    func score(_ scorer: EvalScorer, answer: String, item: EvalItem) async throws -> EvalScore {
        if let local = scorer.score(answer: answer, expected: item.expected) { return local }
        switch scorer.kind {
        case .similarity:
            guard !item.expected.isEmpty else { return EvalScore.missingExpected(scorer: scorer.name) }
            let vectors = try await embed([answer] + item.expected, model: scorer.model ?? "")
            return scorer.score(answerVector: vectors[0], expectedVectors: Array(vectors.dropFirst()))
        default:
            let messages = JudgePrompt.messages(
                question: item.question, expected: JudgePrompt.reference(item.expected), answer: answer, rubric: scorer.rubric)
            let reply = try await chat(["model": .string(scorer.model ?? ""), "messages": .array(messages)], endpoint: "eval:judge")
            return scorer.score(judgeReply: reply["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue ?? "")
        }
    }

    /// A whole chat answer through the inference flow, waiting out 429s.
    func chat(_ body: JSONObject, endpoint: String) async throws -> JSONObject {
        let request = try ChatRequest.parse(.object(body), limits: .init(maxMessages: gateway.config.maxMessages))
        let outcome = try await retrying { key, call in try await InferenceFlow(gateway: gateway).chat(request, key: key, call: call, endpoint: endpoint) }
        guard case .complete(let bytes, _) = outcome, case .object(let object) = try JSONParser.parse(bytes) else { throw TrellisError.internalError }
        return object
    }

    /// Embeddings of `texts` in order, through the inference flow.
    func embed(_ texts: [String], model: String) async throws -> [[Double]] {
        let request = try EmbeddingsRequest.parse(["model": .string(model), "input": .array(texts.map { .string($0) })])
        let outcome = try await retrying { key, call in
            try await InferenceFlow(gateway: gateway).embeddings(request, key: key, call: call, endpoint: "eval:similarity")
        }
        guard case .complete(let bytes, _) = outcome, case .array(let data)? = try JSONParser.parse(bytes)["data"] else {
            throw TrellisError.internalError
        }
        var vectors = [[Double]](repeating: [], count: texts.count)
        for entry in data {
            guard let index = entry["index"]?.numberValue?.intValue, vectors.indices.contains(index) else { continue }
            vectors[index] = entry["embedding"]?.arrayValue?.compactMap { $0.numberValue?.doubleValue } ?? []
        }
        return vectors
    }

    /// Runs `call` with the run's key and a request id of its own; a 429 is waited out (its `Retry-After`, at most
    /// ``maxRetryWait``) and asked again, up to ``maxRetries`` times.
    func retrying<T: Sendable>(_ call: (TenantKey, CallContext) async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            let context = CallContext(requestID: RequestIDs.make(), logger: logger, connection: ClientConnection(channel: nil))
            do {
                return try await call(try key(), context)
            } catch let error as TrellisError where error.status == 429 && attempt < Self.maxRetries {
                attempt += 1
                let seconds = error.headers.first { $0.0.lowercased() == "retry-after" }.flatMap { Int($0.1) } ?? 1
                try await Task.sleep(for: min(.seconds(max(1, seconds)), Self.maxRetryWait))
            }
        }
    }

    /// What the tokens cost at the version's first target's price (0 when it has none).
    func cost(of reference: String, usage: TokenUsage) -> Int {
        let snapshot = gateway.snapshot
        let (name, pinned) = VersionSelector.parseReference(reference)
        guard let model = snapshot.model(named: name, tenantID: run.tenantID), let version = pinned.flatMap(model.version),
            let target = ChatPlanner.firstTarget(of: version.spec, model: model, snapshot: snapshot),
            let pricing = snapshot.upstreams[target.upstream]?.pricing
        else { return 0 }
        return pricing.costMicros(model: target.model, promptTokens: usage.promptTokens, completionTokens: usage.completionTokens)
    }

    func finish(_ status: EvalRunRecord.Status, error: String?) async {
        do {
            let summary = EvalReport.summary(run, outcomes: try await gateway.store.evalOutcomes(runID: run.id))
            if try await gateway.store.finishEvalRun(id: run.id, status: status, error: error, summary: summary, now: Date()) {
                logger.info("evaluation run ended", metadata: ["run": "\(run.id)", "status": "\(status.rawValue)"])
            }
        } catch {
            logger.error("evaluation run not marked ended", metadata: ["run": "\(run.id)", "error_type": "\(type(of: error))"])
        }
    }
}

extension EvalRunRecord {
    /// The key id of runs the operator started: they act for their tenant without a key of their own.
    static let operatorKeyID = "operator"
}

extension TenantKey {
    /// The key an operator's evaluation run acts with: its tenant's, inference only, without key limits of its own
    /// (the tenant's limits still apply).
    static func evaluationOperator(for tenant: Tenant) -> TenantKey {
        TenantKey(
            id: EvalRunRecord.operatorKeyID, name: "operator", prefix: "operator", tenantID: tenant.id, tenantName: tenant.name, scopes: [.inference],
            models: .all, rpm: nil, tpm: nil, expiresAt: nil)
    }
}
