import Foundation

/// Masks personal data in text before it is sent to an external model server, and puts it back into the answer.
///
/// Built-in kinds: mainland-China resident ID numbers, mainland mobile numbers, bank card numbers and e-mail
/// addresses; plus named custom regular expressions. Each match becomes a placeholder such as `[PHONE_1]`.
/// A masker is the compiled configuration and is shared freely; every request makes its own ``Session``, which
/// numbers placeholders per kind in order of first appearance and gives the same value the same placeholder in
/// all messages of that request.
///
/// Left alone: fenced code blocks (a run of three or more backticks up to the next run at least as long),
/// inline code (a run of one or two backticks up to the next run of the same length on the same line), and URL
/// tokens (`http://` or `https://` up to the next whitespace, non-ASCII character, `<`, `>`, `"` or backtick).
/// An unclosed backtick run is ordinary text, so a stray backtick never switches masking off.
///
/// Numbers are found by one scan over the UTF-8 bytes (ASCII digits only); a match is never part of a longer digit
/// run or separator grouping, nor of a decimal or version number (a `.` between it and another digit), and digits
/// followed by `@` and a domain are left to the e-mail rule. Card numbers also need a known issuer prefix (see
/// `issuerKnown`). On overlap the order is ID card, bank card, phone, e-mail, custom patterns (in list order);
/// masked spans never overlap.
public struct PIIMasker: Sendable {
    /// What a placeholder stands for.
    public enum Kind: Hashable, Sendable {
        case idCard
        case phone
        case bankCard
        case email
        /// A custom pattern, by its configured name (as given, not upper-cased).
        case custom(String)

        /// The placeholder label: `ID_CARD`, `PHONE`, `BANK_CARD`, `EMAIL`, or the custom name upper-cased.
        public var label: String {
            switch self {
            case .idCard: "ID_CARD"
            case .phone: "PHONE"
            case .bankCard: "BANK_CARD"
            case .email: "EMAIL"
            case .custom(let name): name.uppercased()
            }
        }
    }

    /// A named regular expression (ICU syntax, as `NSRegularExpression` takes it). Its matches become
    /// `[<NAME>_n]`, the name upper-cased.
    public struct CustomPattern: Sendable, Equatable {
        /// 1-32 ASCII letters, digits or underscores, starting with a letter; must not upper-case to a built-in label.
        public var name: String
        public var pattern: String

        public init(name: String, pattern: String) {
            self.name = name
            self.pattern = pattern
        }
    }

    /// Which kinds are masked. Every built-in kind is on by default.
    public struct Rules: Sendable, Equatable {
        public var idCard: Bool
        public var phone: Bool
        public var bankCard: Bool
        public var email: Bool
        public var custom: [CustomPattern]

        public init(idCard: Bool = true, phone: Bool = true, bankCard: Bool = true, email: Bool = true, custom: [CustomPattern] = []) {
            self.idCard = idCard
            self.phone = phone
            self.bankCard = bankCard
            self.email = email
            self.custom = custom
        }
    }

    /// Why a configuration was refused.
    public enum ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
        /// The custom pattern `name` is not a valid regular expression.
        case invalidPattern(name: String, pattern: String)
        /// The custom pattern name is not 1-32 ASCII letters, digits or underscores starting with a letter.
        case invalidName(String)
        /// The name's placeholder label is already taken by a built-in kind or another custom pattern.
        case duplicateName(String)

        public var description: String {
            switch self {
            case .invalidPattern(let name, let pattern):
                "custom PII pattern '\(name)' is not a valid regular expression: \(pattern)"
            case .invalidName(let name):
                "custom PII pattern name '\(name)' must be 1-32 ASCII letters, digits or underscores, starting with a letter"
            case .duplicateName(let name):
                "custom PII pattern name '\(name)' gives the same placeholder label as another kind"
            }
        }
    }

    /// A compiled custom pattern. `NSRegularExpression` is immutable once created and documented as safe to use
    /// for matching from several threads at once; Foundation declares it `Sendable`.
    struct Compiled: Sendable {
        let kind: Kind
        let regex: NSRegularExpression
    }

    public let rules: Rules
    let compiled: [Compiled]

    /// Compiles the custom patterns; throws if a pattern does not compile or a name is unusable.
    public init(rules: Rules = Rules()) throws(ConfigurationError) {
        var labels: Set<String> = [Kind.idCard.label, Kind.phone.label, Kind.bankCard.label, Kind.email.label]
        var compiled: [Compiled] = []
        for custom in rules.custom {
            guard Self.validName(custom.name) else { throw .invalidName(custom.name) }
            guard labels.insert(custom.name.uppercased()).inserted else { throw .duplicateName(custom.name) }
            let regex: NSRegularExpression
            do {
                regex = try NSRegularExpression(pattern: custom.pattern)
            } catch {
                throw .invalidPattern(name: custom.name, pattern: custom.pattern)
            }
            compiled.append(Compiled(kind: .custom(custom.name), regex: regex))
        }
        self.rules = rules
        self.compiled = compiled
    }

    /// A fresh per-request masking state.
    public func session() -> Session {
        Session(masker: self)
    }

    static func validName(_ name: String) -> Bool {
        guard let first = name.utf8.first, isLetter(first), name.utf8.count <= 32 else { return false }
        return name.utf8.allSatisfy { isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "_") }
    }

    // MARK: Session

    /// The masking state of one request: placeholders handed out so far and what they stand for.
    public struct Session: Sendable {
        public let masker: PIIMasker
        /// Placeholder → original text, as first seen (`[PHONE_1]` → `138-1234-5678`).
        public private(set) var mapping: [String: String] = [:]
        /// Masked occurrences per kind (a value seen twice counts twice).
        public private(set) var counts: [Kind: Int] = [:]
        private var placeholders: [Key: String] = [:]
        private var next: [Kind: Int] = [:]
        private var longestPlaceholder = 0

        /// The same value of the same kind gets the same placeholder. Phones are keyed by their 11 national digits
        /// (with or without +86 and separators), cards by their digits, ID numbers upper-cased, e-mail addresses
        /// lower-cased, custom matches as matched.
        private struct Key: Hashable {
            let kind: Kind
            let value: String
        }

        public init(masker: PIIMasker) {
            self.masker = masker
        }

        /// `text` with every match replaced by its placeholder.
        public mutating func mask(_ text: String) -> String {
            var contiguous = text
            let masked: String? = contiguous.withUTF8 { b in
                let spans = masker.spans(in: b)
                if spans.isEmpty { return nil }
                var out: [UInt8] = []
                out.reserveCapacity(b.count)
                var position = 0
                for span in spans {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: b[position..<span.start]))
                    let key = Key(kind: span.kind, value: span.key)
                    let placeholder: String
                    if let known = placeholders[key] {
                        placeholder = known
                    } else {
                        let n = next[span.kind, default: 0] + 1
                        next[span.kind] = n
                        placeholder = "[\(span.kind.label)_\(n)]"
                        placeholders[key] = placeholder
                        mapping[placeholder] = String(decoding: UnsafeBufferPointer(rebasing: b[span.start..<span.end]), as: UTF8.self)
                        longestPlaceholder = max(longestPlaceholder, placeholder.utf8.count)
                    }
                    counts[span.kind, default: 0] += 1
                    out.append(contentsOf: placeholder.utf8)
                    position = span.end
                }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: b[position...]))
                return String(decoding: out, as: UTF8.self)
            }
            return masked ?? text
        }

        /// `text` with every placeholder of this session put back to its original. Unknown placeholders stay.
        public func restore(_ text: String) -> String {
            PIIMasker.restore(text, mapping: mapping, longest: longestPlaceholder)
        }

        /// A restorer for a streamed answer, knowing the placeholders handed out so far.
        public func restorer() -> PIIRestorer {
            PIIRestorer(mapping: mapping)
        }
    }

    // MARK: Validation helpers

    /// The Luhn check over ASCII digits (`"4111111111111111".utf8`). False when empty or not all digits.
    public static func luhnValid(_ digits: some Collection<UInt8>) -> Bool {
        guard !digits.isEmpty else { return false }
        var sum = 0
        // Every second digit counted from the right is doubled: from the left, that starts with the first digit
        // when the count is even.
        var double = digits.count % 2 == 0
        for c in digits {
            guard isDigit(c) else { return false }
            var d = Int(c - 0x30)
            if double {
                d *= 2
                if d > 9 { d -= 9 }
            }
            sum += d
            double.toggle()
        }
        return sum % 10 == 0
    }

    /// Whether `s` is a mainland-China resident ID number: 17 digits and a digit or X/x, a real birth date
    /// (yyyyMMdd at positions 7-14, year 1900-2099) and a correct ISO 7064 MOD 11-2 check character.
    public static func idCardValid(_ s: String) -> Bool {
        idCardValid(Array(s.utf8)[...])
    }

    private static let idWeights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    private static let idCheck = Array("10X98765432".utf8)

    static func idCardValid(_ b: some RandomAccessCollection<UInt8>) -> Bool {
        guard b.count == 18 else { return false }
        var sum = 0
        var value = [Int](repeating: 0, count: 17)
        for (i, c) in b.prefix(17).enumerated() {
            guard isDigit(c) else { return false }
            value[i] = Int(c - 0x30)
            sum += value[i] * idWeights[i]
        }
        let year = value[6] * 1000 + value[7] * 100 + value[8] * 10 + value[9]
        let month = value[10] * 10 + value[11]
        let day = value[12] * 10 + value[13]
        guard (1900...2099).contains(year), (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year) else { return false }
        guard let last = b.last else { return false }
        let check = last == UInt8(ascii: "x") ? UInt8(ascii: "X") : last
        return check == idCheck[sum % 11]
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Card numbers start with a known issuer prefix: 2221-2720 (Mastercard), 3 (Amex, JCB, Diners), 4 (Visa),
    /// 5 (Mastercard, Maestro), 6 (UnionPay, Discover, Maestro). This keeps timestamps (1…, 20…) and order
    /// numbers from being masked merely because one in ten numbers passes Luhn.
    static func issuerKnown(_ digits: [UInt8]) -> Bool {
        guard let first = digits.first else { return false }
        switch first {
        case UInt8(ascii: "3")...UInt8(ascii: "6"): return true
        case UInt8(ascii: "2"):
            guard digits.count >= 4 else { return false }
            let prefix = digits[0..<4].reduce(0) { $0 * 10 + Int($1 - 0x30) }
            return (2221...2720).contains(prefix)
        default: return false
        }
    }
}

// MARK: - Scanning

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

    /// The parts of the text outside code and URLs, in order.
    static func openSegments(_ b: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        let n = b.count
        var segments: [Range<Int>] = []
        var segmentStart = 0
        var i = 0
        func protect(_ start: Int, _ end: Int) {
            if segmentStart < start { segments.append(segmentStart..<start) }
            segmentStart = end
        }
        while i < n {
            let c = b[i]
            if c == backtick {
                var runEnd = i
                while runEnd < n && b[runEnd] == backtick { runEnd += 1 }
                if let close = closingRun(b, from: runEnd, length: runEnd - i) {
                    protect(i, close)
                    i = close
                } else {
                    i = runEnd
                }
            } else if c | 0x20 == UInt8(ascii: "h"), let end = urlEnd(b, at: i) {
                protect(i, end)
                i = end
            } else {
                i += 1
            }
        }
        if segmentStart < n { segments.append(segmentStart..<n) }
        return segments
    }

    /// The end of the backtick run that closes one of `length` ending at `from`: for a fence (3 or more) the next
    /// run at least as long; for inline code the next run exactly as long on the same line. Nil when unclosed.
    static func closingRun(_ b: UnsafeBufferPointer<UInt8>, from: Int, length: Int) -> Int? {
        let n = b.count
        let fence = length >= 3
        var i = from
        while i < n {
            let c = b[i]
            if c == backtick {
                var runEnd = i
                while runEnd < n && b[runEnd] == backtick { runEnd += 1 }
                let runLength = runEnd - i
                if fence ? runLength >= length : runLength == length { return runEnd }
                i = runEnd
            } else if c == newline && !fence {
                return nil
            } else {
                i += 1
            }
        }
        return nil
    }

    /// The end of a URL token starting at `i`, when one starts there.
    static func urlEnd(_ b: UnsafeBufferPointer<UInt8>, at i: Int) -> Int? {
        let n = b.count
        var j = i
        for expected in "http".utf8 {
            guard j < n, b[j] | 0x20 == expected else { return nil }
            j += 1
        }
        if j < n, b[j] | 0x20 == UInt8(ascii: "s") { j += 1 }
        for expected in "://".utf8 {
            guard j < n, b[j] == expected else { return nil }
            j += 1
        }
        while j < n {
            let c = b[j]
            if c >= 0x80 || c <= 0x20 || c == 0x7F || c == UInt8(ascii: "<") || c == UInt8(ascii: ">") || c == UInt8(ascii: "\"")
                || c == backtick
            {
                break
            }
            j += 1
        }
        return j
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
                if isDigit(b[i]) {
                    let start = i
                    while i < segment.upperBound && isDigit(b[i]) { i += 1 }
                    runs.append(start..<i)
                } else {
                    i += 1
                }
            }
            return runs
        }

        /// The separator joining run `k` to run `k - 1`: a single space or dash between them.
        func joiner(_ runs: [Range<Int>], _ k: Int) -> UInt8? {
            guard k > 0, k < runs.count, runs[k].lowerBound - runs[k - 1].upperBound == 1 else { return nil }
            let c = b[runs[k].lowerBound - 1]
            return c == space || c == dash ? c : nil
        }

        /// Nothing number-like directly before `start`: no digit, no `<digit>.`.
        func leftClear(_ start: Int) -> Bool {
            guard start > 0 else { return true }
            let c = b[start - 1]
            if isDigit(c) { return false }
            return !(c == dot && start >= 2 && isDigit(b[start - 2]))
        }

        /// Nothing number-like directly after `end`: no digit, no `.<digit>`, and no `@` starting an e-mail domain
        /// when e-mail is masked (the digits are then the local part of an address, masked whole by the e-mail rule).
        func rightClear(_ end: Int) -> Bool {
            guard end < b.count else { return true }
            let c = b[end]
            if isDigit(c) || (c == at && masker.rules.email && domainEnd(afterAt: end) != nil) { return false }
            return !(c == dot && end + 1 < b.count && isDigit(b[end + 1]))
        }

        func string(_ start: Int, _ end: Int) -> String {
            String(decoding: UnsafeBufferPointer(rebasing: b[start..<end]), as: UTF8.self)
        }

        // MARK: ID cards

        mutating func idCards(_ runs: [Range<Int>], _ segment: Range<Int>) {
            for run in runs {
                var end = run.upperBound
                if run.count == 17, end < segment.upperBound, b[end] | 0x20 == UInt8(ascii: "x") {
                    end += 1
                } else if run.count != 18 {
                    continue
                }
                let candidate = UnsafeBufferPointer(rebasing: b[run.lowerBound..<end])
                guard PIIMasker.idCardValid(candidate), leftClear(run.lowerBound), rightClear(end) else { continue }
                accept(run.lowerBound, end, .idCard, string(run.lowerBound, end).uppercased())
            }
        }

        // MARK: Bank cards

        mutating func bankCards(_ runs: [Range<Int>]) {
            var k = 0
            while k < runs.count {
                if let last = bankCard(runs, at: k) {
                    k = last + 1
                } else {
                    k += 1
                }
            }
        }

        /// Accepts a card starting at run `k`; returns its last run.
        mutating func bankCard(_ runs: [Range<Int>], at k: Int) -> Int? {
            let first = runs[k]
            var last = k
            if (13...19).contains(first.count) {
                // Contiguous.
            } else if first.count == 4, let sep = joiner(runs, k + 1) {
                // Grouped in fours by one kind of separator, the last group 1-4 digits, taken whole: a grouping that
                // runs past 19 digits is not a card, nor is any part of it.
                if joiner(runs, k) == sep && runs[k - 1].count == 4 { return nil }
                var digits = 4
                while let s = joiner(runs, last + 1), s == sep, runs[last + 1].count <= 4 {
                    last += 1
                    digits += runs[last].count
                    if runs[last].count < 4 { break }
                }
                guard (13...19).contains(digits) else { return nil }
            } else {
                return nil
            }
            let start = first.lowerBound
            let end = runs[last].upperBound
            guard leftClear(start), rightClear(end) else { return nil }
            var digits: [UInt8] = []
            digits.reserveCapacity(19)
            for i in k...last { digits.append(contentsOf: UnsafeBufferPointer(rebasing: b[runs[i]])) }
            guard PIIMasker.issuerKnown(digits), PIIMasker.luhnValid(digits) else { return nil }
            let before = accepted.count
            accept(start, end, .bankCard, String(decoding: digits, as: UTF8.self))
            return accepted.count > before ? last : nil
        }

        // MARK: Phones

        mutating func phones(_ runs: [Range<Int>]) {
            var k = 0
            while k < runs.count {
                if let last = phone(runs, at: k) {
                    k = last + 1
                } else {
                    k += 1
                }
            }
        }

        /// Whether the 11 digits at `i` look like a mainland mobile number: 1, then 3-9.
        func mobileStart(_ i: Int) -> Bool {
            b[i] == UInt8(ascii: "1") && b[i + 1] >= UInt8(ascii: "3") && b[i + 1] <= UInt8(ascii: "9")
        }

        /// A national number (11 digits, or 3-4-4 joined by one kind of separator) starting at run `k`: its last
        /// run and its digits. `afterPrefix`: run `k - 1` is the 86 prefix, so it does not count as a longer grouping.
        func national(_ runs: [Range<Int>], at k: Int, afterPrefix: Bool) -> (last: Int, digits: [UInt8])? {
            let run = runs[k]
            if run.count == 11 {
                guard mobileStart(run.lowerBound) else { return nil }
                return (k, Array(UnsafeBufferPointer(rebasing: b[run])))
            }
            guard run.count == 3, mobileStart(run.lowerBound), k + 2 < runs.count, let sep = joiner(runs, k + 1),
                joiner(runs, k + 2) == sep, runs[k + 1].count == 4, runs[k + 2].count == 4
            else { return nil }
            if !afterPrefix, joiner(runs, k) == sep, runs[k - 1].count <= 4 { return nil }
            if joiner(runs, k + 3) == sep, runs[k + 3].count <= 4 { return nil }
            var digits: [UInt8] = []
            for i in k...(k + 2) { digits.append(contentsOf: UnsafeBufferPointer(rebasing: b[runs[i]])) }
            return (k + 2, digits)
        }

        /// Accepts a phone starting at run `k` (or at a `+` just before it); returns its last run.
        mutating func phone(_ runs: [Range<Int>], at k: Int) -> Int? {
            let run = runs[k]
            let isEightySix = run.count >= 2 && b[run.lowerBound] == UInt8(ascii: "8") && b[run.lowerBound + 1] == UInt8(ascii: "6")
            let plusBefore = run.lowerBound > 0 && b[run.lowerBound - 1] == plus
            var found: (start: Int, last: Int, digits: [UInt8])?
            if run.count == 2, isEightySix, joiner(runs, k + 1) != nil, let n = national(runs, at: k + 1, afterPrefix: true) {
                found = (plusBefore ? run.lowerBound - 1 : run.lowerBound, n.last, n.digits)
            } else if run.count == 13, isEightySix, mobileStart(run.lowerBound + 2) {
                found = (plusBefore ? run.lowerBound - 1 : run.lowerBound, k, Array(UnsafeBufferPointer(rebasing: b[(run.lowerBound + 2)..<run.upperBound])))
            } else if let n = national(runs, at: k, afterPrefix: false) {
                found = (run.lowerBound, n.last, n.digits)
            }
            guard let found else { return nil }
            let end = runs[found.last].upperBound
            guard leftClear(found.start), rightClear(end) else { return nil }
            let before = accepted.count
            accept(found.start, end, .phone, String(decoding: found.digits, as: UTF8.self))
            return accepted.count > before ? found.last : nil
        }

        // MARK: E-mail

        mutating func emails(_ segment: Range<Int>) {
            var i = segment.lowerBound
            while i < segment.upperBound {
                guard b[i] == at else {
                    i += 1
                    continue
                }
                var start = i
                while start > segment.lowerBound && isLocalPart(b[start - 1]) { start -= 1 }
                while start < i && b[start] == dot { start += 1 }
                if start < i, let end = domainEnd(afterAt: i) {
                    accept(start, end, .email, string(start, end).lowercased())
                    i = end
                } else {
                    i += 1
                }
            }
        }

        /// The end of the e-mail domain after the `@` at `i` (trailing dots and dashes left out), if it is valid.
        func domainEnd(afterAt i: Int) -> Int? {
            var end = i + 1
            while end < segment.upperBound && isDomainPart(b[end]) { end += 1 }
            while end > i + 1 && (b[end - 1] == dot || b[end - 1] == dash) { end -= 1 }
            return validDomain(i + 1, end) ? end : nil
        }

        /// At least two dot-separated labels of letters, digits and inner dashes; the last all letters, 2+ long.
        func validDomain(_ start: Int, _ end: Int) -> Bool {
            guard start < end else { return false }
            var labels = 0
            var labelStart = start
            var i = start
            while i <= end {
                if i == end || b[i] == dot {
                    let length = i - labelStart
                    guard length >= 1, length <= 63, b[labelStart] != dash, b[i - 1] != dash else { return false }
                    labels += 1
                    if i == end {
                        guard length >= 2 else { return false }
                        for j in labelStart..<end where !isLetter(b[j]) { return false }
                    }
                    labelStart = i + 1
                }
                i += 1
            }
            return labels >= 2
        }

        // MARK: Custom patterns

        mutating func customs(_ segment: Range<Int>) {
            let text = string(segment.lowerBound, segment.upperBound)
            let whole = NSRange(location: 0, length: text.utf16.count)
            for pattern in masker.compiled {
                for match in pattern.regex.matches(in: text, range: whole) where match.range.length > 0 {
                    guard let range = Range(match.range, in: text) else { continue }
                    let start = segment.lowerBound + text.utf8.distance(from: text.startIndex, to: range.lowerBound)
                    let end = segment.lowerBound + text.utf8.distance(from: text.startIndex, to: range.upperBound)
                    accept(start, end, pattern.kind, String(text[range]))
                }
            }
        }
    }
}

// MARK: - Restoring

extension PIIMasker {
    /// `text` with each placeholder in `mapping` replaced by its original; `longest` is the longest placeholder in bytes.
    static func restore(_ text: String, mapping: [String: String], longest: Int) -> String {
        guard !mapping.isEmpty else { return text }
        var contiguous = text
        let restored: String? = contiguous.withUTF8 { b in
            var out: [UInt8] = []
            var copied = 0
            var i = 0
            while i < b.count {
                if b[i] == openBracket {
                    var j = i + 1
                    let limit = min(b.count, i + longest)
                    while j < limit && b[j] != closeBracket && b[j] != openBracket { j += 1 }
                    if j < limit, b[j] == closeBracket,
                        let original = mapping[String(decoding: UnsafeBufferPointer(rebasing: b[i...j]), as: UTF8.self)]
                    {
                        if out.isEmpty { out.reserveCapacity(b.count + 64) }
                        out.append(contentsOf: UnsafeBufferPointer(rebasing: b[copied..<i]))
                        out.append(contentsOf: original.utf8)
                        i = j + 1
                        copied = i
                        continue
                    }
                }
                i += 1
            }
            if copied == 0 { return nil }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: b[copied...]))
            return String(decoding: out, as: UTF8.self)
        }
        return restored ?? text
    }
}

/// Restores placeholders in an answer that arrives in pieces (a streamed reply). Text is passed on as soon as it
/// cannot be part of a placeholder; a trailing piece that could still become one (`[PHO`) is held until the next
/// chunk decides it. The concatenated output equals ``PIIMasker/Session/restore(_:)`` of the whole answer.
public struct PIIRestorer: Sendable {
    private let mapping: [String: String]
    /// Every proper prefix of every placeholder (`[`, `[P`, … `[PHONE_1`).
    private let prefixes: Set<String>
    private let longest: Int
    private var held: String = ""

    /// A restorer for the placeholders in `mapping` (placeholder → original), as ``PIIMasker/Session/mapping`` holds them.
    public init(mapping: [String: String]) {
        self.mapping = mapping
        var prefixes: Set<String> = []
        var longest = 0
        for placeholder in mapping.keys {
            let bytes = Array(placeholder.utf8)
            longest = max(longest, bytes.count)
            for length in stride(from: 1, to: bytes.count, by: 1) {
                prefixes.insert(String(decoding: bytes[..<length], as: UTF8.self))
            }
        }
        self.prefixes = prefixes
        self.longest = longest
    }

    /// The restored text that is now certain, for the next `chunk` of the answer.
    public mutating func feed(_ chunk: String) -> String {
        var text = held.isEmpty ? chunk : held + chunk
        held = ""
        guard !mapping.isEmpty else { return text }
        let (ready, hold) = text.withUTF8 { b -> (String, String) in
            // Only the last `[` can open a placeholder still incomplete: a placeholder holds no other `[`.
            var i = b.count
            let floor = max(0, b.count - (longest - 1))
            while i > floor {
                i -= 1
                if b[i] == openBracket {
                    let tail = String(decoding: UnsafeBufferPointer(rebasing: b[i...]), as: UTF8.self)
                    if prefixes.contains(tail) {
                        return (String(decoding: UnsafeBufferPointer(rebasing: b[..<i]), as: UTF8.self), tail)
                    }
                    break
                }
            }
            return (String(decoding: b, as: UTF8.self), "")
        }
        held = hold
        return PIIMasker.restore(ready, mapping: mapping, longest: longest)
    }

    /// The text still held back at the end of the answer (an incomplete placeholder stays as it was).
    public mutating func finish() -> String {
        let rest = held
        held = ""
        return PIIMasker.restore(rest, mapping: mapping, longest: longest)
    }
}

// MARK: - Bytes

private let backtick = UInt8(ascii: "`")
private let newline = UInt8(ascii: "\n")
private let space = UInt8(ascii: " ")
private let dash = UInt8(ascii: "-")
private let dot = UInt8(ascii: ".")
private let plus = UInt8(ascii: "+")
private let at = UInt8(ascii: "@")
private let openBracket = UInt8(ascii: "[")
private let closeBracket = UInt8(ascii: "]")

private func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
private func isLetter(_ c: UInt8) -> Bool { (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A }
private func isLocalPart(_ c: UInt8) -> Bool {
    isLetter(c) || isDigit(c) || c == dot || c == dash || c == UInt8(ascii: "_") || c == plus || c == UInt8(ascii: "%")
}
private func isDomainPart(_ c: UInt8) -> Bool { isLetter(c) || isDigit(c) || c == dot || c == dash }
