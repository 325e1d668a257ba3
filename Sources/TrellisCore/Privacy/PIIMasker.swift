import Foundation

/// Masks personal data in text before it is sent to an external model server, and puts it back into the answer.
///
/// Built-in kinds: mainland-China resident ID numbers, mainland mobile numbers, bank card numbers and e-mail
/// addresses; plus named custom regular expressions. Each match becomes a placeholder such as `[PHONE_1]`.
/// A masker is the compiled configuration and is shared freely; every request makes its own ``Session``, which
/// numbers placeholders per kind in order of first appearance and gives the same value the same placeholder in
/// all messages of that request.
///
/// What is read is what people type: every rule runs on a normalised copy of the text (``PIINormalizedText``:
/// full-width forms folded to ASCII, odd spaces and dashes to ` ` and `-`, zero-width characters dropped), and the
/// matches replace the corresponding characters of the text as written, which is otherwise sent unchanged.
///
/// Left alone: fenced code blocks (a run of three or more backticks up to the next run at least as long) and
/// inline code (a run of one or two backticks up to the next run of the same length on the same line). An
/// unclosed backtick run is ordinary text, so a stray backtick never switches masking off. URLs are masked like
/// any other text (see `openSegments`).
///
/// Numbers are found by one scan over the normalised bytes; a match is never part of a longer digit run, nor of
/// a decimal or version number (a `.` between it and another digit), and digits followed by `@` and a domain
/// are left to the e-mail rule. Phone and card numbers are not part of a longer separator grouping; ID numbers
/// may be (their check character and birth date are check enough). Separators: phones take spaces, dashes and
/// dots, parentheses around the first group and a +86 code (`PIIMasker+Phones.swift`); ID numbers and cards
/// take spaces and dashes. Card numbers also need a known issuer prefix (see `issuerKnown`). On overlap the order
/// is ID card, bank card, phone, e-mail, custom patterns (in list order); masked spans never overlap.
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
        guard let first = name.utf8.first, PIIByte.isLetter(first), name.utf8.count <= 32 else { return false }
        return name.utf8.allSatisfy { PIIByte.isLetter($0) || PIIByte.isDigit($0) || $0 == UInt8(ascii: "_") }
    }
}
