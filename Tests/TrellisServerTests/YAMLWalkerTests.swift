import Foundation
import OpenAIWire
import Testing

@testable import TrellisServer

/// The catalog file and the configuration file are read by one walker (`YAMLWalker`) with a visitor each:
/// what each refuses, and in which words, is what it was before they shared it.
@Suite struct YAMLWalkerTests {
    private func catalogFailure(_ text: String) -> String? {
        do {
            _ = try YAMLJSON.parse(text)
            return nil
        } catch {
            return (error as? YAMLJSON.Failure)?.description
        }
    }

    @Test func theCatalogRefusesWhatItAlwaysRefused() {
        // Yams refuses a duplicate key when it composes the document; the walker would too.
        #expect(catalogFailure("a: 1\nb: 2\na: 3\n")?.contains("'a'") == true)
        #expect(catalogFailure("? [x]\n: 1\n") == "mapping keys must be strings")
        #expect(catalogFailure("a:\n  - ? {k: v}\n    : 1\n") == "mapping keys must be strings")
        // 64 levels are read (the root is level 0); the 65th is refused, in lists and mappings alike.
        #expect(catalogFailure(String(repeating: "[", count: 63) + "1" + String(repeating: "]", count: 63)) == nil)
        #expect(catalogFailure(String(repeating: "[", count: 64) + "1" + String(repeating: "]", count: 64)) == "nested too deeply")
        #expect(catalogFailure(String(repeating: "{a: ", count: 64) + "1" + String(repeating: "}", count: 64)) == "nested too deeply")
    }

    @Test func theCatalogKeepsOrderAndNesting() throws {
        let value = try YAMLJSON.parse("z: 1\na:\n  - {y: 2, b: [true, ~]}\n  - x\nm: {}\nl: []\n")
        #expect(JSONWriter.string(value) == #"{"z":1,"a":[{"y":2,"b":[true,null]},"x"],"m":{},"l":[]}"#)
        #expect(try YAMLJSON.parse("") == .object(JSONObject()))
        #expect(try YAMLJSON.parse("[1, a]") == [1, "a"])
    }

    private func settingsFailure(_ text: String, known: Set<String>, lists: Set<String> = []) throws -> ConfigError? {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("trellis-walker-\(UUID().uuidString).yaml").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        var raw = RawSettings()
        do {
            try raw.loadYAML(path: path, knownKeys: known, listKeys: lists)
            return nil
        } catch let error as ConfigError {
            #expect(error.source == path || error.key == "--config")
            return error
        }
    }

    @Test func theConfigurationRefusesWhatItAlwaysRefused() throws {
        let known: Set<String> = ["server.port", "server.tls.key_file", "cors.origins"]
        let lists: Set<String> = ["cors.origins"]
        let rootKey = try #require(try settingsFailure("? [x]\n: 1\n", known: known))
        #expect(rootKey.key == "(root)" && rootKey.problem == "keys must be strings")
        let nestedKey = try #require(try settingsFailure("server:\n  ? [x]\n  : 1\n", known: known))
        #expect(nestedKey.key == "server" && nestedKey.problem == "keys must be strings")
        // An unknown section is refused before anything in it is read.
        let section = try #require(try settingsFailure("sever:\n  ? [x]\n  : 1\n", known: known))
        #expect(section.key == "sever" && section.problem == "unknown setting")
        let item = try #require(try settingsFailure("cors:\n  origins: [a, [b]]\n", known: known, lists: lists))
        #expect(item.key == "cors.origins" && item.problem == "list items must be plain values")
        let single = try #require(try settingsFailure("server:\n  port: [1]\n", known: known, lists: lists))
        #expect(single.key == "server.port" && single.problem == "must be a single value, not a list")
        let top = try #require(try settingsFailure("- a\n", known: known))
        #expect(top.key == "--config" && top.problem == "the top level must be a mapping of settings")
    }

    @Test func theConfigurationFlattensKeysAndLists() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("trellis-walker-\(UUID().uuidString).yaml").path
        try Data("server:\n  port: 10\n  tls:\n    key_file: k\ncors:\n  origins: a, b\nadmin:\n".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        var raw = RawSettings()
        try raw.loadYAML(path: path, knownKeys: ["server.port", "server.tls.key_file", "cors.origins", "admin.key"], listKeys: ["cors.origins"])
        #expect(raw["server.port"]?.text == "10")
        #expect(raw["server.tls.key_file"]?.text == "k")
        #expect(raw["cors.origins"]?.list == ["a", "b"])
        #expect(raw["admin.key"] == nil, "an empty section sets nothing")
    }
}
