import HTTPTypes
import Testing

@testable import TrellisServer

/// `HTTPFields.value(_:)` is the request path's header read: it must answer what `HTTPFields`'s own subscript answers.
@Suite struct HTTPFieldValueTests {
    @Test func sameAnswerAsTheSubscript() throws {
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields.append(HTTPField(name: .accept, value: "a"))
        fields.append(HTTPField(name: .authorization, value: "Bearer x"))
        fields.append(HTTPField(name: .accept, value: "b"))
        fields.append(HTTPField(name: .accept, value: "c"))
        let cookieField = try #require(HTTPField.Name("Cookie"))
        fields.append(HTTPField(name: cookieField, value: "a=1"))
        fields.append(HTTPField(name: cookieField, value: "b=2"))
        let upper = try #require(HTTPField.Name("Content-Type"))

        #expect(fields.value(.contentType) == "application/json")
        #expect(fields.value(upper) == "application/json", "names compare without case")
        #expect(fields.value(.authorization) == "Bearer x")
        #expect(fields.value(.accept) == "a, b, c", "a repeated field is joined as the subscript joins it")
        #expect(fields.value(cookieField) == "a=1; b=2")
        #expect(fields.value(.contentLength) == nil)
        for name in [HTTPField.Name.contentType, .authorization, .accept, cookieField, .contentLength, .transferEncoding] {
            #expect(fields.value(name) == fields[name], "\(name)")
        }
        #expect(HTTPFields().value(.contentType) == nil)
    }
}
