import OpenAIWire
import Testing

@testable import TrellisServer

/// Content-Type and Content-Disposition values are read in one place (`MediaType`): request bodies, document
/// uploads, multipart boundaries and parts.
@Suite struct MediaTypeTests {
    @Test func baseAndParameters() {
        #expect(MediaType.base(of: "Text/Plain; charset=utf-8") == "text/plain")
        #expect(MediaType.base(of: " application/json ") == "application/json")
        #expect(MediaType.base(of: "application/json") == "application/json")
        #expect(MediaType.base(of: "Application/JSON;charset=utf-8") == "application/json")
        #expect(MediaType.base(of: "") == "" && MediaType.base(of: ";") == "" && MediaType.base(of: " ; ; ") == "")
        #expect(MediaType.parameter("boundary", in: "multipart/form-data; Boundary=\"a b\"") == "a b")
        #expect(MediaType.parameter("name", in: "form-data; name=\"file\"; filename=\"a.md\"") == "file")
        #expect(MediaType.parameter("filename", in: "form-data; name=\"file\"; filename=a.md") == "a.md")
        #expect(MediaType.parameter("name", in: "name=x") == nil, "the first piece is the type, not a parameter")
        #expect(MediaType.parameter("name", in: "form-data; name") == nil)
        #expect(MultipartUpload.boundary("multipart/form-data; boundary=\"\"") == nil)
        #expect(MultipartUpload.boundary("multipart/form-data; boundary=" + String(repeating: "b", count: 71)) == nil)
        #expect(MultipartUpload.boundary("multipart/form-data; charset=x; boundary=\"----b\"") == "----b")
    }

    @Test("a document upload whose Content-Type has no type is refused (415), not a crash")
    func uploadWithoutAType() async throws {
        try await TestGateway.run(configure: { $0.catalogRefreshIntervalMs = 3_600_000 }) { gw in
            _ = try await gw.createTenant("acme")
            let kb = try await gw.admin(.POST, "/knowledge-bases", ["name": "policies", "tenant": "acme"])
            try #require(kb.status == 201, "\(kb.text)")
            for type in [";", " ; charset=utf-8", ""] {
                let reply = try await gw.request(
                    .POST, "/admin/v1/knowledge-bases/policies/documents?title=t", key: TestGateway.adminKey, rawBody: Array("text".utf8),
                    headers: [("Content-Type", type)])
                #expect(reply.status == 415, "Content-Type '\(type)': \(reply.text)")
                #expect(reply.json["error"]?["code"]?.stringValue == "unsupported_media_type")
            }
        }
    }
}
