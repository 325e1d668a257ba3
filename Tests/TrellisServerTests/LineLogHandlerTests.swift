import Logging
import Synchronization
import Testing

@testable import TrellisServer

/// The gateway's log handler: `StreamLogHandler`'s line format, with metadata formatted only when a line is written.
@Suite struct LineLogHandlerTests {
    /// The lines a handler wrote.
    final class Lines: Sendable {
        let written = Mutex<[String]>([])
        var all: [String] { written.withLock { $0 } }
        func logger(label: String = "trellis", level: Logger.Level = .info) -> Logger {
            var handler = LineLogHandler(label: label, metadataProvider: nil) { line in self.written.withLock { $0.append(line) } }
            handler.logLevel = level
            return Logger(label: label) { _ in handler }
        }
    }

    /// A metadata value that counts how often it is formatted.
    final class Counted: CustomStringConvertible, Sendable {
        let count = Mutex(0)
        var description: String {
            count.withLock { $0 += 1 }
            return "counted"
        }
    }

    @Test("a line is time, level, label, the metadata sorted by key, the source and the message")
    func lineShape() throws {
        let lines = Lines()
        var logger = lines.logger()
        logger[metadataKey: "request_id"] = "req_1"
        logger[metadataKey: "b"] = "2"
        logger.info("hello", metadata: ["a": "1", "b": "two"])
        let line = try #require(lines.all.first)
        #expect(lines.all.count == 1)
        #expect(line.hasSuffix(" info trellis: a=1 b=two request_id=req_1 [TrellisServerTests] hello\n"))
        // 2026-12-07T06:30:00+0000: the time to the second with its offset.
        let time = String(line.prefix { $0 != " " })
        #expect(time.count == 24)
        #expect(time.dropFirst(4).first == "-" && time.dropFirst(10).first == "T" && time.dropFirst(19).first.map { "+-".contains($0) } == true)
    }

    @Test("a line without metadata has none, an empty label leaves no space, and lines below the level are not written")
    func bareLines() throws {
        let lines = Lines()
        let logger = lines.logger(label: "", level: .warning)
        logger.info("not written")
        logger.warning("written")
        #expect(lines.all.count == 1)
        #expect(try #require(lines.all.first).hasSuffix(" warning: [TrellisServerTests] written\n"))
    }

    @Test("setting metadata formats nothing; a line formats each value once")
    func metadataFormattedWhenWritten() {
        let lines = Lines()
        let counted = Counted()
        var logger = lines.logger(level: .warning)
        logger[metadataKey: "hb.request.id"] = .stringConvertible(counted)
        logger[metadataKey: "request_id"] = "req_2"
        logger.info("below the level")
        #expect(counted.count.withLock { $0 } == 0)
        logger.warning("written")
        #expect(counted.count.withLock { $0 } == 1)
        #expect(lines.all.first?.contains("hb.request.id=counted request_id=req_2") == true)
    }

    @Test("an error's message and type join the metadata, and the provider's values are merged under the line's")
    func errorAndProvider() throws {
        struct Broken: Error, CustomStringConvertible { var description: String { "it broke" } }
        let written = Mutex<[String]>([])
        let provider = Logger.MetadataProvider { ["tenant": "acme", "a": "provided"] }
        let handler = LineLogHandler(label: "t", metadataProvider: provider) { line in written.withLock { $0.append(line) } }
        let logger = Logger(label: "t") { _ in handler }
        logger.error("failed", error: Broken(), metadata: ["a": "line"])
        let line = try #require(written.withLock { $0.first })
        #expect(line.contains(" error t: a=line error.message=it broke error.type="))
        #expect(line.contains("Broken tenant=acme [TrellisServerTests] failed\n"))
    }
}
