import GRDB

/// A record whose camel-case properties are snake_case columns (`tenantID` ↔ `tenant_id`), mapped by GRDB's
/// column coding strategies rather than by hand-written coding keys.
///
/// Encoding is GRDB's `.convertToSnakeCase`. Decoding cannot be its `.convertFromSnakeCase`: that turns
/// `tenant_id` into `tenantId`, which is not the property `tenantID`, so it uses the exact inverse for this
/// code's names (`SnakeCase.key(forColumn:)`: `id` and `url` words are upper-cased).
protocol SnakeCaseRecord: Codable, FetchableRecord, EncodableRecord {}

extension SnakeCaseRecord {
    static var databaseColumnEncodingStrategy: DatabaseColumnEncodingStrategy { .convertToSnakeCase }
    static var databaseColumnDecodingStrategy: DatabaseColumnDecodingStrategy { .custom(SnakeCase.key(forColumn:)) }
}

enum SnakeCase {
    /// The words written in capitals in property names.
    static let acronyms: Set<String> = ["id", "url"]

    /// `tenantID` → `tenant_id`, `baseURL` → `base_url`: the conversion of GRDB's `.convertToSnakeCase` (a word
    /// starts at a capital after a small letter, and at the last capital of a run followed by a small letter).
    static func column(forKey name: String) -> String {
        let characters = Array(name)
        var words: [String] = []
        var word = ""
        for (i, c) in characters.enumerated() {
            if c.isUppercase, !word.isEmpty {
                let afterCapital = characters[i - 1].isUppercase
                let beforeSmall = i + 1 < characters.count && characters[i + 1].isLowercase
                if !afterCapital || beforeSmall {
                    words.append(word)
                    word = ""
                }
            }
            word.append(c)
        }
        words.append(word)
        return words.map { $0.lowercased() }.joined(separator: "_")
    }

    /// `tenant_id` → `tenantID`, `base_url` → `baseURL`, `at_ms` → `atMs`: the inverse of `column(forKey:)`.
    static func key(forColumn column: String) -> any CodingKey {
        let words = column.split(separator: "_").map(String.init)
        guard let first = words.first else { return Key(column) }
        var name = first
        for word in words.dropFirst() {
            name += acronyms.contains(word) ? word.uppercased() : word.prefix(1).uppercased() + word.dropFirst()
        }
        return Key(name)
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

extension Column {
    /// The column of a `SnakeCaseRecord` property: `Column(snakeCase: CodingKeys.tenantID)` is `tenant_id`.
    init(snakeCase key: some CodingKey) {
        self.init(SnakeCase.column(forKey: key.stringValue))
    }
}
