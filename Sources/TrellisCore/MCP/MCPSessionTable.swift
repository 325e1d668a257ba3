/// The Model Context Protocol sessions of one gateway process (the `Mcp-Session-Id` of the Streamable HTTP
/// transport), as a value with the time passed in. Each session belongs to the key that opened it: another key
/// naming it finds nothing, as for a missing one. A key holds at most `maxPerKey` sessions (opening one more closes
/// the key's least recently used), and a session unused for `idle` is gone.
public struct MCPSessionTable: Sendable {
    public struct Session: Sendable, Equatable {
        public let id: String
        public let keyID: String
        /// The protocol revision agreed at `initialize`.
        public let protocolVersion: String
        public fileprivate(set) var lastUsed: ContinuousClock.Instant
    }

    public let maxPerKey: Int
    public let idle: Duration
    private var sessions: [String: Session] = [:]
    private var byKey: [String: Set<String>] = [:]

    public init(maxPerKey: Int, idle: Duration) {
        self.maxPerKey = max(1, maxPerKey)
        self.idle = idle
    }

    public var count: Int { sessions.count }

    public func count(keyID: String) -> Int { byKey[keyID]?.count ?? 0 }

    /// Opens a session for `keyID`; returns the id of the session closed to make room, if any.
    @discardableResult
    public mutating func open(id: String, keyID: String, protocolVersion: String, now: ContinuousClock.Instant) -> String? {
        var evicted: String?
        if let ids = byKey[keyID], ids.count >= maxPerKey,
            let oldest = ids.compactMap({ sessions[$0] }).min(by: { ($0.lastUsed, $0.id) < ($1.lastUsed, $1.id) })
        {
            close(oldest.id)
            evicted = oldest.id
        }
        sessions[id] = Session(id: id, keyID: keyID, protocolVersion: protocolVersion, lastUsed: now)
        byKey[keyID, default: []].insert(id)
        return evicted
    }

    /// The key's session `id`, marked used at `now`; nil when it is missing, idle too long, or another key's.
    public mutating func use(_ id: String, keyID: String, now: ContinuousClock.Instant) -> Session? {
        guard var session = sessions[id], session.keyID == keyID else { return nil }
        guard now - session.lastUsed <= idle else {
            close(id)
            return nil
        }
        session.lastUsed = now
        sessions[id] = session
        return session
    }

    /// Closes the key's session `id`; false when the key has no such session.
    public mutating func close(_ id: String, keyID: String) -> Bool {
        guard sessions[id]?.keyID == keyID else { return false }
        close(id)
        return true
    }

    /// Closes every session idle for longer than `idle`; returns how many.
    @discardableResult
    public mutating func sweep(now: ContinuousClock.Instant) -> Int {
        let expired = sessions.values.filter { now - $0.lastUsed > idle }.map(\.id)
        for id in expired { close(id) }
        return expired.count
    }

    private mutating func close(_ id: String) {
        guard let session = sessions.removeValue(forKey: id) else { return }
        byKey[session.keyID]?.remove(id)
        if byKey[session.keyID]?.isEmpty == true { byKey[session.keyID] = nil }
    }
}
