import Foundation

/// Plain text from the document formats a knowledge base takes. HTML loses its tags, scripts and styles but
/// keeps its structure: headings become Markdown headings (so chunks keep their heading path), paragraphs
/// and list items become lines.
public enum TextExtraction {
    public static func fromHTML(_ html: String) -> String {
        var out = ""
        out.reserveCapacity(html.utf8.count / 2)
        var i = html.startIndex
        var skipUntil: String?  // closing tag of a script/style/head-like element being skipped
        var inHeading = false  // a heading's text stays on its "# " line
        func lowercasedTagName(_ tag: Substring) -> String {
            var name = tag.drop(while: { $0 == "/" })
            name = name.prefix(while: { $0.isLetter || $0.isNumber })
            return name.lowercased()
        }
        while i < html.endIndex {
            let c = html[i]
            if c == "<" {
                // Comments.
                if html[i...].hasPrefix("<!--") {
                    if let end = html[i...].range(of: "-->") { i = end.upperBound } else { i = html.endIndex }
                    continue
                }
                guard let close = html[i...].firstIndex(of: ">") else {
                    out.append(c)
                    i = html.index(after: i)
                    continue
                }
                let tag = html[html.index(after: i)..<close]
                let name = lowercasedTagName(tag)
                let closing = tag.hasPrefix("/")
                i = html.index(after: close)
                if let skipping = skipUntil {
                    // </head> may be left out: the body starts at <body> all the same.
                    if closing && name == skipping || skipping == "head" && !closing && name == "body" { skipUntil = nil }
                    continue
                }
                switch name {
                case "script", "style", "noscript", "template", "svg", "head":
                    if !closing && !tag.hasSuffix("/") { skipUntil = name }
                case "h1", "h2", "h3", "h4", "h5", "h6":
                    let level = Int(String(name.dropFirst())) ?? 1
                    out += closing ? "\n\n" : "\n\n" + String(repeating: "#", count: level) + " "
                    inHeading = !closing
                case "br":
                    out += inHeading ? " " : "\n"
                case "li":
                    if !closing { out += "\n- " }
                case "p", "div", "section", "article", "ul", "ol", "table", "tr", "blockquote", "pre", "header", "footer", "main", "nav", "aside",
                    "hr", "dl", "dt", "dd", "figure", "figcaption":
                    out += "\n\n"
                case "td", "th":
                    out += " "
                default:
                    break
                }
                continue
            }
            if skipUntil != nil {
                i = html.index(after: i)
                continue
            }
            if c == "&", let semicolon = html[i...].prefix(12).firstIndex(of: ";") {
                let entity = html[html.index(after: i)..<semicolon]
                if let decoded = decodeEntity(entity) {
                    out += decoded
                    i = html.index(after: semicolon)
                    continue
                }
            }
            out.append(inHeading && c.isNewline ? " " : c)
            i = html.index(after: i)
        }
        return tidy(out)
    }

    static let entities: [Substring: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": " ", "mdash": "—", "ndash": "–", "hellip": "…",
        "lsquo": "‘", "rsquo": "’", "ldquo": "“", "rdquo": "”", "copy": "©", "reg": "®", "yen": "¥", "middot": "·",
    ]

    static func decodeEntity(_ e: Substring) -> String? {
        if let named = entities[e] { return named }
        guard e.hasPrefix("#") else { return nil }
        let body = e.dropFirst()
        let value: UInt32?
        if body.hasPrefix("x") || body.hasPrefix("X") {
            value = UInt32(body.dropFirst(), radix: 16)
        } else {
            value = UInt32(body)
        }
        guard let value, let scalar = Unicode.Scalar(value), value != 0 else { return nil }
        return String(Character(scalar))
    }

    /// Collapses runs of spaces within lines and of blank lines between them.
    public static func tidy(_ text: String) -> String {
        var lines: [String] = []
        var blank = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = ""
            var lastSpace = false
            for ch in raw {
                let isSpace = ch == " " || ch == "\t" || ch == "\r" || ch == "\u{00A0}"
                if isSpace {
                    if !lastSpace && !line.isEmpty { line.append(" ") }
                    lastSpace = true
                } else {
                    line.append(ch)
                    lastSpace = false
                }
            }
            while line.hasSuffix(" ") { line.removeLast() }
            if line.isEmpty {
                blank += 1
                if blank == 1 && !lines.isEmpty { lines.append("") }
            } else {
                blank = 0
                lines.append(line)
            }
        }
        while lines.last == "" { lines.removeLast() }
        return lines.joined(separator: "\n")
    }
}
