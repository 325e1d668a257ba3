/// The ASCII bytes and byte classes the PII scanners test.
enum PIIByte {
    static let backtick = UInt8(ascii: "`")
    static let newline = UInt8(ascii: "\n")
    static let space = UInt8(ascii: " ")
    static let dash = UInt8(ascii: "-")
    static let dot = UInt8(ascii: ".")
    static let plus = UInt8(ascii: "+")
    static let at = UInt8(ascii: "@")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")

    static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    static func isLetter(_ c: UInt8) -> Bool { (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A }
    static func isLocalPart(_ c: UInt8) -> Bool {
        PIIByte.isLetter(c) || PIIByte.isDigit(c) || c == PIIByte.dot || c == PIIByte.dash || c == UInt8(ascii: "_") || c == PIIByte.plus
            || c == UInt8(ascii: "%")
    }
    static func isDomainPart(_ c: UInt8) -> Bool { PIIByte.isLetter(c) || PIIByte.isDigit(c) || c == PIIByte.dot || c == PIIByte.dash }
}
