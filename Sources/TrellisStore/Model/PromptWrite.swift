import TrellisCore

/// What `CatalogStore.writePrompt` did.
public struct PromptWrite: Sendable {
    public var prompt: Prompt
    public var version: Int
    /// False when the posted definition equals the latest version's, which is then returned unchanged.
    public var created: Bool

    public init(prompt: Prompt, version: Int, created: Bool) {
        self.prompt = prompt
        self.version = version
        self.created = created
    }
}
