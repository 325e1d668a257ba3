import AsyncAlgorithms
import HTTPTypes
import Hummingbird
import NIOCore
import OpenAIWire
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

/// The response writer stopped a stream at the close of the shutdown drain window.
struct ShutdownCut: Error {}

extension RelayedStream {
    /// The stream's response: its frames as they come. On shutdown, a stream still running when the drain window
    /// closes is ended here, even while its upstream is silent: the relay's channel is failed, and the shutdown
    /// event written instead.
    func response(headers: AnswerHeaders, gateway: Gateway) -> Response {
        var fields = headers.fields
        fields[.contentType] = "text/event-stream; charset=utf-8"
        fields[.cacheControl] = "no-cache"
        let frames = self.frames
        return Response(
            status: .ok, headers: fields,
            body: ResponseBody { writer in
                defer { end() }
                let ended = try await withGracefulShutdownHandler {
                    var ended = false
                    do {
                        for try await buffer in frames {
                            try await writer.write(buffer)
                            ended = buffer.readableBytesView.suffix(SSEWriter.done.count).elementsEqual(SSEWriter.done)
                        }
                    } catch is ShutdownCut {
                        return ended
                    }
                    return true
                } onGracefulShutdown: {
                    gateway.drain.begin()
                    Task {
                        try? await Task.sleep(for: gateway.drainWindow)
                        frames.fail(ShutdownCut())
                    }
                }
                if !ended {
                    try await writer.write(ByteBuffer(bytes: StreamSession.shutdownTail))
                }
                try await writer.finish(nil)
            })
    }
}
