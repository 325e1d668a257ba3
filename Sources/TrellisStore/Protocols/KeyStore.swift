import Foundation
import TrellisCore

/// API keys. Only a key's digest is stored; the issued string exists once, in `createKey`'s answer. Keys are
/// part of the catalog: each write bumps the catalog generation, and lookups on the request path go to the
/// in-memory `CatalogSnapshot`, never to the store.
public protocol KeyStore: Sendable {
    /// Issues a key; the returned string is the only copy of it anywhere.
    func createKey(_ new: NewKey, actor: String, now: Date) async throws -> (APIKeyInfo, String)
    func keys(tenantID: String) async throws -> [APIKeyInfo]
    func key(id: String) async throws -> APIKeyInfo?
    /// Revokes a key. Revoking twice is not an error; the first revocation time is kept.
    func revokeKey(id: String, actor: String, now: Date) async throws -> APIKeyInfo
}

extension KeyStore {
    public func createKey(_ new: NewKey, actor: String) async throws -> (APIKeyInfo, String) {
        try await createKey(new, actor: actor, now: Date())
    }

    public func revokeKey(id: String, actor: String) async throws -> APIKeyInfo {
        try await revokeKey(id: id, actor: actor, now: Date())
    }
}
