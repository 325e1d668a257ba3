import Foundation
import Testing
import TrellisServer

/// `admin.key_file` must be private to its owner, as ssh insists for a private key: a file its group or other
/// users may read (or write) is refused at start, naming the file, its mode and the fix.
@Suite("admin.key_file permissions")
struct KeyFilePermissionTests {
    static let key = "op-key-0123456789abcdef"

    /// Writes the key into a fresh directory with `mode`; returns the file's path and the directory.
    static func keyFile(mode: Int) throws -> (path: String, directory: URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("trellis-keyfile-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("admin.key").path
        try Data("\(key)\n".utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        return (path, directory)
    }

    @Test(
        "a key file open to its group or to others is refused, naming the file, the mode and chmod 600",
        arguments: [0o644, 0o640, 0o604, 0o660, 0o620, 0o602, 0o777, 0o440, 0o444])
    func groupOrWorldAccessIsRefused(mode: Int) throws {
        let (path, directory) = try Self.keyFile(mode: mode)
        defer { try? FileManager.default.removeItem(at: directory) }
        for load in [
            { try TrellisConfig.load(file: nil, environment: ["TRELLIS_ADMIN_KEY_FILE": path]) },
            { try TrellisConfig.load(file: nil, environment: [:], overrides: ["admin.key_file": path]) },
        ] {
            do {
                _ = try load()
                Issue.record("mode \(String(mode, radix: 8)) was accepted")
            } catch let error as ConfigError {
                #expect(error.key == "admin.key_file")
                #expect(error.problem.contains(path))
                #expect(error.problem.contains("0" + String(mode, radix: 8)), "\(error.problem)")
                #expect(error.problem.contains("chmod 600"))
                #expect(!error.description.contains(Self.key), "the key never appears in the error")
            }
        }
    }

    @Test("a key file only its owner may use is accepted", arguments: [0o600, 0o400, 0o700, 0o500])
    func ownerOnlyIsAccepted(mode: Int) throws {
        let (path, directory) = try Self.keyFile(mode: mode)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = try TrellisConfig.load(file: nil, environment: ["TRELLIS_ADMIN_KEY_FILE": path])
        #expect(config.adminKey == Self.key)
    }

    @Test("through a symbolic link (how Kubernetes mounts secrets) the mode of the file it points to decides")
    func symbolicLinkFollowsTheTarget() throws {
        let (path, directory) = try Self.keyFile(mode: 0o644)
        defer { try? FileManager.default.removeItem(at: directory) }
        let link = directory.appendingPathComponent("link").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: path)
        #expect(throws: ConfigError.self) { try TrellisConfig.load(file: nil, environment: ["TRELLIS_ADMIN_KEY_FILE": link]) }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        #expect(try TrellisConfig.load(file: nil, environment: ["TRELLIS_ADMIN_KEY_FILE": link]).adminKey == Self.key)
    }
}
