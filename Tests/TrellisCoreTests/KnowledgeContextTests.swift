import OpenAIWire
import Testing
import TrellisCore

/// The context a RAG model receives and the citations its answer carries: `[n]` in the system message is
/// citation `index` n.
@Suite struct KnowledgeContextTests {
    static let chunks = [
        RetrievedChunk(chunkID: 41, documentID: "doc_a", title: "Claims guide", heading: "Filing › Deadlines", text: "File within thirty days.", score: 0.91),
        RetrievedChunk(chunkID: 7, documentID: "doc_b", title: "Policy FAQ", heading: "", text: "Windscreens are covered.", score: 0.5),
        RetrievedChunk(chunkID: 99, documentID: "doc_a", title: "Claims guide", heading: "Filing", text: "Use the online form.", score: 0.25),
    ]

    @Test func passagesAreNumberedInCitationOrder() throws {
        let passages = KnowledgeContext.passages(Self.chunks, query: "how to file")
        #expect(
            passages == """
                [1] Claims guide › Filing › Deadlines — File within thirty days.

                [2] Policy FAQ — Windscreens are covered.

                [3] Claims guide › Filing — Use the online form.
                """)
        let citations = try #require(KnowledgeContext.citations(Self.chunks).arrayValue)
        #expect(citations.count == 3)
        for (i, c) in citations.enumerated() {
            let chunk = Self.chunks[i]
            #expect(c["index"]?.numberValue?.intValue == i + 1)
            #expect(c["document_id"]?.stringValue == chunk.documentID)
            #expect(c["title"]?.stringValue == chunk.title)
            #expect(c["chunk_id"]?.numberValue?.intValue == Int(chunk.chunkID))
            #expect(abs((c["score"]?.numberValue?.doubleValue ?? -1) - chunk.score) < 1e-6)
            #expect(c["snippet"]?.stringValue == chunk.text)
            // The passage marked [n] is the one this citation names.
            #expect(passages.contains("[\(i + 1)] \(chunk.title)") && passages.contains("— \(chunk.text)"))
        }
        let system = KnowledgeContext.systemMessage(Self.chunks, query: "how to file", template: nil)
        let positions = (1...3).compactMap { n in system.range(of: "[\(n)] ")?.lowerBound }
        #expect(positions.count == 3 && positions == positions.sorted())
    }

    @Test func englishAndChineseInstructions() {
        let english = KnowledgeContext.systemMessage(Self.chunks, query: "How do I file a claim?", template: nil)
        #expect(english.hasPrefix("Answer using the numbered passages"))
        #expect(english.contains("[1]") && english.lowercased().contains("cite"))
        #expect(english.contains("do not contain the answer"))
        #expect(english.hasSuffix(KnowledgeContext.passages(Self.chunks, query: "How do I file a claim?")))
        let chinese = KnowledgeContext.systemMessage(Self.chunks, query: "怎么申请理赔？", template: nil)
        #expect(chinese.hasPrefix("请根据"))
        #expect(chinese.contains("没有答案") && chinese.contains("[1]"))
        #expect(!chinese.contains("Answer using"))
        #expect(KnowledgeContext.template(for: "车险 claim", custom: nil) == KnowledgeContext.chineseTemplate, "any CJK in the query")
        #expect(KnowledgeContext.template(for: "claim 123", custom: nil) == KnowledgeContext.englishTemplate)
    }

    @Test func customTemplateReceivesTheContext() {
        let template = "Sources follow.\n{{context}}\nEnd of sources. Answer briefly."
        let system = KnowledgeContext.systemMessage(Self.chunks, query: "怎么理赔", template: template)
        #expect(system == "Sources follow.\n" + KnowledgeContext.passages(Self.chunks, query: "怎么理赔") + "\nEnd of sources. Answer briefly.")
        // A passage that happens to contain a placeholder is inserted as text, never expanded.
        let tricky = [RetrievedChunk(chunkID: 1, documentID: "d", title: "T", heading: "", text: "literal {{context}} here", score: 1)]
        #expect(KnowledgeContext.systemMessage(tricky, query: "q", template: "<{{context}}>") == "<[1] T — literal {{context}} here>")
    }

    @Test func nothingFoundSaysSo() {
        let english = KnowledgeContext.systemMessage([], query: "unknown topic", template: nil)
        #expect(english.contains("No relevant passages"))
        #expect(!english.split(separator: "\n").contains { $0.hasPrefix("[1]") }, "no numbered passage")
        #expect(KnowledgeContext.systemMessage([], query: "不知道", template: nil).contains("没有找到"))
        #expect(KnowledgeContext.citations([]) == .array([]))
    }

    @Test func contextGoesAfterTheLeadingSystemMessages() {
        func roles(_ messages: [JSONValue]) -> [String] { messages.compactMap { $0["role"]?.stringValue } }
        let conversation: [JSONValue] = [
            ["role": "system", "content": "You are helpful."], ["role": "developer", "content": "Be brief."],
            ["role": "user", "content": "hi"], ["role": "assistant", "content": "hello"], ["role": "system", "content": "late"],
            ["role": "user", "content": "question"],
        ]
        let inserted = KnowledgeContext.insert("CONTEXT", into: conversation)
        #expect(roles(inserted) == ["system", "developer", "system", "user", "assistant", "system", "user"])
        #expect(inserted[2]["content"]?.stringValue == "CONTEXT")
        #expect(Array(inserted[0..<2]) == Array(conversation[0..<2]) && Array(inserted[3...]) == Array(conversation[2...]), "nothing else moves")
        let userOnly = KnowledgeContext.insert("CONTEXT", into: [["role": "user", "content": "q"]])
        #expect(roles(userOnly) == ["system", "user"] && userOnly[0]["content"]?.stringValue == "CONTEXT")
        #expect(roles(KnowledgeContext.insert("C", into: [["role": "system", "content": "s"]])) == ["system", "system"])
        #expect(KnowledgeContext.insert("C", into: []).count == 1)
    }

    @Test func queryIsTheLastUserMessage() {
        let messages: [JSONValue] = [
            ["role": "user", "content": "first question"], ["role": "assistant", "content": "answer"],
            ["role": "user", "content": "second question"], ["role": "assistant", "content": "partial"],
        ]
        #expect(KnowledgeContext.query(from: messages) == "second question")
        let multimodal: [JSONValue] = [
            ["role": "system", "content": "s"],
            [
                "role": "user",
                "content": [
                    ["type": "text", "text": "这张发票"], ["type": "image_url", "image_url": ["url": "data:image/png;base64,AAAA"]],
                    ["type": "text", "text": "能报销吗"],
                ],
            ],
        ]
        #expect(KnowledgeContext.query(from: multimodal) == "这张发票\n能报销吗")
        let imageOnly: [JSONValue] = [["role": "user", "content": [["type": "image_url", "image_url": ["url": "x"]]]]]
        #expect(KnowledgeContext.query(from: imageOnly) == nil)
        #expect(KnowledgeContext.query(from: [["role": "system", "content": "only system"]]) == nil)
        #expect(KnowledgeContext.query(from: []) == nil)
    }

    @Test func snippetsAreTruncatedByCharacters() throws {
        let long = String(repeating: "理", count: 150) + String(repeating: "👨‍👩‍👧", count: 100)
        let exact = String(repeating: "a", count: KnowledgeContext.snippetLength)
        let chunks = [
            RetrievedChunk(chunkID: 1, documentID: "d1", title: "t", heading: "", text: long, score: 1),
            RetrievedChunk(chunkID: 2, documentID: "d2", title: "t", heading: "", text: exact, score: 1),
        ]
        let citations = try #require(KnowledgeContext.citations(chunks).arrayValue)
        let snippet = try #require(citations[0]["snippet"]?.stringValue)
        #expect(snippet.hasSuffix("…"))
        #expect(snippet.count == KnowledgeContext.snippetLength + 1)
        #expect(long.hasPrefix(String(snippet.dropLast())), "a prefix of whole Characters")
        #expect(snippet.dropLast().last == "👨‍👩‍👧", "the last emoji is whole")
        #expect(citations[1]["snippet"]?.stringValue == exact, "text at the limit is not marked as cut")
        // The passage itself is never truncated.
        #expect(KnowledgeContext.passages(chunks, query: "q").contains(long))
    }
}
