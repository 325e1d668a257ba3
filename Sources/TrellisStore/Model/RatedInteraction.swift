import OpenAIWire

/// A captured interaction with its latest feedback, for dataset export.
public struct RatedInteraction: Sendable {
    public var requestID: String
    public var model: String
    public var messages: JSONValue
    public var answer: String
    public var rating: Int
    public var correction: String?
    /// When the interaction happened (milliseconds since 1970).
    public var atMs: Int64 = 0

    public init(requestID: String, model: String, messages: JSONValue, answer: String, rating: Int, correction: String?) {
        self.requestID = requestID
        self.model = model
        self.messages = messages
        self.answer = answer
        self.rating = rating
        self.correction = correction
    }
}
