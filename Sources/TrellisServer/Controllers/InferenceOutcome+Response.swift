import HTTPTypes
import Hummingbird
import ServiceLifecycle

extension InferenceOutcome {
    /// The HTTP response for the flow's outcome: a whole answer as JSON, or the stream as server-sent events.
    func response(gateway: Gateway) -> Response {
        switch self {
        case .complete(let body, let headers):
            return .json(bytes: body, headers: headers.fields)
        case .stream(let stream, let headers):
            return stream.response(headers: headers, gateway: gateway)
        }
    }
}

extension PrimedStream {
    /// The stream's response: the body relays the stream itself, writing each frame as it is read, so the next
    /// upstream read waits for the client's socket to take the last frame. On shutdown, a stream still running when
    /// the drain window closes is ended with the `server_shutting_down` event and `[DONE]`, even while its upstream
    /// is silent: its upstream read is stopped then, which ends the relay.
    func response(headers: AnswerHeaders, gateway: Gateway) -> Response {
        var fields = headers.fields
        fields[.contentType] = "text/event-stream; charset=utf-8"
        fields[.cacheControl] = "no-cache"
        return Response(
            status: .ok, headers: fields,
            body: ResponseBody { writer in
                try await withGracefulShutdownHandler {
                    try await self.relay { try await writer.write($0) }
                } onGracefulShutdown: {
                    gateway.drain.begin()
                    Task {
                        try? await Task.sleep(for: gateway.drainWindow)
                        self.stop(.shutdown)
                    }
                }
                try await writer.finish(nil)
            })
    }
}
