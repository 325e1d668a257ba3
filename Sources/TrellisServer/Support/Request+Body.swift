import Hummingbird
import NIOCore
import OpenAIWire
import TrellisCore

extension Request {
    /// Reads the whole body, refusing more than `limit` bytes with a 413.
    mutating func collectBytes(limit: Int) async throws -> ByteBuffer {
        if let length = headers.value(.contentLength).flatMap({ Int($0) }), length > limit {
            throw TrellisError.tooLarge(limit: limit)
        }
        do {
            return try await collectBody(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw TrellisError.tooLarge(limit: limit)
        } catch is NIOTooManyBytesError {
            // A chunked body (no Content-Length) that grows past the limit.
            throw TrellisError.tooLarge(limit: limit)
        }
    }

    /// Reads and parses a JSON body. Refuses other content types (415) and bodies that are not strict JSON (400).
    mutating func jsonBody(limit: Int) async throws -> JSONValue {
        if let type = headers.value(.contentType) {
            let base = MediaType.base(of: type)
            if base != "application/json" && !base.hasSuffix("+json") && base != "text/plain" && !base.isEmpty {
                throw TrellisError.unsupportedMediaType("Send the body as JSON with 'Content-Type: application/json'.")
            }
        }
        let buffer = try await collectBytes(limit: limit)
        if buffer.readableBytes == 0 { throw TrellisError.invalidRequest("The request body is empty; send a JSON object.", code: "invalid_json") }
        do {
            return try JSONParser.parse(buffer.readableBytesView)
        } catch {
            // Well-formed perhaps, but over one of the parser's size limits: say so rather than "not valid JSON".
            if error.isLimit {
                throw TrellisError.invalidRequest("The request body is over a JSON size limit: \(error.description).", code: "invalid_json")
            }
            throw TrellisError.invalidJSON(error.description)
        }
    }
}
