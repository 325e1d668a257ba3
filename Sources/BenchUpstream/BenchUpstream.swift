// trellis-bench-upstream: a deliberately cheap OpenAI-compatible model server for benchmarks.
//
// It answers from canned bytes so that, in a benchmark, nearly all the CPU and latency measured "through the
// gateway" belongs to the gateway. Built on SwiftNIO directly (no Hummingbird, no JSON parsing): the request
// body is only searched for `"stream": true` and `"include_usage": true`.
//
//   POST /v1/chat/completions   chat.completion with usage, or an SSE stream of --chunks chunks
//   GET  /v1/models             one model
//
// The paths are also served without the /v1 prefix. See bench/run.sh for how it is used.

import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

@main
enum BenchUpstream {
    static func main() {
        let options: Options
        do {
            options = try Options.parse(Array(CommandLine.arguments.dropFirst()))
        } catch {
            if error.message.isEmpty {
                print(Options.usage)
                exit(0)
            }
            printError("trellis-bench-upstream: \(error.message)\n\n\(Options.usage)")
            exit(2)
        }

        let canned = Canned(chunks: options.chunks)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: options.threads)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler(canned: canned))
                }
            }

        do {
            let channel = try bootstrap.bind(host: options.host, port: options.port).wait()
            let port = channel.localAddress?.port ?? options.port
            // bench/run.sh reads the port from this line (it starts the server with --port 0).
            print(
                "trellis-bench-upstream listening on http://\(options.host):\(port) "
                    + "(threads: \(options.threads), chunks: \(options.chunks))")
            fflush(nil)  // stdout is a pipe in bench/run.sh: push the line out now
            try channel.closeFuture.wait()
        } catch {
            printError("trellis-bench-upstream: \(error)")
            try? group.syncShutdownGracefully()
            exit(1)
        }
        try? group.syncShutdownGracefully()
    }

    static func printError(_ message: String) {
        let bytes = Array((message + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}

// MARK: - Options

struct Options: Sendable {
    var host = "127.0.0.1"
    var port = 8090
    var threads = 1
    var chunks = 16

    struct UsageError: Error {
        /// Empty for `--help`.
        var message: String
    }

    static let usage = """
        usage: trellis-bench-upstream [--host HOST] [--port PORT] [--threads N] [--chunks N]

          --host HOST    address to listen on (default 127.0.0.1)
          --port PORT    port to listen on; 0 picks a free one (default 8090)
          --threads N    event loop threads (default 1)
          --chunks N     content chunks in a streamed answer (default 16)
        """

    static func parse(_ arguments: [String]) throws(UsageError) -> Options {
        var options = Options()
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            var name = argument
            var inlineValue: String?
            if let equals = argument.firstIndex(of: "="), argument.hasPrefix("--") {
                name = String(argument[..<equals])
                inlineValue = String(argument[argument.index(after: equals)...])
            }
            func value() throws(UsageError) -> String {
                if let inlineValue { return inlineValue }
                guard let next = rest.popFirst() else { throw UsageError(message: "\(name) needs a value") }
                return next
            }
            func integer(in range: ClosedRange<Int>) throws(UsageError) -> Int {
                let text = try value()
                guard let n = Int(text), range.contains(n) else {
                    throw UsageError(message: "\(name) must be an integer from \(range.lowerBound) to \(range.upperBound), got '\(text)'")
                }
                return n
            }
            switch name {
            case "--host": options.host = try value()
            case "--port": options.port = try integer(in: 0...65535)
            case "--threads": options.threads = try integer(in: 1...1024)
            case "--chunks": options.chunks = try integer(in: 1...100_000)
            case "-h", "--help": throw UsageError(message: "")
            default: throw UsageError(message: "unknown argument '\(argument)'")
            }
        }
        return options
    }
}

// MARK: - Canned answers

/// Every answer, built once. `ByteBuffer` is copy-on-write, so writing these never copies the bytes.
struct Canned: Sendable {
    let completion: ByteBuffer
    let models: ByteBuffer
    let notFound: ByteBuffer
    let streamChunks: [ByteBuffer]
    let streamUsage: ByteBuffer
    let streamDone: ByteBuffer

    static let model = "bench-model"
    static let created = 1_700_000_000

    init(chunks: Int) {
        let words = (0..<chunks).map { "tok\($0) " }
        let content = words.joined()
        let promptTokens = 24
        let usage = #"{"prompt_tokens":\#(promptTokens),"completion_tokens":\#(chunks),"total_tokens":\#(promptTokens + chunks)}"#

        completion = ByteBuffer(
            string: #"{"id":"chatcmpl-bench","object":"chat.completion","created":\#(Self.created),"model":"\#(Self.model)","#
                + #""choices":[{"index":0,"message":{"role":"assistant","content":"\#(content)"},"logprobs":null,"finish_reason":"stop"}],"#
                + #""usage":\#(usage),"system_fingerprint":"bench"}"#)

        models = ByteBuffer(
            string: #"{"object":"list","data":[{"id":"\#(Self.model)","object":"model","created":\#(Self.created),"owned_by":"bench"}]}"#)
        notFound = ByteBuffer(
            string: #"{"error":{"message":"not found","type":"invalid_request_error","param":null,"code":"not_found"}}"#)

        let prefix =
            #"data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":\#(Self.created),"model":"\#(Self.model)","#
            + #""system_fingerprint":"bench","choices":"#
        streamChunks = words.enumerated().map { index, word in
            let role = index == 0 ? #""role":"assistant","# : ""
            let finish = index == words.count - 1 ? #""stop""# : "null"
            return ByteBuffer(
                string: prefix + #"[{"index":0,"delta":{\#(role)"content":"\#(word)"},"logprobs":null,"finish_reason":\#(finish)}]}"# + "\n\n")
        }
        streamUsage = ByteBuffer(string: prefix + #"[],"usage":\#(usage)}"# + "\n\n")
        streamDone = ByteBuffer(string: "data: [DONE]\n\n")
    }
}

// MARK: - Request body inspection

enum BodyFlags {
    /// Whether `"key"` appears followed (after optional whitespace, `:`, whitespace) by `true`. A byte search,
    /// not a parser: it assumes the key is not also used as a string value elsewhere, which holds for the
    /// bodies a benchmark sends.
    static func isTrue(_ key: StaticString, in body: ByteBuffer?) -> Bool {
        guard let body else { return false }
        return body.withUnsafeReadableBytes { bytes in
            key.withUTF8Buffer { needle in
                search(needle: needle, in: bytes)
            }
        }
    }

    private static func search(needle: UnsafeBufferPointer<UInt8>, in bytes: UnsafeRawBufferPointer) -> Bool {
        // needle is the key without quotes; match `"` + key + `"`.
        let quote = UInt8(ascii: "\"")
        let total = needle.count + 2
        guard bytes.count >= total else { return false }
        var start = 0
        while start + total <= bytes.count {
            if bytes[start] == quote, bytes[start + total - 1] == quote {
                var matches = true
                for i in 0..<needle.count where bytes[start + 1 + i] != needle[i] {
                    matches = false
                    break
                }
                if matches {
                    var i = start + total
                    i = skipSpace(bytes, from: i)
                    if i < bytes.count, bytes[i] == UInt8(ascii: ":") {
                        i = skipSpace(bytes, from: i + 1)
                        if i + 4 <= bytes.count, bytes[i] == UInt8(ascii: "t"), bytes[i + 1] == UInt8(ascii: "r"),
                            bytes[i + 2] == UInt8(ascii: "u"), bytes[i + 3] == UInt8(ascii: "e")
                        {
                            return true
                        }
                    }
                }
            }
            start += 1
        }
        return false
    }

    private static func skipSpace(_ bytes: UnsafeRawBufferPointer, from index: Int) -> Int {
        var i = index
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): i += 1
            default: return i
            }
        }
        return i
    }
}

// MARK: - HTTP handler

final class UpstreamHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let canned: Canned
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?

    init(canned: Canned) {
        self.canned = canned
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body?.clear()
        case .body(var chunk):
            body.setOrWriteBuffer(&chunk)
        case .end:
            guard let head else { return }
            self.head = nil
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        var path = Substring(head.uri)
        if let query = path.firstIndex(of: "?") { path = path[..<query] }
        if path.hasPrefix("/v1/") { path = path.dropFirst(3) }

        switch (head.method, path) {
        case (.POST, "/chat/completions"):
            if BodyFlags.isTrue("stream", in: body) {
                stream(head: head, includeUsage: BodyFlags.isTrue("include_usage", in: body), context: context)
            } else {
                whole(head: head, status: .ok, body: canned.completion, context: context)
            }
        case (.GET, "/models"):
            whole(head: head, status: .ok, body: canned.models, context: context)
        default:
            whole(head: head, status: .notFound, body: canned.notFound, context: context)
        }
    }

    private func responseHead(for request: HTTPRequestHead, status: HTTPResponseStatus, contentType: String, length: Int?) -> HTTPResponseHead {
        var headers = HTTPHeaders()
        headers.reserveCapacity(4)
        headers.add(name: "content-type", value: contentType)
        if let length {
            headers.add(name: "content-length", value: String(length))
        } else {
            headers.add(name: "cache-control", value: "no-cache")
        }
        if !request.isKeepAlive {
            headers.add(name: "connection", value: "close")
        } else if request.version.major == 1 && request.version.minor == 0 {
            headers.add(name: "connection", value: "keep-alive")
        }
        return HTTPResponseHead(version: request.version, status: status, headers: headers)
    }

    private func whole(head: HTTPRequestHead, status: HTTPResponseStatus, body: ByteBuffer, context: ChannelHandlerContext) {
        context.write(
            wrapOutboundOut(.head(responseHead(for: head, status: status, contentType: "application/json", length: body.readableBytes))),
            promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        finish(keepAlive: head.isKeepAlive, context: context)
    }

    /// One chunked-encoding write per SSE event, flushed once at the end (the events arrive together, as
    /// they would from a server far faster than its reader).
    private func stream(head: HTTPRequestHead, includeUsage: Bool, context: ChannelHandlerContext) {
        context.write(
            wrapOutboundOut(.head(responseHead(for: head, status: .ok, contentType: "text/event-stream", length: nil))), promise: nil)
        for chunk in canned.streamChunks {
            context.write(wrapOutboundOut(.body(.byteBuffer(chunk))), promise: nil)
        }
        if includeUsage {
            context.write(wrapOutboundOut(.body(.byteBuffer(canned.streamUsage))), promise: nil)
        }
        context.write(wrapOutboundOut(.body(.byteBuffer(canned.streamDone))), promise: nil)
        finish(keepAlive: head.isKeepAlive, context: context)
    }

    private func finish(keepAlive: Bool, context: ChannelHandlerContext) {
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                channel.close(promise: nil)
            }
        }
    }
}
