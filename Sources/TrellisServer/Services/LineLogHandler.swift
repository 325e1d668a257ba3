import Foundation
import Logging

/// The gateway's log lines, in the format of swift-log's `StreamLogHandler`:
/// `<time> <level> <label>: <key=value …> [<source>] <message>`, metadata sorted by key.
///
/// The one difference is when metadata is formatted: when a line is written, not each time a value is set.
/// `StreamLogHandler` formats all of a logger's metadata on every change, and every request sets two values on
/// its logger (Hummingbird's `hb.request.id`, then the gateway's `request_id`). A gateway that logs nothing at
/// its level paid for two formatted lines per request: 3.4 % of a request's instructions.
public struct LineLogHandler: LogHandler {
    /// Where a finished line goes (with its line break).
    public typealias Sink = @Sendable (String) -> Void

    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    let sink: Sink

    public init(label: String, metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider, sink: @escaping Sink) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.sink = sink
    }

    /// Lines on standard error, each in one write.
    public static func standardError(label: String) -> LineLogHandler {
        LineLogHandler(label: label) { line in FileHandle.standardError.write(Data(line.utf8)) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let fields = Self.formatted(Self.merged(base: metadata, provider: metadataProvider, event: event))
        let labelPart = label.isEmpty ? ":" : " \(label):"
        sink("\(Self.timestamp()) \(event.level)\(labelPart)\(fields.map { " \($0)" } ?? "") [\(event.source)] \(event.message)\n")
    }

    /// The logger's metadata, then the provider's, then the line's own, then the error's; a later one wins a key.
    static func merged(base: Logger.Metadata, provider: Logger.MetadataProvider?, event: LogEvent) -> Logger.Metadata {
        var metadata = base
        if let provided = provider?.get(), !provided.isEmpty {
            metadata.merge(provided) { _, provided in provided }
        }
        if let explicit = event.metadata, !explicit.isEmpty {
            metadata.merge(explicit) { _, explicit in explicit }
        }
        if let error = event.error {
            metadata["error.message"] = "\(error)"
            metadata["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        return metadata
    }

    /// `key=value` pairs sorted by key, or nil when there are none.
    static func formatted(_ metadata: Logger.Metadata) -> String? {
        if metadata.isEmpty { return nil }
        return metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    /// Local time to the second with its offset, as `StreamLogHandler` writes it.
    static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        guard localtime_r(&now, &parts) != nil else { return "<unknown>" }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = buffer.withUnsafeMutableBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { strftime($0.baseAddress, $0.count, "%Y-%m-%dT%H:%M:%S%z", &parts) }
        }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }
}
