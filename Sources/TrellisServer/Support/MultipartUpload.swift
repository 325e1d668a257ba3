import MultipartKit
import TrellisCore

/// A `multipart/form-data` body read with MultipartKit's parser: the file part and the plain fields.
struct MultipartUpload {
    struct File {
        var fileName: String?
        var contentType: String?
        var body: [UInt8]
    }

    var file: File?
    var fields: [String: String] = [:]

    /// The boundary parameter of a `multipart/form-data` content type, unquoted.
    static func boundary(_ contentType: String) -> String? {
        guard let value = MediaType.parameter("boundary", in: contentType) else { return nil }
        // RFC 2046: 1 to 70 characters.
        return (1...70).contains(value.utf8.count) ? value : nil
    }

    /// The document kind a file name implies, when its part has no usable content type.
    static func kind(ofFileName name: String?) -> String? {
        guard let name, let dot = name.lastIndex(of: ".") else { return nil }
        switch name[name.index(after: dot)...].lowercased() {
        case "txt", "text": return "text/plain"
        case "md", "markdown": return "text/markdown"
        case "html", "htm", "xhtml": return "text/html"
        case "pdf": return "application/pdf"
        default: return nil
        }
    }

    static func parse(_ buffer: ByteBuffer, boundary: String) throws -> MultipartUpload {
        var parts: [(headers: [(String, String)], body: [UInt8])] = []
        var headers: [(String, String)] = []
        var body: [UInt8] = []
        var complete = false
        let parser = MultipartParser(boundary: boundary)
        parser.onHeader = { name, value in headers.append((name, value)) }
        parser.onBody = { chunk in body.append(contentsOf: chunk.readableBytesView) }
        parser.onPartComplete = {
            parts.append((headers, body))
            headers = []
            body = []
            complete = true
        }
        do {
            try parser.execute(buffer)
        } catch {
            throw TrellisError.invalidRequest("The multipart body could not be read.", code: "invalid_multipart")
        }
        guard complete else { throw TrellisError.invalidRequest("The multipart body has no complete part.", code: "invalid_multipart") }

        var upload = MultipartUpload()
        for part in parts {
            let disposition = part.headers.first { $0.0.lowercased() == "content-disposition" }?.1 ?? ""
            let name = MediaType.parameter("name", in: disposition)
            let fileName = MediaType.parameter("filename", in: disposition)
            let type = part.headers.first { $0.0.lowercased() == "content-type" }.map { MediaType.base(of: $0.1) }
            if name == "file" || (fileName != nil && upload.file == nil) {
                if upload.file == nil || name == "file" {
                    upload.file = File(fileName: fileName, contentType: type, body: part.body)
                }
            } else if let name, upload.fields[name] == nil {
                upload.fields[name] = String(decoding: part.body, as: UTF8.self)
            }
        }
        return upload
    }
}
