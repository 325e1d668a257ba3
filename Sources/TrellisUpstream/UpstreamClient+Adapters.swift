import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import OpenAIWire
import TrellisCore

extension UpstreamClient {
    /// After a vLLM server answered that an adapter name is "already loaded": true only when the server lists
    /// that name as a LoRA loaded from `path` (`GET /models`: `{"id": name, "root": path}`). A name loaded
    /// from other weights, or not listed at all, is not this adapter, and the call must not go there.
    func isLoaded(name: String, path: String, upstream: Upstream, route: UpstreamRoute, apiKey: String?) async -> Bool {
        do {
            let response = try await models(upstream: upstream, route: route, apiKey: apiKey, timeoutMs: upstream.timeouts.firstByteMs)
            guard (200..<300).contains(Int(response.status.code)) else { return false }
            let body = try await response.body.collect(upTo: maxListingBytes)
            guard let models = (try? JSONParser.parse(body.readableBytesView))?["data"]?.arrayValue else { return false }
            return models.contains { $0["id"]?.stringValue == name && $0["root"]?.stringValue == path }
        } catch {
            return false
        }
    }

    /// A model listing larger than this is not read (a server lists its base models and loaded adapters).
    var maxListingBytes: Int { 4 << 20 }
}
