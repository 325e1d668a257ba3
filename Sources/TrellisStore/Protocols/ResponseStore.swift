import Foundation
import OpenAIWire

/// A response of the Responses API kept for its tenant (`store: true`): the object as returned, and the
/// conversation up to and including it (chat messages, without the instructions) that `previous_response_id`
/// continues.
public struct StoredResponse: Sendable, Equatable {
    public var id: String
    public var tenantID: String
    public var model: String
    public var createdAt: Date
    public var expiresAt: Date
    public var response: JSONValue
    public var conversation: JSONValue

    public init(id: String, tenantID: String, model: String, createdAt: Date, expiresAt: Date, response: JSONValue, conversation: JSONValue) {
        self.id = id
        self.tenantID = tenantID
        self.model = model
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.response = response
        self.conversation = conversation
    }
}

/// Stored responses, each readable only by its own tenant and only until it expires.
public protocol ResponseStore: Sendable {
    /// Keeps a response; the same id again replaces it.
    func insertResponse(_ response: StoredResponse) async throws
    /// The tenant's response with this id, unless it has expired; nil for another tenant's, as for a missing one.
    func response(id: String, tenantID: String, now: Date) async throws -> StoredResponse?
    /// Deletes the tenant's response with this id; false when it had none.
    func deleteResponse(id: String, tenantID: String) async throws -> Bool
    /// Deletes responses past their expiry; returns how many.
    func purgeResponses(now: Date) async throws -> Int
}

extension ResponseStore {
    public func response(id: String, tenantID: String) async throws -> StoredResponse? {
        try await response(id: id, tenantID: tenantID, now: Date())
    }

    public func purgeResponses() async throws -> Int {
        try await purgeResponses(now: Date())
    }
}
