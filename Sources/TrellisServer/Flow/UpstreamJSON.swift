import NIOCore
import OpenAIWire
import TrellisUpstream

/// How much of an upstream's whole answer the gateway reads, and the parser limits it reads it with.
struct AnswerLimits: Sendable, Equatable {
    var maxBytes: Int
    var parser = JSONParser.Limits()
}

/// Reading "the upstream's JSON object": anything that is not one is the upstream's protocol error, which the
/// dispatcher counts as that target's failure (and moves on from).
enum UpstreamJSON {
    /// `bytes` parsed as a JSON object under `limits`, or a protocol error of `upstream`.
    static func object(_ bytes: some Collection<UInt8>, limits: JSONParser.Limits, upstream: String) throws(UpstreamFailure) -> JSONObject {
        guard case .object(let object)? = try? JSONParser.parse(bytes, limits: limits) else {
            throw UpstreamFailure(kind: .protocolError, upstream: upstream)
        }
        return object
    }
}

extension UpstreamResponse {
    /// The whole body, collected up to `limits.maxBytes` under the upstream's timeouts and parsed as a JSON
    /// object (see ``UpstreamJSON/object(_:limits:upstream:)``).
    func jsonObject(limits: AnswerLimits, upstream: String) async throws(UpstreamFailure) -> JSONObject {
        let buffer = try await collect(upTo: limits.maxBytes, upstream: upstream)
        return try UpstreamJSON.object(buffer.readableBytesView, limits: limits.parser, upstream: upstream)
    }
}
