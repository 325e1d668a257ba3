import AsyncHTTPClient
import Foundation
import NIOHTTP1
import OpenAIWire
import Testing

@testable import TrellisServer

@Suite struct ConsoleTests {
    static let policy = [
        "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
        "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'",
    ]

    func expectSecurityHeaders(_ reply: TestGateway.Reply, _ path: String) {
        let csp = reply.headers.first(name: "content-security-policy") ?? ""
        for directive in Self.policy {
            #expect(csp.contains(directive), "\(path): CSP lacks \(directive): \(csp)")
        }
        #expect(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "\(path): \(csp)")
        #expect(reply.headers.first(name: "x-content-type-options") == "nosniff", "\(path)")
        #expect(reply.headers.first(name: "referrer-policy") == "no-referrer", "\(path)")
        #expect(reply.headers.first(name: "x-request-id")?.hasPrefix("req_") == true, "\(path)")
    }

    @Test func servesThePageAndItsFilesWithoutAKeyWithStrictHeaders() async throws {
        try await TestGateway.run { gw in
            for path in ["/console", "/console/", "/console/index.html"] {
                let page = try await gw.request(.GET, path)
                #expect(page.status == 200, "\(path)")
                #expect(page.headers.first(name: "content-type") == "text/html; charset=utf-8", "\(path)")
                #expect(page.headers.first(name: "cache-control") == "no-cache", "\(path)")
                #expect(page.text.contains(#"<script type="module" src="/console/app.js"></script>"#), "\(path)")
                #expect(page.text.contains(#"<meta charset="utf-8">"#))
                // Nothing the policy would block: no inline script, style or event handler.
                #expect(page.text.components(separatedBy: "<script").count == 2, "one script element, the module")
                for inline in [" style=", " onclick=", " onload=", " onerror=", "<style", "javascript:"] {
                    #expect(!page.text.contains(inline), "\(path): \(inline)")
                }
                expectSecurityHeaders(page, path)
            }
            // Every file the console serves, from ConsoleController's allowlist, so a new file is checked too.
            #expect(ConsoleController.assets.count >= 7)
            var scripts: [String: String] = [:]
            for name in ConsoleController.assets.keys.sorted() {
                let file = try await gw.request(.GET, "/console/" + name)
                #expect(file.status == 200, "\(name)")
                #expect(file.headers.first(name: "content-type") == Self.contentType(of: name), "\(name)")
                #expect(file.headers.first(name: "content-length") == String(file.body.count), "\(name)")
                #expect(file.body.count > 500, "\(name)")
                expectSecurityHeaders(file, name)
                if name.hasSuffix(".js") { scripts[name] = file.text }
            }
            #expect(Set(["app.js", "lib.js", "i18n.js"]).isSubset(of: Set(scripts.keys)))
            // The scripts never build HTML from strings nor run strings as code; only i18n.js keeps anything in
            // localStorage (the language), and the key lives in sessionStorage.
            for (name, text) in scripts {
                for forbidden in Self.forbiddenInScripts {
                    #expect(!text.contains(forbidden), "\(name) uses \(forbidden)")
                }
                #expect(text.contains("localStorage") == (name == "i18n.js"), "\(name): localStorage")
                // What a script imports is served too.
                for imported in Self.imports(of: text) {
                    #expect(ConsoleController.assets[imported] != nil, "\(name) imports \(imported), which is not served")
                }
            }
            #expect(scripts.values.contains { $0.contains("sessionStorage") })
        }
    }

    /// Calls that build HTML from strings or run strings as code, and inline handlers set from a script.
    static let forbiddenInScripts = [
        "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setTimeout(\"",
        "setInterval(\"", "javascript:", "setAttribute(\"on", ".onclick =", "srcdoc",
    ]

    static func contentType(of name: String) -> String {
        if name.hasSuffix(".js") { return "text/javascript; charset=utf-8" }
        if name.hasSuffix(".css") { return "text/css; charset=utf-8" }
        return "text/html; charset=utf-8"
    }

    /// The files a module imports: `from "./name.js"`.
    static func imports(of script: String) -> [String] {
        script.components(separatedBy: "from \"./").dropFirst().compactMap { rest in
            rest.split(separator: "\"", maxSplits: 1).first.map(String.init)
        }
    }

    /// Every file in the console's source folder is in the allowlist (and so compiled in and served): a file added
    /// there and forgotten in ConsoleController would be a 404 for the browser.
    @Test func everyFileOfTheConsoleIsServed() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/TrellisServer/Resources/console")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { !$0.hasPrefix(".") }
        #expect(!files.isEmpty)
        #expect(
            Set(files) == Set(ConsoleController.assets.keys),
            "on disk but not served: \(Set(files).subtracting(ConsoleController.assets.keys).sorted()); served but not on disk: \(Set(ConsoleController.assets.keys).subtracting(files).sorted())"
        )
        for name in files {
            let onDisk = try Data(contentsOf: folder.appendingPathComponent(name))
            #expect(ConsoleController.assets[name].map { Data($0.bytes) } == onDisk, "\(name): the compiled-in copy differs from the file")
        }
    }

    @Test func headAndConditionalRequests() async throws {
        try await TestGateway.run { gw in
            let full = try await gw.request(.GET, "/console/app.js")
            let head = try await gw.request(.HEAD, "/console/app.js")
            #expect(head.status == 200 && head.body.isEmpty)
            #expect(head.headers.first(name: "content-length") == String(full.body.count))
            #expect(head.headers.first(name: "content-type") == "text/javascript; charset=utf-8")
            let etag = try #require(full.headers.first(name: "etag"))
            let again = try await gw.request(.GET, "/console/app.js", headers: [("If-None-Match", etag)])
            #expect(again.status == 304 && again.body.isEmpty)
            let stale = try await gw.request(.GET, "/console/app.js", headers: [("If-None-Match", "\"other\"")])
            #expect(stale.status == 200 && stale.body == full.body)
        }
    }

    @Test func unknownFilesTraversalAndOtherMethodsAreRefused() async throws {
        try await TestGateway.run { gw in
            for path in ["/console/nope.js", "/console/index.htm", "/console/app.js.map", "/console/%2e%2e%2fPackage.swift", "/console/..%2F..%2Fetc%2Fpasswd"]
            {
                let reply = try await gw.request(.GET, path)
                #expect(reply.status == 404, "\(path)")
                #expect(reply.errorCode == "not_found", "\(path): \(reply.text)")
                #expect(reply.json["error"]?["type"]?.stringValue == "invalid_request_error")
                expectSecurityHeaders(reply, path)
            }
            // Sent byte for byte, without a client normalising the path.
            for target in ["/console/../admin/v1/tenants", "/console/../../etc/passwd", "/console/./app.js/..", "/console/a/b"] {
                let (status, body) = try await rawGET(port: gw.port, target: target)
                #expect(status == 404 || status == 400, "\(target): \(status)")
                #expect(!body.contains("root:"), "\(target)")
                #expect(!body.contains("\"object\":\"list\""), "\(target) reached the admin API")
            }
            for method in [HTTPMethod.POST, .PUT, .DELETE, .PATCH] {
                let reply = try await gw.request(method, "/console/app.js")
                #expect(reply.status == 405, "\(method)")
                #expect(reply.headers.first(name: "allow") == "GET, HEAD")
                #expect(reply.errorCode == "method_not_allowed")
            }
        }
    }

    @Test func staticFilesNeedNoKeyButTheAPIStillDoes() async throws {
        try await TestGateway.run { gw in
            #expect(try await gw.request(.GET, "/console").status == 200)
            #expect(try await gw.request(.GET, "/console", key: "wrong-key-wrong-key").status == 200)
            let usage = try await gw.request(.GET, "/admin/v1/usage")
            #expect(usage.status == 401)
            #expect(try await gw.request(.GET, "/admin/v1/usage", key: "wrong-key-wrong-key").status == 401)
            #expect(try await gw.admin(.GET, "/usage").status == 200)
        }
    }

    @Test func disabledByConfigurationIsNotFound() async throws {
        try await TestGateway.run(configure: { $0.consoleEnabled = false }) { gw in
            for path in ["/console", "/console/", "/console/app.js", "/console/index.html"] {
                let reply = try await gw.request(.GET, path)
                #expect(reply.status == 404, "\(path)")
                #expect(reply.errorCode == "not_found")
            }
            #expect(try await gw.request(.GET, "/healthz").status == 200)
        }
    }

    @Test func theSettingIsReadFromTheFileAndTheEnvironment() throws {
        #expect(try TrellisConfig.load(file: nil, environment: [:]).consoleEnabled)
        #expect(try !TrellisConfig.load(file: nil, environment: ["TRELLIS_CONSOLE_ENABLED": "false"]).consoleEnabled)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("console-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try "console:\n  enabled: false\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try !TrellisConfig.load(file: file, environment: [:]).consoleEnabled)
        #expect(try TrellisConfig.load(file: file, environment: ["TRELLIS_CONSOLE_ENABLED": "true"]).consoleEnabled)
        #expect(throws: (any Error).self) { try TrellisConfig.load(file: nil, environment: ["TRELLIS_CONSOLE_ENABLED": "maybe"]) }
    }
}

/// One HTTP/1.1 GET with the request target exactly as given (no client normalises `..`), over a plain socket.
/// The blocking socket calls run on a Dispatch thread, not on one of the few threads of Swift's cooperative pool,
/// which the gateway under test needs to answer.
func rawGET(port: Int, target: String) async throws -> (status: Int, body: String) {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Result { try blockingGET(port: port, target: target) })
        }
    }
}

private func blockingGET(port: Int, target: String) throws -> (status: Int, body: String) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw RawHTTPError.socket }
    defer { close(fd) }
    // Generous: a loaded machine answers slowly, and only a gateway that never answers reaches it.
    var timeout = timeval(tv_sec: 60, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
    guard connected else { throw RawHTTPError.connect }
    let request = Array("GET \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
    guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.count else { throw RawHTTPError.send }
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { break }
        received.append(contentsOf: buffer[0..<n])
    }
    let text = String(decoding: received, as: UTF8.self)
    let statusLine = text.split(separator: "\r\n").first ?? ""
    let parts = statusLine.split(separator: " ")
    guard parts.count >= 2, let status = Int(parts[1]) else { throw RawHTTPError.response(String(text.prefix(200))) }
    return (status, text)
}

enum RawHTTPError: Error {
    case socket, connect, send
    case response(String)
}
