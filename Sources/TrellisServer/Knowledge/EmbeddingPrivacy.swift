import TrellisCore

/// What a knowledge base sends to its embedding upstream: document chunks when they are stored, and search queries
/// (a RAG model's too).
///
/// - An upstream labelled `external`: with `privacy.external_embeddings: refuse` (the default) nothing is sent
///   (creating a knowledge base on it, uploading into one and vector search are refused with 403
///   `external_embeddings_refused`; hybrid search answers from the keyword index); with `mask`, personal data is
///   masked first, as for chat.
/// - Any other upstream: masked when `privacy.mask` is `all`, else sent as it is.
///
/// Embedding masked text is meaningful, with one limit: the text around a value carries the meaning a vector
/// search matches on, and it is kept, while the value itself becomes a placeholder such as `[PHONE_1]`.
/// Placeholders are numbered per embedding call (one session per batch of chunks, or per query), so their numbers
/// say nothing across chunks or between a document and a query: a search for the number itself finds nothing by
/// vector. It still finds it by keyword: the keyword index, the stored chunks and the passages a RAG model puts in
/// its prompt are built locally from the unmasked text (and that prompt is masked again for an external chat
/// upstream). Nothing is restored: an embedding is a vector.
struct EmbeddingPrivacy: Sendable {
    var policy: ExternalEmbeddingPolicy = .refuse
    var scope: PIIMaskScope = .external
    var masker: PIIMasker

    static let refusedCode = "external_embeddings_refused"

    /// The refusal for a knowledge base whose embedding upstream is external, naming `param` when a request field
    /// chose it.
    static func refusal(upstream: String, param: String? = nil) -> TrellisError {
        TrellisError(
            status: 403, type: "permission_error", code: refusedCode,
            message:
                "The embedding upstream '\(upstream.prefix(128))' is labelled external, and this deployment does not send knowledge-base text to external embedding services (privacy.external_embeddings: refuse).",
            param: param)
    }

    /// Whether a knowledge base may be created with its embedding model on `upstream`.
    func check(_ upstream: Upstream, param: String) throws(TrellisError) {
        if upstream.labels.contains(.external), policy == .refuse { throw Self.refusal(upstream: upstream.name, param: param) }
    }

    /// The texts to send to `upstream` for embedding: refused, masked or as they are (see above).
    func inputs(_ inputs: [String], for upstream: Upstream) throws(TrellisError) -> [String] {
        let external = upstream.labels.contains(.external)
        if external, policy == .refuse { throw Self.refusal(upstream: upstream.name) }
        guard external || scope == .all else { return inputs }
        var session = masker.session()
        return inputs.map { session.mask($0) }
    }
}
