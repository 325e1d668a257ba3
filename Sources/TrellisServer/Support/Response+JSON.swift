import HTTPTypes
import Hummingbird
import OpenAIWire
import TrellisCore

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
