import Foundation
import OpenAIWire
import TrellisCore

/// One version of an evaluation set: its items as uploaded (each a JSON object: `input` or `messages`, `expected`,
/// `variables`, `metadata`), owned by a tenant or shared (`tenantID` nil).
public struct EvalSet: Sendable, Equatable {
    public var id: String
    public var tenantID: String?
    public var name: String
    public var version: Int
    public var items: [JSONValue]
    public var createdAt: Date
    public var createdBy: String

    public init(id: String, tenantID: String?, name: String, version: Int, items: [JSONValue], createdAt: Date, createdBy: String) {
        self.id = id
        self.tenantID = tenantID
        self.name = name
        self.version = version
        self.items = items
        self.createdAt = createdAt
        self.createdBy = createdBy
    }
}

/// A set's latest version, for lists: without its items.
public struct EvalSetSummary: Sendable, Equatable {
    public var id: String
    public var tenantID: String?
    public var name: String
    public var version: Int
    public var itemCount: Int
    public var createdAt: Date

    public init(id: String, tenantID: String?, name: String, version: Int, itemCount: Int, createdAt: Date) {
        self.id = id
        self.tenantID = tenantID
        self.name = name
        self.version = version
        self.itemCount = itemCount
        self.createdAt = createdAt
    }
}

/// An evaluation run: a set version asked of model versions (`name@version`) with scorers, for one tenant, under
/// the key that started it (`keyID`; `operator` for the operator).
public struct EvalRunRecord: Sendable, Equatable {
    public enum Status: String, Sendable, CaseIterable {
        case running, done, failed, cancelled
    }

    public var id: String
    public var tenantID: String
    public var keyID: String
    public var setID: String
    public var setName: String
    public var setVersion: Int
    public var models: [String]
    public var scorers: JSONValue
    public var concurrency: Int
    public var status: Status
    public var error: String?
    public var total: Int
    public var createdAt: Date
    public var finishedAt: Date?
    public var createdBy: String
    /// The results per model version and the comparisons, kept when the run ends (nil while it runs).
    public var summary: JSONValue?

    public init(
        id: String, tenantID: String, keyID: String, setID: String, setName: String, setVersion: Int, models: [String], scorers: JSONValue,
        concurrency: Int, status: Status, error: String? = nil, total: Int, createdAt: Date, finishedAt: Date? = nil, createdBy: String,
        summary: JSONValue? = nil
    ) {
        self.summary = summary
        self.id = id
        self.tenantID = tenantID
        self.keyID = keyID
        self.setID = setID
        self.setName = setName
        self.setVersion = setVersion
        self.models = models
        self.scorers = scorers
        self.concurrency = concurrency
        self.status = status
        self.error = error
        self.total = total
        self.createdAt = createdAt
        self.finishedAt = finishedAt
        self.createdBy = createdBy
    }
}

/// One item asked of one model version in a run: the answer (or the error), each scorer's score, and what it took.
public struct EvalResultRecord: Sendable, Equatable {
    public var runID: String
    public var item: Int
    public var model: String
    public var answer: String?
    public var error: String?
    /// `[{"scorer","score","passed","reason"}]`.
    public var scores: JSONValue
    public var passed: Bool
    /// The mean of the scorers' scores; nil for an error.
    public var score: Double?
    public var latencyMs: Double
    public var promptTokens: Int
    public var completionTokens: Int
    public var costMicros: Int

    public init(
        runID: String, item: Int, model: String, answer: String?, error: String?, scores: JSONValue, passed: Bool, score: Double?,
        latencyMs: Double, promptTokens: Int, completionTokens: Int, costMicros: Int
    ) {
        self.runID = runID
        self.item = item
        self.model = model
        self.answer = answer
        self.error = error
        self.scores = scores
        self.passed = passed
        self.score = score
        self.latencyMs = latencyMs
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.costMicros = costMicros
    }
}

/// Evaluation sets, runs and their results. Sets and runs belong to a tenant (sets may be shared); every read
/// that names a tenant sees only that tenant's (and, for sets, shared ones).
public protocol EvalStore: Sendable {
    /// Adds a version of the set `name` in the namespace (the next number), and returns it.
    func insertEvalSet(tenantID: String?, name: String, items: [JSONValue], actor: String, now: Date) async throws -> EvalSet
    /// The latest version of every set the tenant sees (its own and shared ones; every set for nil).
    func evalSets(visibleTo tenantID: String?) async throws -> [EvalSetSummary]
    /// The set in exactly this namespace (the tenant's, or shared for nil): a version, else the latest.
    func evalSet(name: String, tenantID: String?, version: Int?) async throws -> EvalSet?
    /// A new run, executed by the process `owner` (its heartbeat starts now).
    func insertEvalRun(_ run: EvalRunRecord, owner: String) async throws
    /// Ends a run with its summary, unless it has already ended; false when it had.
    func finishEvalRun(id: String, status: EvalRunRecord.Status, error: String?, summary: JSONValue?, now: Date) async throws -> Bool
    /// The run, when it is the tenant's (any tenant's for nil).
    func evalRun(id: String, tenantID: String?) async throws -> EvalRunRecord?
    /// The newest runs first, the tenant's (every tenant's for nil), at most `limit`.
    func evalRuns(tenantID: String?, limit: Int) async throws -> [EvalRunRecord]
    /// Makes `owner` the process of the runs still `running` whose heartbeat is older than `staleAfter` seconds (their
    /// process stopped, or this is a restart), and returns them. Of several processes claiming at once, each run goes
    /// to one. Heartbeats are on the database's clock where there is one (PostgreSQL), else on `now`.
    func claimEvalRuns(owner: String, staleAfter: TimeInterval, now: Date) async throws -> [EvalRunRecord]
    /// Says that `owner` still works on the run; false when the run is no longer `running` or no longer its
    /// (cancelled, perhaps through another process, or claimed by another after this one fell silent).
    func touchEvalRun(id: String, owner: String, now: Date) async throws -> Bool
    /// Keeps a result; the same run, item and model again replaces it.
    func saveEvalResult(_ result: EvalResultRecord) async throws
    /// The run's results without their answers and scores: what summaries and progress are made of.
    func evalOutcomes(runID: String) async throws -> [EvalOutcome]
    /// A page of the run's results in item and model order: of one model (`name@version`) or all, only those that did
    /// not pass when `failedOnly`.
    func evalResults(runID: String, model: String?, failedOnly: Bool, offset: Int, limit: Int) async throws -> [EvalResultRecord]
    /// How many results the run has.
    func evalResultCount(runID: String) async throws -> Int
}
