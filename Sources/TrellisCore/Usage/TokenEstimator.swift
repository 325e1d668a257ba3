import OpenAIWire

/// A rough token count for when an upstream reports none (llama.cpp's server in streams, some hosted APIs):
/// about four ASCII characters per token, one token per CJK or other non-ASCII character, a few tokens of
/// overhead per message. Rows recorded from an estimate are marked as such.
public enum TokenEstimator {
    public static func estimate(text: String) -> Int {
        var ascii = 0
        var other = 0
        for scalar in text.unicodeScalars {
            if scalar.isASCII { ascii += 1 } else { other += 1 }
        }
        return (ascii + 3) / 4 + other
    }

    public static func estimate(messages: [JSONValue]) -> Int {
        var total = 2
        for message in messages {
            total += 4
            switch message["content"] {
            case .string(let s)?:
                total += estimate(text: s)
            case .array(let parts)?:
                for part in parts {
                    if case .string(let s)? = part["text"] { total += estimate(text: s) }
                }
            default:
                break
            }
        }
        return total
    }
}
