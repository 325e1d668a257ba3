import OpenAIWire

/// A value kept from a chunk: parsed, or as the bytes the chunk held it in (parsed only if it is ever needed).
enum KeptValue: Sendable, Equatable {
    case value(JSONValue)
    case bytes([UInt8])

    var value: JSONValue {
        switch self {
        case .value(let value): value
        case .bytes(let bytes): (try? JSONParser.parse(bytes)) ?? .null
        }
    }

    /// Keeps `bytes`, unless they are what is kept already (every chunk of a stream repeats its id and time, so
    /// this spares an array per chunk and member).
    mutating func keep(_ bytes: UnsafeBufferPointer<UInt8>) {
        if case .bytes(let kept) = self, kept.withUnsafeBufferPointer({ $0.sameBytes(as: bytes) }) { return }
        self = .bytes(Array(bytes))
    }
}

extension ChatStreamRewriter {
    /// The chunk rewritten in its own bytes: `model` replaced, a `"usage": null` removed or added as the client asked,
    /// the rest as the upstream wrote it; and what accounting needs read on the way (content for the estimate and
    /// the kept text, the finish reason). Nil when the chunk needs the tree: an error, reported usage, a key with an
    /// escape, a member twice, a line break between tokens, or anything not valid JSON.
    mutating func rewriteInPlace(_ data: String) -> (Rewritten, hasContent: Bool)? {
        var data = data
        return data.withUTF8 { bytes in rewriteInPlace(bytes) }
    }

    private mutating func rewriteInPlace(_ b: UnsafeBufferPointer<UInt8>) -> (Rewritten, hasContent: Bool)? {
        // One pass over the chunk, keeping only what the rewrite looks at (no array of members per chunk); `choices`
        // is read as the pass comes to it.
        var top = TopMembers()
        var read = ChoicesRead()
        var refused = false
        let close = JSONScan.members(
            b, at: 0,
            reading: { key, value, depth in
                JSONScan.key(b, key, is: "choices") ? read.read(b, at: value, depth: depth) : .stepOver
            },
            { m in
                if !refused, !top.take(b, m) { refused = true }
            })
        guard let close, !refused, !read.refused, JSONScan.onlySpace(b, from: close + 1) else { return nil }
        if let usage = top.usage, !JSONScan.isNull(b, usage.member.value) { return nil }

        read.forEachPiece { piece in
            estimatedCompletionTokens += TokenEstimator.estimate(text: piece.text)
            if piece.isContent, keepText, text.utf8.count < 1 << 20 { text += piece.text }
        }
        if let reason = read.finishReason { finishReason = reason }
        if read.hasContent { contentChunks += 1 }
        if clientWantsUsage {
            if let id = top.id { lastID.keep(UnsafeBufferPointer(rebasing: b[id.value])) }
            if let created = top.created { lastCreated.keep(UnsafeBufferPointer(rebasing: b[created.value])) }
        }
        chunks += 1
        return (.bytes(edited(b, close: close, top)), read.hasContent)
    }

    /// The chunk's bytes with `model` replaced and `usage` removed or added.
    private func edited(_ b: UnsafeBufferPointer<UInt8>, close: Int, _ top: TopMembers) -> [UInt8] {
        // At most two edits, which never overlap (`model` and `usage` are different members): in the order they
        // come in the chunk, without an array of them.
        var usageEdit: (range: Range<Int>, with: [UInt8])?
        if let usage = top.usage, !clientWantsUsage {
            // With the comma before it (after the member before), or, as the first member, the comma after it.
            let whole = usage.member.whole
            let range =
                usage.previousEnd.map { $0..<whole.upperBound } ?? whole.lowerBound..<(top.afterUsageStart ?? whole.upperBound)
            usageEdit = (range, [])
        } else if top.usage == nil, clientWantsUsage {
            // OpenAI sends `"usage": null` on every chunk but the last when usage was asked for.
            usageEdit = (close..<close, top.count == 0 ? Self.usageNull : Self.commaUsageNull)
        }
        let modelEdit = top.model.map { (range: $0.value, with: clientModelJSON) }
        var (first, second) = (modelEdit, usageEdit)
        if let m = modelEdit, let u = usageEdit, u.range.lowerBound < m.range.lowerBound { (first, second) = (u, m) }
        var out: [UInt8] = []
        out.reserveCapacity(b.count + clientModelJSON.count + 16)
        var cursor = 0
        func apply(_ edit: (range: Range<Int>, with: [UInt8])?) {
            guard let edit else { return }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: b[cursor..<edit.range.lowerBound]))
            out.append(contentsOf: edit.with)
            cursor = edit.range.upperBound
        }
        apply(first)
        apply(second)
        out.append(contentsOf: UnsafeBufferPointer(rebasing: b[cursor...close]))
        return out
    }

    private static let usageNull = Array(#""usage":null"#.utf8)
    private static let commaUsageNull = Array(#","usage":null"#.utf8)
}

/// The top-level members of a chunk the rewrite looks at, taken one by one as the scan finds them.
private struct TopMembers {
    var model: JSONScan.Member?
    /// `usage`, and the end of the member before it (nil when it comes first).
    var usage: (member: JSONScan.Member, previousEnd: Int?)?
    var choices: JSONScan.Member?
    var id: JSONScan.Member?
    var created: JSONScan.Member?
    /// Where the member after `usage` begins (nil when none follows).
    var afterUsageStart: Int?
    /// Members taken so far.
    var count = 0
    private var previousEnd: Int?

    /// False when the member is one of these a second time, or the chunk is an error.
    mutating func take(_ b: UnsafeBufferPointer<UInt8>, _ m: JSONScan.Member) -> Bool {
        defer {
            count += 1
            previousEnd = m.whole.upperBound
        }
        if usage != nil, afterUsageStart == nil { afterUsageStart = m.whole.lowerBound }
        if JSONScan.key(b, m, is: "model") {
            guard model == nil else { return false }
            model = m
        } else if JSONScan.key(b, m, is: "usage") {
            guard usage == nil else { return false }
            usage = (m, previousEnd)
        } else if JSONScan.key(b, m, is: "choices") {
            guard choices == nil else { return false }
            choices = m
        } else if JSONScan.key(b, m, is: "id") {
            guard id == nil else { return false }
            id = m
        } else if JSONScan.key(b, m, is: "created") {
            guard created == nil else { return false }
            created = m
        } else if JSONScan.key(b, m, is: "error") {
            return false
        }
        return true
    }
}

/// What accounting reads from a chunk's `choices`: the text pieces (content and reasoning), whether any choice
/// carried content or tool calls, and the last finish reason. Read in the chunk's one scan.
private struct ChoicesRead {
    struct Piece {
        var text: String
        var isContent: Bool
    }

    /// The pieces in order: the first held inline, the rest (a second choice, or reasoning beside content) in an
    /// array, so that the usual chunk of one piece allocates none.
    private var firstPiece: Piece?
    private var morePieces: [Piece] = []
    var hasContent = false
    var finishReason: String?
    /// A choice or delta held a member read here twice: the chunk takes the tree's way.
    private(set) var refused = false

    func forEachPiece(_ body: (Piece) -> Void) {
        guard let firstPiece else { return }
        body(firstPiece)
        morePieces.forEach(body)
    }

    private mutating func add(_ piece: Piece) {
        if firstPiece == nil { firstPiece = piece } else { morePieces.append(piece) }
    }

    /// Reads the `choices` value at `start` (nested `depth` deep) as the chunk's scan comes to it. Anything but an
    /// array carries nothing, as in the tree, and is stepped over; so is an element that is not an object.
    mutating func read(_ b: UnsafeBufferPointer<UInt8>, at start: Int, depth: Int) -> JSONScan.ValueRead {
        guard b[start] == UInt8(ascii: "[") else { return .stepOver }
        let end = JSONScan.elements(
            b, at: start, depth: depth,
            reading: { element, depth in
                b[element] == UInt8(ascii: "{") ? readChoice(b, at: element, depth: depth) : .stepOver
            }, { _ in })
        return end.map { .read(end: $0) } ?? .malformed
    }

    /// One choice's delta and finish reason.
    private mutating func readChoice(_ b: UnsafeBufferPointer<UInt8>, at start: Int, depth: Int) -> JSONScan.ValueRead {
        var deltas = 0
        var finish: Range<Int>?
        var finishes = 0
        let close = JSONScan.members(
            b, at: start, depth: depth,
            reading: { key, value, depth in
                guard JSONScan.key(b, key, is: "delta") else { return .stepOver }
                deltas += 1
                return b[value] == UInt8(ascii: "{") ? readDelta(b, at: value, depth: depth) : .stepOver
            },
            { m in
                if JSONScan.key(b, m, is: "finish_reason") {
                    finishes += 1
                    finish = m.value
                }
            })
        guard let close else { return .malformed }
        if deltas > 1 || finishes > 1 { refused = true }
        if let finish, let reason = JSONScan.decodeString(b, finish) { finishReason = reason }
        return .read(end: close + 1)
    }

    /// A delta's content, reasoning and tool calls.
    private mutating func readDelta(_ b: UnsafeBufferPointer<UInt8>, at start: Int, depth: Int) -> JSONScan.ValueRead {
        var content: Range<Int>?
        var reasoning: Range<Int>?
        var calls: Range<Int>?
        var repeated = false
        let close = JSONScan.members(b, at: start, depth: depth) { m in
            if JSONScan.key(b, m, is: "content") {
                repeated = repeated || content != nil
                content = m.value
            } else if JSONScan.key(b, m, is: "reasoning_content") {
                repeated = repeated || reasoning != nil
                reasoning = m.value
            } else if JSONScan.key(b, m, is: "tool_calls") {
                repeated = repeated || calls != nil
                calls = m.value
            }
        }
        guard let close else { return .malformed }
        if repeated { refused = true }
        if let content, let piece = JSONScan.decodeString(b, content), !piece.isEmpty {
            add(Piece(text: piece, isContent: true))
            hasContent = true
        }
        if let reasoning, let piece = JSONScan.decodeString(b, reasoning), !piece.isEmpty {
            add(Piece(text: piece, isContent: false))
            hasContent = true
        }
        if let calls, b[calls.lowerBound] == UInt8(ascii: "[") { hasContent = true }
        return .read(end: close + 1)
    }
}
