import OpenAIWire
import Testing

@testable import TrellisServer

@Suite struct CatalogFileTests {
    @Test func scalarsKeepTheirYAMLTypes() throws {
        let value = try YAMLJSON.parse("a: 12\nb: \"12\"\nc: true\nd: ~\ne: 0.5\nf: [x, 2]\ng: 理赔\n")
        #expect(value["a"] == 12 && value["b"] == "12" && value["c"] == true && value["d"] == .null)
        #expect(value["e"]?.numberValue?.doubleValue == 0.5 && value["f"] == ["x", 2] && value["g"] == "理赔")
        #expect(throws: YAMLJSON.Failure.self) { try YAMLJSON.parse("a: 1\na: 2\n") }
        #expect(try YAMLJSON.parse("a: &x 1\nb: *x\n")["b"] == 1, "anchors resolve to their value")
    }

    @Test func onlyCatalogVariablesAreExpanded() throws {
        let env = ["TRELLIS_CATALOG_URL": "http://model:8081/v1", "HUNYUAN_API_KEY": "sk-secret"]
        #expect(try YAMLJSON.parse("u: ${TRELLIS_CATALOG_URL}", environment: env)["u"] == "http://model:8081/v1")
        #expect(try YAMLJSON.parse("u: ${TRELLIS_CATALOG_OTHER:-http://x/v1}", environment: env)["u"] == "http://x/v1")
        #expect(try YAMLJSON.parse("u: pre-${TRELLIS_CATALOG_URL}-post", environment: env)["u"] == "pre-http://model:8081/v1-post")
        #expect(throws: YAMLJSON.Failure.self, "secrets cannot be pulled into the catalog") {
            try YAMLJSON.parse("d: ${HUNYUAN_API_KEY}", environment: env)
        }
        #expect(throws: YAMLJSON.Failure.self, "an unset variable without a default is an error") {
            try YAMLJSON.parse("d: ${TRELLIS_CATALOG_MISSING}", environment: env)
        }
        #expect(try YAMLJSON.parse("d: 'price: $5 {x}'", environment: env)["d"] == "price: $5 {x}")
    }
}
