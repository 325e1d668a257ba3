import NIOCore
import NIOHTTP1

/// Why an exchange on the lean HTTP/1.1 client failed. Each timeout is its own case, so the caller can tell
/// which phase was too slow without reading text (the error carries none: nothing here can leak a URL).
public enum HTTP1Error: Error, Sendable, Equatable {
    /// The connection was not made within the connect timeout.
    case connectTimeout
    /// The connection could not be made (refused, unreachable, no address).
    case connectFailed
    /// No pooled connection came free within the pool wait.
    case poolTimeout
    /// The host's queue of requests waiting for a connection is full.
    case poolFull
    /// The response head did not arrive within the head timeout (counted from when the request was sent).
    case headTimeout
    /// The connection sent nothing for the idle timeout while the reader waited for more of the body.
    case idleTimeout
    /// The exchange as a whole outlasted its total deadline.
    case totalTimeout
    /// The server closed the connection before the response ended.
    case connectionClosed
    /// The connection failed with an I/O error (a reset is `ECONNRESET`).
    case io(Int32)
    /// The server sent something that is not an HTTP/1 response (or sent bytes while no request was open).
    case invalidResponse
    /// The request was cancelled: its task, or the reader who let go of its body.
    case cancelled
    /// The client was shut down.
    case shutdown

    /// An error from the channel pipeline, as this client tells them apart.
    static func from(_ error: any Error) -> HTTP1Error {
        if let error = error as? HTTP1Error { return error }
        if let error = error as? IOError { return .io(error.errnoCode) }
        // A body cut short by the connection closing is reported by the decoder as an unexpected end of input.
        if let error = error as? HTTPParserError { return error == .invalidEOFState ? .connectionClosed : .invalidResponse }
        if let error = error as? ChannelError {
            switch error {
            case .connectTimeout: return .connectTimeout
            case .eof, .outputClosed, .ioOnClosedChannel, .alreadyClosed: return .connectionClosed
            default: return .connectFailed
            }
        }
        return .connectionClosed
    }

    /// The failure as `UpstreamClient` reports failures (the same kinds and phases `UpstreamClient.classify`
    /// gives AsyncHTTPClient's errors): timeouts by phase, a closed connection or an unreadable answer as a
    /// protocol error, anything that stopped the connection from being made or kept (including an I/O error
    /// such as a reset, as `classify` does for NIO's errors) as a connect failure.
    public func upstreamFailure(upstream: String) -> UpstreamFailure {
        switch self {
        case .connectTimeout: UpstreamFailure(kind: .timeout, upstream: upstream, phase: .connect)
        // Waiting for a connection of the pool is part of getting one (AsyncHTTPClient counted it against the head's
        // deadline, `first byte`); `connect` names what was short.
        case .poolTimeout: UpstreamFailure(kind: .timeout, upstream: upstream, phase: .connect)
        case .headTimeout: UpstreamFailure(kind: .timeout, upstream: upstream, phase: .firstByte)
        case .idleTimeout: UpstreamFailure(kind: .timeout, upstream: upstream, phase: .idle)
        case .totalTimeout: UpstreamFailure(kind: .timeout, upstream: upstream, phase: .total)
        case .connectionClosed, .invalidResponse: UpstreamFailure(kind: .protocolError, upstream: upstream)
        case .cancelled: UpstreamFailure(kind: .cancelled, upstream: upstream)
        case .connectFailed, .poolFull, .io, .shutdown: UpstreamFailure(kind: .connect, upstream: upstream)
        }
    }
}
