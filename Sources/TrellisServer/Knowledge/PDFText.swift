import Foundation
import TrellisCore

/// PDF text through poppler's `pdftotext`, when it is installed, run fenced: `pdftotext` parses whatever a
/// tenant uploads, so it gets nothing of the gateway's (no environment: no `TRELLIS_ADMIN_KEY`, no upstream
/// API keys; no open descriptors), a wall-clock deadline, CPU-time and address-space limits, and a cap on the
/// text it may write; it is killed (with anything it started) at the deadline, past the cap, or when the
/// upload is abandoned. See ``FencedProcess`` and ``ResourceLimiter``.
struct PDFText: Sendable {
    static let candidates = ["/usr/bin/pdftotext", "/usr/local/bin/pdftotext"]

    /// The installed `pdftotext`, if any.
    static var tool: String? { candidates.first { FileManager.default.isExecutableFile(atPath: $0) } }

    struct Limits: Sendable {
        /// Wall clock for one conversion (`knowledge.pdf_timeout_ms`).
        var timeout: Duration = .seconds(30)
        /// The most text one PDF may produce (`knowledge.pdf_max_text_bytes`).
        var maxTextBytes = 16 << 20
        /// Address space of the converter (`knowledge.pdf_max_memory_bytes`).
        var memoryBytes = 1 << 30

        /// CPU seconds: the timeout rounded up. `pdftotext` is single-threaded, so within the deadline it cannot
        /// use more; the limit is what stops it should the gateway die before it could kill it.
        var cpuSeconds: Int {
            let (seconds, attoseconds) = timeout.components
            return max(1, Int(seconds) + (attoseconds > 0 ? 1 : 0))
        }
    }

    /// The converter: `pdftotext`, or in tests any program taking its arguments.
    var tool: String?
    var limits: Limits
    var limiter: ResourceLimiter

    init(tool: String? = PDFText.tool, limits: Limits = Limits(), limiter: ResourceLimiter = .standard) {
        self.tool = tool
        self.limits = limits
        self.limiter = limiter
    }

    init(config: TrellisConfig) {
        self.init(
            limits: Limits(
                timeout: .milliseconds(config.pdfTimeoutMs), maxTextBytes: config.pdfMaxTextBytes, memoryBytes: config.pdfMaxMemoryBytes))
    }

    /// The command run for an input file: the limiter, then the converter writing UTF-8 text to stdout.
    func command(tool: String, input: String) -> [String] {
        limiter.command([tool, "-enc", "UTF-8", "-q", input, "-"], cpuSeconds: limits.cpuSeconds, memoryBytes: limits.memoryBytes)
    }

    /// The PDF's text. Throws an OpenAI-shaped `TrellisError` for a PDF that cannot be converted within the
    /// limits, and `CancellationError` when the calling task was cancelled (the converter is killed first).
    func extract(_ bytes: [UInt8]) async throws -> String {
        guard let tool else {
            throw TrellisError.unsupportedMediaType(
                "PDF needs pdftotext (Debian: apt-get install poppler-utils) on the gateway's machine; upload text instead.")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("trellis-pdf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("in.pdf")
        try Data(bytes).write(to: input)
        let outcome: FencedProcess.Outcome
        do {
            outcome = try await FencedProcess.run(
                command(tool: tool, input: input.path), timeout: limits.timeout, maxOutputBytes: limits.maxTextBytes)
        } catch is FencedProcess.SpawnError {
            throw TrellisError.unavailable("The PDF converter could not be started; try again later.")
        }
        return try Self.text(of: outcome, limits: limits)
    }

    /// The text of a finished run, or the error its ending means.
    static func text(of outcome: FencedProcess.Outcome, limits: Limits) throws -> String {
        switch outcome.ending {
        case .exited(0):
            return String(decoding: outcome.output, as: UTF8.self)
        case .exited:
            throw TrellisError.invalidRequest("The PDF could not be read.", code: "invalid_document")
        case .signalled:
            throw TrellisError.invalidRequest(
                "Converting the PDF stopped at the gateway's CPU or memory limit for conversions; split the document or upload its text.",
                code: "document_too_complex")
        case .timedOut:
            throw TrellisError.invalidRequest(
                "Converting the PDF took longer than the gateway allows (\(Int(limits.timeout.milliseconds)) ms); split the document or upload its text.",
                code: "document_too_complex")
        case .outputCapExceeded:
            throw TrellisError(
                status: 413, type: "invalid_request_error", code: "document_too_large",
                message: "The PDF's text is longer than the gateway allows (\(limits.maxTextBytes) bytes); split the document or upload its text.")
        case .cancelled:
            throw CancellationError()
        }
    }
}

/// Puts CPU-time (RLIMIT_CPU) and address-space (RLIMIT_AS) limits on a program before it starts: a small
/// program sets them on itself with setrlimit and then execs the real one, which keeps its process id (and
/// so its process group). `posix_spawn` has no way to run setrlimit in the child, Foundation's `Process`
/// none either, and setting them on the child from outside after it started leaves a window in which it runs
/// unlimited; `fork` in a multithreaded Swift process may run nothing but async-signal-safe code.
///
/// util-linux's `prlimit` (installed on Debian and Ubuntu by default) when present; otherwise the POSIX
/// shell's `ulimit` builtins, which make the same calls: `/bin/sh` is on every system `pdftotext` is.
enum ResourceLimiter: Sendable, Equatable {
    /// `prlimit --cpu=N --as=BYTES -- program args…`
    case prlimit(String)
    /// `sh -c 'ulimit -t N && ulimit -v KIB && exec "$0" "$@"' program args…`
    case shell(String)

    static let prlimitPath = "/usr/bin/prlimit"

    static let standard: ResourceLimiter =
        FileManager.default.isExecutableFile(atPath: prlimitPath) ? .prlimit(prlimitPath) : .shell("/bin/sh")

    func command(_ argv: [String], cpuSeconds: Int, memoryBytes: Int) -> [String] {
        switch self {
        case .prlimit(let path):
            return [path, "--cpu=\(cpuSeconds)", "--as=\(memoryBytes)", "--"] + argv
        case .shell(let path):
            // The program and its arguments stay positional parameters: nothing of them is parsed by the shell.
            return [path, "-c", "ulimit -t \(cpuSeconds) && ulimit -v \(memoryBytes / 1024) && exec \"$0\" \"$@\""] + argv
        }
    }
}
