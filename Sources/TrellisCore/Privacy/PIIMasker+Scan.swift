// One scan over a text: the segments to look at, digit runs, and the spans accepted so far.

extension PIIMasker {
    /// A match: bytes `start..<end` of the text.
    struct Span {
        var start: Int
        var end: Int
        var kind: Kind
        var key: String
    }

    /// Every match in `b`, sorted by position, none overlapping.
    func spans(in b: UnsafeBufferPointer<UInt8>) -> [Span] {
        var scan = Scan(b: b, masker: self)
        for segment in Self.openSegments(b) {
            scan.run(segment)
        }
        return scan.accepted.sorted { $0.start < $1.start }
    }

    /// The matching state of one `mask` call.
    struct Scan {
        let b: UnsafeBufferPointer<UInt8>
        let masker: PIIMasker
        var accepted: [Span] = []
        /// Bytes already inside an accepted span; allocated on the first match.
        var taken: [Bool] = []
        /// The segment being scanned.
        var segment = 0..<0

        init(b: UnsafeBufferPointer<UInt8>, masker: PIIMasker) {
            self.b = b
            self.masker = masker
        }

        mutating func run(_ segment: Range<Int>) {
            self.segment = segment
            let rules = masker.rules
            if rules.idCard || rules.bankCard || rules.phone {
                let runs = digitRuns(segment)
                if !runs.isEmpty {
                    if rules.idCard { idCards(runs, segment) }
                    if rules.bankCard { bankCards(runs) }
                    if rules.phone { phones(runs) }
                }
            }
            if rules.email { emails(segment) }
            if !masker.compiled.isEmpty { customs(segment) }
        }

        mutating func accept(_ start: Int, _ end: Int, _ kind: Kind, _ key: String) {
            if taken.isEmpty { taken = [Bool](repeating: false, count: b.count) }
            for i in start..<end where taken[i] { return }
            for i in start..<end { taken[i] = true }
            accepted.append(Span(start: start, end: end, kind: kind, key: key))
        }

        /// Maximal runs of ASCII digits. Segment edges are never digits, so these are maximal in the whole text.
        func digitRuns(_ segment: Range<Int>) -> [Range<Int>] {
            var runs: [Range<Int>] = []
            var i = segment.lowerBound
            while i < segment.upperBound {
                if PIIByte.isDigit(b[i]) {
                    let start = i
                    while i < segment.upperBound && PIIByte.isDigit(b[i]) { i += 1 }
                    runs.append(start..<i)
                } else {
                    i += 1
                }
            }
            return runs
        }

        /// The separator joining run `k` to run `k - 1`: a single space or dash between them, or with `dots` also a
        /// dot (phones are written `138.1234.5678`; a dot between card or ID groups is too rare to risk).
        func joiner(_ runs: [Range<Int>], _ k: Int, dots: Bool = false) -> UInt8? {
            guard k > 0, k < runs.count, runs[k].lowerBound - runs[k - 1].upperBound == 1 else { return nil }
            let c = b[runs[k].lowerBound - 1]
            return c == PIIByte.space || c == PIIByte.dash || (dots && c == PIIByte.dot) ? c : nil
        }

        /// Nothing number-like directly before `start`: no digit, no `<digit>.`.
        func leftClear(_ start: Int) -> Bool {
            guard start > 0 else { return true }
            let c = b[start - 1]
            if PIIByte.isDigit(c) { return false }
            return !(c == PIIByte.dot && start >= 2 && PIIByte.isDigit(b[start - 2]))
        }

        /// Nothing number-like directly after `end`: no digit, no `.<digit>`, and no `@` starting an e-mail domain
        /// when e-mail is masked (the digits are then the local part of an address, masked whole by the e-mail rule).
        func rightClear(_ end: Int) -> Bool {
            guard end < b.count else { return true }
            let c = b[end]
            if PIIByte.isDigit(c) || (c == PIIByte.at && masker.rules.email && domainEnd(afterAt: end) != nil) { return false }
            return !(c == PIIByte.dot && end + 1 < b.count && PIIByte.isDigit(b[end + 1]))
        }

        func string(_ start: Int, _ end: Int) -> String {
            String(decoding: UnsafeBufferPointer(rebasing: b[start..<end]), as: UTF8.self)
        }
    }
}
