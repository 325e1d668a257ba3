import HTTPTypes
import Logging
import NIOCore

/// What the inference flow answers, for the HTTP side to write: a whole answer, or a stream ready to relay (its
/// first events already read, so that a failure before them was still an HTTP error).
enum InferenceOutcome: Sendable {
    case complete(body: [UInt8], headers: AnswerHeaders)
    case stream(PrimedStream, headers: AnswerHeaders)

    /// The headers every answer carries.
    var headers: AnswerHeaders {
        switch self {
        case .complete(_, let headers), .stream(_, let headers): headers
        }
    }
}

/// The headers every answer carries, whole or streamed: the model version that served it
/// (`x-trellis-model-version`), then the admission's rate-limit headers.
struct AnswerHeaders: Sendable, Equatable {
    private(set) var fields: HTTPFields

    init(modelVersion: Int, limits: [(String, String)]) {
        var fields = HTTPFields()
        fields[.modelVersion] = String(modelVersion)
        for (name, value) in limits {
            if let field = HTTPField.Name(name) { fields[field] = value }
        }
        self.fields = fields
    }

    init(modelVersion: Int, admission: AdmissionTicket) {
        self.init(modelVersion: modelVersion, limits: admission.headers)
    }

    /// Names the router's child that produced the answer (`x-trellis-routed-to`).
    mutating func routed(to child: String?) {
        if let child { fields[.routedTo] = child }
    }
}

/// One request as the flow sees it: its id, its logger and its client's connection; nothing of the web framework.
struct CallContext: Sendable {
    let requestID: String
    let logger: Logger
    let connection: ClientConnection
}

/// The client's connection, for noticing that the client went away. Without a channel (in-process router tests)
/// nothing is watched.
struct ClientConnection: Sendable {
    let channel: (any Channel)?

    /// Runs `operation` in the request's own task, cancelled if the client goes away (see ``CancelScope``): no
    /// task of its own, so a whole answer costs no extra hop between threads.
    func cancelling<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        try await CancelScope.run(watching: watcher, operation)
    }

    /// The watcher of the connection, when it has one.
    var watcher: ConnectionWatcher? { channel.flatMap(ConnectionWatcher.watcher(for:)) }
}
