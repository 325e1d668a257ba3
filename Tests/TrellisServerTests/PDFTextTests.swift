import Foundation
import OpenAIWire
import Testing
import TrellisCore

@testable import TrellisServer

#if canImport(Glibc)
    import Glibc
#endif

/// `pdftotext` parses whatever a tenant uploads, so it runs fenced: no environment, no inherited descriptors,
/// CPU and address-space limits, a deadline, a cap on its output, and killed when the upload is abandoned.
/// The converter is injected: small shell scripts stand in for a hostile or broken one.
@Suite struct PDFTextTests {
    static let hasPdftotext = PDFText.tool != nil
    static let skipReason: Comment = "pdftotext is not installed (Debian: apt-get install poppler-utils)"

    /// Both ways of applying the limits that this machine has.
    static var limiters: [ResourceLimiter] {
        (FileManager.default.isExecutableFile(atPath: ResourceLimiter.prlimitPath) ? [.prlimit(ResourceLimiter.prlimitPath)] : []) + [.shell("/bin/sh")]
    }

    /// A directory for a test's scripts and the files they leave behind.
    struct Scratch {
        let directory: URL

        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("trellis-pdf-test-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }

        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

        /// An executable shell script standing in for `pdftotext`.
        func tool(_ body: String) throws -> String {
            let path = path("tool-\(UUID().uuidString).sh")
            try Data("#!/bin/sh\n\(body)\n".utf8).write(to: URL(fileURLWithPath: path))
            try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: path)
            return path
        }

        /// The process id a script wrote to `name`, once it exists (nil if it never appears within `seconds`).
        func pid(in name: String, within seconds: Double = 60) async throws -> pid_t? {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if let text = try? String(contentsOfFile: path(name), encoding: .utf8), text.hasSuffix("\n"),
                    let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
                {
                    return pid
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            return nil
        }

        func remove() { try? FileManager.default.removeItem(at: directory) }
    }

    /// Waits (up to a bound only a process that was never killed reaches) until `pid` is no longer running.
    static func ended(_ pid: pid_t, within seconds: Double = 30) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while FencedProcess.isRunning(pid) {
            guard Date() < deadline else { return false }
            try await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    static func error(of operation: () async throws -> String) async -> (any Error)? {
        do {
            _ = try await operation()
            return nil
        } catch {
            return error
        }
    }

    /// A one-page PDF with one line of Helvetica per element of `lines` (no parentheses or backslashes in them).
    static func pdf(lines: [String]) -> [UInt8] {
        let content = "BT /F1 10 Tf 12 TL 72 750 Td " + lines.map { "(\($0)) Tj T*" }.joined(separator: " ") + " ET"
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
            "<< /Length \(content.utf8.count) >>\nstream\n\(content)\nendstream",
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
        var pdf = "%PDF-1.4\n"
        var offsets: [Int] = []
        for (i, body) in objects.enumerated() {
            offsets.append(pdf.utf8.count)
            pdf += "\(i + 1) 0 obj\n\(body)\nendobj\n"
        }
        let xref = pdf.utf8.count
        pdf += "xref\n0 \(objects.count + 1)\n0000000000 65535 f \n"
        for offset in offsets {
            let digits = String(offset)
            pdf += String(repeating: "0", count: 10 - digits.count) + digits + " 00000 n \n"
        }
        pdf += "trailer\n<< /Size \(objects.count + 1) /Root 1 0 R >>\nstartxref\n\(xref)\n%%EOF\n"
        return Array(pdf.utf8)
    }

    // MARK: The real converter

    @Test("a real PDF is converted to its text, under either limiter", .enabled(if: hasPdftotext, skipReason), arguments: limiters)
    func realPDF(limiter: ResourceLimiter) async throws {
        let pdf = PDFText(limits: .init(timeout: .seconds(60)), limiter: limiter)
        let text = try await pdf.extract(KnowledgeTests.minimalPDF("Windscreen repairs are covered without excess"))
        #expect(text.contains("Windscreen repairs are covered without excess"), "\(text)")
        let broken = await Self.error { try await pdf.extract(Array("%PDF-1.4\nnot really\n".utf8)) }
        #expect((broken as? TrellisError)?.code == "invalid_document")
        #expect((broken as? TrellisError)?.status == 400)
    }

    @Test(
        "a PDF whose text passes knowledge.pdf_max_text_bytes is 413 with an OpenAI-shaped error, and nothing is stored", .enabled(if: hasPdftotext, skipReason)
    )
    func uploadPastTheTextCap() async throws {
        let knowledge = KnowledgeTests()
        try await knowledge.withKnowledgeGateway(configure: { $0.pdfMaxTextBytes = 1_024 }) { gw, _, keys in
            try await knowledge.createKB(gw, "policies", embedding: false)
            let long = Self.pdf(lines: (0..<60).map { "clause \($0) windscreen glass" })
            let reply = try await knowledge.uploadRaw(gw, kb: "policies", key: keys.manage, title: "Long", type: "application/pdf", long)
            #expect(reply.status == 413, "\(reply.text)")
            #expect(reply.errorCode == "document_too_large")
            #expect(reply.json["error"]?["type"]?.stringValue == "invalid_request_error")
            #expect(reply.json["error"]?["message"]?.stringValue?.contains("1024 bytes") == true)
            let short = try await knowledge.uploadRaw(
                gw, kb: "policies", key: keys.manage, title: "Short", type: "application/pdf", KnowledgeTests.minimalPDF("clause 1 windscreen"))
            #expect(short.status == 201, "\(short.text)")
            let list = try await gw.request(.GET, "/admin/v1/knowledge-bases/policies/documents", key: keys.manage)
            #expect(list.json["data"]?.arrayValue?.count == 1)
        }
    }

    @Test("past knowledge.pdf_max_concurrent conversions a PDF upload is 503 with Retry-After; the slot comes back", .enabled(if: hasPdftotext, skipReason))
    func conversionsAreCapped() async throws {
        let knowledge = KnowledgeTests()
        try await knowledge.withKnowledgeGateway(configure: { $0.pdfMaxConcurrent = 1 }) { gw, _, keys in
            try await knowledge.createKB(gw, "policies", embedding: false)
            let pdf = KnowledgeTests.minimalPDF("clause 1 windscreen")
            // Another conversion holds the only slot.
            #expect(gw.gateway.pdfConversions.enter())
            let busy = try await knowledge.uploadRaw(gw, kb: "policies", key: keys.manage, title: "Busy", type: "application/pdf", pdf)
            #expect(busy.status == 503, "\(busy.text)")
            #expect(busy.errorCode == "server_overloaded" && busy.headers.first(name: "Retry-After") == "1")
            gw.gateway.pdfConversions.leave()
            let done = try await knowledge.uploadRaw(gw, kb: "policies", key: keys.manage, title: "Done", type: "application/pdf", pdf)
            #expect(done.status == 201, "\(done.text)")
            #expect(gw.gateway.pdfConversions.current == 0)
        }
    }

    // MARK: The fence

    @Test("the converter sees no environment and no descriptor of the gateway's, under either limiter", arguments: limiters)
    func emptyEnvironment(limiter: ResourceLimiter) async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        // A variable only this test's process has, named like the secrets the gateway holds, and a descriptor
        // without close-on-exec: neither may reach the converter.
        let canary = "TRELLIS_PDF_TEST_CANARY_API_KEY"
        setenv(canary, "secret-\(UUID().uuidString)", 1)
        let leaky = open("/dev/zero", O_RDONLY)
        try #require(leaky >= 0)
        defer { close(leaky) }
        let tool = try scratch.tool(
            """
            /usr/bin/env
            echo ---
            exec /usr/bin/find /proc/self/fd -mindepth 1 -printf '%f %l\\n'
            """)
        let text = try await PDFText(tool: tool, limits: .init(timeout: .seconds(60)), limiter: limiter).extract(KnowledgeTests.minimalPDF("x"))
        let parts = text.components(separatedBy: "---\n")
        try #require(parts.count == 2, "\(text)")
        let names = parts[0].split(separator: "\n").compactMap { $0.split(separator: "=", maxSplits: 1).first.map(String.init) }
        // What the shell running the script sets by itself; nothing comes from the gateway.
        #expect(Set(names).isSubset(of: ["PWD", "OLDPWD", "SHLVL", "_"]), "the converter saw: \(names)")
        #expect(!names.contains(canary))
        #expect(
            ProcessInfo.processInfo.environment[canary] != nil && ProcessInfo.processInfo.environment["PATH"] != nil, "the test's own environment is not empty")
        var targets: [Int: String] = [:]
        for line in parts[1].split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 1).map(String.init)
            if fields.count == 2, let fd = Int(fields[0]) { targets[fd] = fields[1] }
        }
        #expect(targets[0] == "/dev/null" && targets[2] == "/dev/null", "stdin and stderr: \(targets)")
        #expect(targets[1]?.hasPrefix("pipe:") == true)
        #expect(!targets.values.contains("/dev/zero"), "an inherited descriptor: \(targets)")
        #expect(!targets.values.contains { $0.hasPrefix("socket:") }, "a socket of the test's: \(targets)")
    }

    @Test("CPU-time and address-space limits are in force in the converter, under either limiter", arguments: limiters)
    func limitsApply(limiter: ResourceLimiter) async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let tool = try scratch.tool("ulimit -t; ulimit -v")
        let limits = PDFText.Limits(timeout: .milliseconds(4_500), maxTextBytes: 1_024, memoryBytes: 256 << 20)
        let text = try await PDFText(tool: tool, limits: limits, limiter: limiter).extract(KnowledgeTests.minimalPDF("x"))
        #expect(text.split(separator: "\n") == ["5", "\((256 << 20) / 1024)"], "ulimit -t and -v in the converter: \(text)")
    }

    @Test("a converter that never finishes is killed at the deadline, with everything it started", arguments: limiters)
    func timeout(limiter: ResourceLimiter) async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let sleeper = scratch.path("sleeper.pid")
        let tool = try scratch.tool(
            """
            /bin/sleep 1000 &
            echo $! > \(sleeper)
            wait
            """)
        let limits = PDFText.Limits(timeout: .milliseconds(300))
        let command = PDFText(tool: tool, limits: limits, limiter: limiter).command(tool: tool, input: "/dev/null")
        let outcome = try await FencedProcess.run(command, timeout: limits.timeout, maxOutputBytes: 1_024)
        #expect(outcome.ending == .timedOut)
        #expect(!FencedProcess.isRunning(outcome.pid), "the converter was reaped")
        // The deadline may come before the script started its child; if it did start one, it dies too.
        if let text = try? String(contentsOfFile: sleeper, encoding: .utf8), let child = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            #expect(try await Self.ended(child), "the converter's own child was killed with it")
        }

        let error = await Self.error { try await PDFText(tool: tool, limits: limits, limiter: limiter).extract(KnowledgeTests.minimalPDF("x")) }
        let trellis = try #require(error as? TrellisError, "\(String(describing: error))")
        #expect(trellis.status == 400)
        #expect(trellis.code == "document_too_complex")
        #expect(trellis.message.contains("300 ms"))
    }

    @Test("a converter that writes without end is stopped at the output cap", arguments: limiters)
    func endlessOutput(limiter: ResourceLimiter) async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let tool = try scratch.tool("exec /usr/bin/yes 'all work and no play makes jack a dull boy'")
        let limits = PDFText.Limits(timeout: .seconds(120), maxTextBytes: 1 << 20)
        let command = PDFText(tool: tool, limits: limits, limiter: limiter).command(tool: tool, input: "/dev/null")
        let outcome = try await FencedProcess.run(command, timeout: limits.timeout, maxOutputBytes: limits.maxTextBytes)
        #expect(outcome.ending == .outputCapExceeded)
        #expect(outcome.output.count == limits.maxTextBytes)
        #expect(outcome.bytesRead > limits.maxTextBytes && outcome.bytesRead <= limits.maxTextBytes + FencedProcess.readSize, "read \(outcome.bytesRead) bytes")
        #expect(!FencedProcess.isRunning(outcome.pid))
        print("endless writer (\(limiter)): stopped after reading \(outcome.bytesRead) bytes, cap \(limits.maxTextBytes)")

        let error = await Self.error { try await PDFText(tool: tool, limits: limits, limiter: limiter).extract(KnowledgeTests.minimalPDF("x")) }
        let trellis = try #require(error as? TrellisError, "\(String(describing: error))")
        #expect(trellis.status == 413)
        #expect(trellis.code == "document_too_large")
        #expect(trellis.type == "invalid_request_error")
    }

    @Test("cancelling the caller (the client left) kills the converter at once", arguments: limiters)
    func cancellation(limiter: ResourceLimiter) async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let tool = try scratch.tool(
            """
            echo $$ > \(scratch.path("started.pid"))
            exec /bin/sleep 1000
            """)
        // A deadline far beyond the test: only the cancellation can end this run in time.
        let pdf = PDFText(tool: tool, limits: .init(timeout: .seconds(600)), limiter: limiter)
        let bytes = KnowledgeTests.minimalPDF("x")
        let task = Task { try await pdf.extract(bytes) }
        let pid = try #require(try await scratch.pid(in: "started.pid"), "the converter never started")
        #expect(FencedProcess.isRunning(pid))
        task.cancel()
        let error = await Self.error { try await task.value }
        #expect(error is CancellationError, "\(String(describing: error))")
        #expect(!FencedProcess.isRunning(pid), "the converter was killed and reaped before the call returned")
    }

    @Test("a converter that exits with an error is 400 invalid_document; one killed by a limit is 400 document_too_complex")
    func failures() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let failing = try scratch.tool("echo partial; exit 3")
        let failed = await Self.error { try await PDFText(tool: failing).extract(KnowledgeTests.minimalPDF("x")) }
        #expect((failed as? TrellisError)?.code == "invalid_document")
        // A converter killed by a signal it did not get from the gateway (as RLIMIT_CPU's SIGXCPU would).
        let crashing = try scratch.tool("kill -s XCPU $$")
        let crashed = await Self.error { try await PDFText(tool: crashing).extract(KnowledgeTests.minimalPDF("x")) }
        #expect((crashed as? TrellisError)?.code == "document_too_complex")
        #expect((crashed as? TrellisError)?.status == 400)
        let missing = await Self.error { try await PDFText(tool: nil).extract(KnowledgeTests.minimalPDF("x")) }
        #expect((missing as? TrellisError)?.status == 415)
    }
}
