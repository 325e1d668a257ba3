import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import OpenAIWire
import TrellisCore
import TrellisStore

extension Response {
    /// A JSON response from a ``JSONValue``, written without Foundation's encoder.
    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var writer = JSONWriter(reservingCapacity: 512)
        writer.write(value)
        return json(bytes: writer.bytes, status: status, headers: headers)
    }

    static func json(bytes: [UInt8], status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// The OpenAI-shaped error body for a ``TrellisError``, with its extra headers.
    static func error(_ error: TrellisError) -> Response {
        var headers = HTTPFields()
        for (name, value) in error.headers {
            if let field = HTTPField.Name(name) { headers[field] = value }
        }
        return json(bytes: error.openAI.encoded, status: HTTPResponse.Status(code: error.status), headers: headers)
    }
}

extension Request {
    /// Reads the whole body, refusing more than `limit` bytes with a 413.
    mutating func collectBytes(limit: Int) async throws -> ByteBuffer {
        if let length = headers[.contentLength].flatMap({ Int($0) }), length > limit {
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
        if let type = headers[.contentType] {
            let base = type.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
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

extension JSONValue {
    /// RFC 3339 time in UTC, as the administration API writes times.
    static func time(_ date: Date?) -> JSONValue {
        guard let date else { return .null }
        return .string(Timestamps.format(date))
    }
}

enum Timestamps {
    static func format(_ date: Date) -> String {
        date.formatted(.iso8601)
    }

    /// RFC 3339 (`2027-01-01T00:00:00Z`) or a Unix time in seconds.
    static func parse(_ value: JSONValue) -> Date? {
        switch value {
        case .number(let n):
            guard let seconds = n.doubleValue, seconds.isFinite, seconds > 0, seconds < 1e11 else { return nil }
            return Date(timeIntervalSince1970: seconds)
        case .string(let s):
            if let d = try? Date(s, strategy: .iso8601) { return d }
            let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
            return try? Date(s, strategy: withFraction)
        default:
            return nil
        }
    }
}

enum RequestIDs {
    /// `req_` and 24 hex digits (96 random bits).
    static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let a: UInt64 = generator.next()
        let b: UInt32 = generator.next()
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = Array("req_".utf8)
        out.reserveCapacity(28)
        for shift in stride(from: 60, through: 0, by: -4) { out.append(digits[Int((a >> UInt64(shift)) & 0xF)]) }
        for shift in stride(from: 28, through: 0, by: -4) { out.append(digits[Int((b >> UInt32(shift)) & 0xF)]) }
        return String(decoding: out, as: UTF8.self)
    }
}

extension Parameters {
    /// A path segment as the client meant it: percent-decoded (`bot%402` is `bot@2`).
    func decoded(_ name: String) -> String {
        let raw = get(name) ?? ""
        return raw.removingPercentEncoding ?? raw
    }
}

extension HTTPField.Name {
    static let requestID = literal("x-request-id")
    static let modelVersion = literal("x-trellis-model-version")
    static let retryAfter = literal("retry-after")

    /// For header names written in the source: a literal that is not a valid token is a programming error.
    static func literal(_ name: String) -> HTTPField.Name {
        guard let field = HTTPField.Name(name) else { preconditionFailure("invalid header name literal: \(name)") }
        return field
    }
}
