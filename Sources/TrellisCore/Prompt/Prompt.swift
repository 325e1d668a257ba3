import Foundation

/// A prompt in the library: a name (owned by a tenant, or shared), immutable numbered versions, and labels
/// that point at versions and can be moved (`production` → 3).
public struct Prompt: Sendable, Equatable {
    public struct Version: Sendable, Equatable {
        public var version: Int
        public var definition: PromptDefinition
        public var createdAt: Date

        public init(version: Int, definition: PromptDefinition, createdAt: Date) {
            self.version = version
            self.definition = definition
            self.createdAt = createdAt
        }
    }

    public var id: String
    public var name: String
    public var tenantID: String?
    public var description: String?
    public var createdAt: Date
    /// Ascending by version number.
    public var versions: [Version]
    public var labels: [String: Int]

    public init(
        id: String, name: String, tenantID: String?, description: String?, createdAt: Date, versions: [Version], labels: [String: Int]
    ) {
        self.id = id
        self.name = name
        self.tenantID = tenantID
        self.description = description
        self.createdAt = createdAt
        self.versions = versions.sorted { $0.version < $1.version }
        self.labels = labels
    }

    public func version(_ number: Int) -> Version? {
        versions.first { $0.version == number }
    }

    public var latest: Version? { versions.last }

    /// Label names: letters, digits, `-`, `_`, `.`; at most 64 characters.
    public static func isValidLabel(_ label: String) -> Bool {
        !label.isEmpty && label.utf8.count <= 64
            && label.utf8.allSatisfy {
                ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x5F || $0 == 0x2E
            }
            && !label.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }
}
