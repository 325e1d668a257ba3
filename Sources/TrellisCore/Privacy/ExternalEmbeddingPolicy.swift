/// What a knowledge base may do with an embedding model on an upstream labelled `external`
/// (`privacy.external_embeddings`): refuse (the default: documents and search queries never leave for an outside
/// embedding service), or mask personal data in them first.
public enum ExternalEmbeddingPolicy: String, Sendable, CaseIterable {
    case refuse
    case mask
}
