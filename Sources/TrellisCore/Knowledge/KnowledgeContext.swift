import OpenAIWire

/// Turns retrieved chunks into the context a RAG model receives and the citations its answer carries. The
/// passages are numbered `[1]`, `[2]`, … in a system message that asks the model to cite them by number
/// and to say when they do not hold the answer; citation `index` n is the passage marked `[n]`.
public enum KnowledgeContext {
    public static let englishTemplate = """
        Answer using the numbered passages below from the knowledge base. Cite the passages you use by their \
        numbers, like [1]. If the passages do not contain the answer, say that you do not know rather than \
        guessing.

        {{context}}
        """

    public static let chineseTemplate = """
        请根据下面编号的知识库段落回答问题，并用编号注明引用的段落，例如 [1]。如果这些段落中没有答案，请直接说明不知道，不要编造。

        {{context}}
        """

    public static let snippetLength = 200

    /// The template for a query: Chinese when the query is written in CJK characters, else English, unless
    /// the spec gives its own.
    public static func template(for query: String, custom: String?) -> String {
        if let custom { return custom }
        return query.unicodeScalars.contains(where: SearchTokenizer.isCJK) ? chineseTemplate : englishTemplate
    }

    /// `[n] title › heading — text` per passage; a note instead when nothing was found.
    public static func passages(_ chunks: [RetrievedChunk], query: String) -> String {
        if chunks.isEmpty {
            return query.unicodeScalars.contains(where: SearchTokenizer.isCJK) ? "（知识库中没有找到相关段落。）" : "(No relevant passages were found in the knowledge base.)"
        }
        return chunks.enumerated().map { i, c in
            let source = c.heading.isEmpty ? c.title : "\(c.title) › \(c.heading)"
            return "[\(i + 1)] \(source) — \(c.text)"
        }.joined(separator: "\n\n")
    }

    public static func systemMessage(_ chunks: [RetrievedChunk], query: String, template: String?) -> String {
        PromptTemplate(Self.template(for: query, custom: template)).render(["context": passages(chunks, query: query)])
    }

    public static func citations(_ chunks: [RetrievedChunk]) -> JSONValue {
        .array(
            chunks.enumerated().map { i, c in
                [
                    "index": .int(i + 1), "document_id": .string(c.documentID), "title": .string(c.title), "chunk_id": .int(Int(c.chunkID)),
                    "score": .double((c.score * 1e6).rounded() / 1e6), "snippet": .string(snippet(c.text)),
                ]
            })
    }

    static func snippet(_ text: String) -> String {
        text.count <= snippetLength ? text : String(text.prefix(snippetLength)) + "…"
    }

    /// Inserts the context after the leading system/developer messages, before the conversation.
    public static func insert(_ system: String, into messages: [JSONValue]) -> [JSONValue] {
        var out = messages
        let position =
            out.firstIndex { m in
                let role = m["role"]?.stringValue
                return role != "system" && role != "developer"
            } ?? out.count
        out.insert(["role": "system", "content": .string(system)], at: position)
        return out
    }

    /// The text to search with: the last user message (its text parts, for multimodal content).
    public static func query(from messages: [JSONValue]) -> String? {
        guard let last = messages.last(where: { $0["role"]?.stringValue == "user" }) else { return nil }
        switch last["content"] {
        case .string(let s)?: return s
        case .array(let parts)?:
            let text = parts.compactMap { $0["type"]?.stringValue == "text" ? $0["text"]?.stringValue : nil }.joined(separator: "\n")
            return text.isEmpty ? nil : text
        default: return nil
        }
    }
}
