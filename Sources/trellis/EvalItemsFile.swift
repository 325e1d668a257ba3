import Foundation
import OpenAIWire

/// The items of an evaluation set as `trellis eval upload` reads them from a file: a JSON array of items, a JSON
/// object with `items`, or JSON Lines (one item object per line, blank lines skipped).
struct EvalItemsFile {
    /// The items, in the file's order.
    var items: [JSONValue]
    /// The line each item starts on (1-based), to name it in errors.
    var lines: [Int]

    struct Problem: Error, CustomStringConvertible {
        let description: String
    }

    /// Reads `path`, or standard input for `-`.
    static func read(_ path: String) throws -> EvalItemsFile {
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let contents = FileManager.default.contents(atPath: path) else { throw Problem(description: "cannot read \(path)") }
            data = contents
        }
        return try parse(Array(data), name: path == "-" ? "standard input" : path)
    }

    /// Parses a file's bytes; `name` is how errors call the file.
    static func parse(_ input: [UInt8], name: String) throws -> EvalItemsFile {
        var bytes = input[...]
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }) else { throw Problem(description: "\(name) is empty: it holds no items") }
        switch bytes[first] {
        case UInt8(ascii: "["):
            do {
                return try whole(try JSONParser.parse(bytes), name: name)
            } catch let error as JSONParseError {
                throw Problem(description: "\(name) is not valid JSON (line \(line(at: error.offset, in: bytes))): \(error)")
            }
        case UInt8(ascii: "{"):
            // One JSON object: with "items", or a single item (JSON Lines of one line); else JSON Lines.
            if let value = try? JSONParser.parse(bytes) { return try whole(value, name: name) }
            return try jsonLines(bytes, name: name)
        default:
            throw Problem(description: "\(name) must hold a JSON array of items, a JSON object with \"items\", or JSON Lines (one item object per line)")
        }
    }

    static func whole(_ value: JSONValue, name: String) throws -> EvalItemsFile {
        let items: [JSONValue]
        switch value {
        case .array(let list):
            items = list
        case .object(let object):
            if let list = object["items"] {
                guard case .array(let array) = list else { throw Problem(description: "\(name): \"items\" must be an array") }
                items = array
            } else {
                items = [value]
            }
        default:
            throw Problem(description: "\(name) must hold a JSON array of items or an object with \"items\"")
        }
        guard !items.isEmpty else { throw Problem(description: "\(name) holds no items") }
        return EvalItemsFile(items: items, lines: [])
    }

    static func jsonLines(_ bytes: ArraySlice<UInt8>, name: String) throws -> EvalItemsFile {
        var file = EvalItemsFile(items: [], lines: [])
        for (i, raw) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            guard raw.contains(where: { !isSpace($0) }) else { continue }
            let value: JSONValue
            do {
                value = try JSONParser.parse(raw)
            } catch {
                throw Problem(description: "\(name) line \(i + 1): not valid JSON: \(error)")
            }
            guard case .object = value else { throw Problem(description: "\(name) line \(i + 1): an item must be a JSON object, not \(value.typeName)") }
            file.items.append(value)
            file.lines.append(i + 1)
        }
        guard !file.items.isEmpty else { throw Problem(description: "\(name) holds no items") }
        return file
    }

    /// Adds the line of the item a gateway error names (`items[3]`), for JSON Lines files.
    func locate(_ message: String, name: String) -> String {
        guard !lines.isEmpty, let range = message.range(of: "items[") else { return message }
        let digits = message[range.upperBound...].prefix(while: \.isNumber)
        guard let index = Int(digits), lines.indices.contains(index) else { return message }
        return "\(message) (\(name) line \(lines[index]))"
    }

    static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    /// The 1-based line of byte `offset`.
    static func line(at offset: Int, in bytes: ArraySlice<UInt8>) -> Int {
        let end = min(bytes.startIndex + max(offset, 0), bytes.endIndex)
        return bytes[bytes.startIndex..<end].reduce(1) { $0 + ($1 == 0x0A ? 1 : 0) }
    }
}
