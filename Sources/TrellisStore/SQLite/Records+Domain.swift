import Foundation
import OpenAIWire
import TrellisCore

enum JSONText {
    static func encode(_ strings: [String]) -> String {
        JSONWriter.string(.array(strings.map { .string($0) }))
    }

    static func decodeStrings(_ text: String) -> [String] {
        guard case .array(let items)? = try? JSONParser.parse(text) else { return [] }
        return items.compactMap(\.stringValue)
    }

    static func encode(_ timeouts: UpstreamTimeouts) -> String {
        JSONWriter.string([
            "connect_ms": .int(timeouts.connectMs), "first_byte_ms": .int(timeouts.firstByteMs),
            "idle_ms": .int(timeouts.idleMs), "total_ms": .int(timeouts.totalMs),
        ])
    }

    static func decodeTimeouts(_ text: String) -> UpstreamTimeouts {
        var t = UpstreamTimeouts.default
        guard case .object(let o)? = try? JSONParser.parse(text) else { return t }
        if let v = o["connect_ms"]?.numberValue?.intValue { t.connectMs = v }
        if let v = o["first_byte_ms"]?.numberValue?.intValue { t.firstByteMs = v }
        if let v = o["idle_ms"]?.numberValue?.intValue { t.idleMs = v }
        if let v = o["total_ms"]?.numberValue?.intValue { t.totalMs = v }
        return t
    }

    static func encode(traffic: [Int: Int]) -> String {
        JSONWriter.string(.object(JSONObject(traffic.sorted { $0.key < $1.key }.map { .init(key: String($0.key), value: .int($0.value)) })))
    }

    static func decodeTraffic(_ text: String) -> [Int: Int] {
        guard case .object(let o)? = try? JSONParser.parse(text) else { return [:] }
        var out: [Int: Int] = [:]
        for m in o {
            if let v = Int(m.key), let w = m.value.numberValue?.intValue { out[v] = w }
        }
        return out
    }
}

extension Date {
    init(unixSeconds: Int64) { self.init(timeIntervalSince1970: TimeInterval(unixSeconds)) }
    init(unixMilliseconds: Int64) { self.init(timeIntervalSince1970: TimeInterval(unixMilliseconds) / 1000) }
    var unixSeconds: Int64 { Int64(timeIntervalSince1970.rounded(.down)) }
    var unixMilliseconds: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }
}

extension TenantRecord {
    var domain: Tenant {
        var settings = TenantSettings()
        if case .object(let o)? = try? JSONParser.parse(self.settings), let parsed = try? TenantSettings.parse(o) { settings = parsed }
        return Tenant(id: id, name: name, createdAt: Date(unixSeconds: createdAt), settings: settings)
    }
}

extension APIKeyRecord {
    var info: APIKeyInfo {
        APIKeyInfo(
            id: id, tenantID: tenantID, name: name, prefix: prefix,
            scopes: JSONText.decodeStrings(scopes).compactMap(Scope.init(rawValue:)), models: JSONText.decodeStrings(models),
            rpm: rpm, tpm: tpm, expiresAt: expiresAt.map(Date.init(unixSeconds:)), createdAt: Date(unixSeconds: createdAt),
            revokedAt: revokedAt.map(Date.init(unixSeconds:)), concurrency: concurrency)
    }
}

extension UpstreamRecord {
    var domain: Upstream? {
        guard let kind = UpstreamKind(rawValue: kind) else { return nil }
        return Upstream(
            id: id, name: name, baseURL: baseURL, kind: kind,
            labels: Set(JSONText.decodeStrings(labels).compactMap(UpstreamLabel.init(rawValue:))), apiKeyEnv: apiKeyEnv,
            timeouts: JSONText.decodeTimeouts(timeouts), createdAt: Date(unixSeconds: createdAt),
            pricing: pricing.flatMap { try? JSONParser.parse($0) }.flatMap { try? Pricing.parse($0) })
    }
}

extension UsageRecord {
    init(_ e: UsageEvent) {
        self.init(
            id: nil, requestID: e.requestID, atMs: e.at.unixMilliseconds, endpoint: e.endpoint, tenantID: e.tenantID, keyID: e.keyID,
            endUser: e.endUser, model: e.model, modelVersion: e.modelVersion, upstream: e.upstream, promptTokens: e.promptTokens,
            completionTokens: e.completionTokens, estimated: e.estimated, latencyMs: e.latencyMs, ttftMs: e.ttftMs, status: e.status,
            errorCode: e.errorCode, stream: e.stream, retrievalMs: e.retrievalMs, costMicros: e.costMicros, routedTo: e.routedTo,
            baselineCostMicros: e.baselineCostMicros)
    }

    var domain: UsageEvent {
        var event = UsageEvent(
            requestID: requestID, at: Date(unixMilliseconds: atMs), endpoint: endpoint, tenantID: tenantID, keyID: keyID,
            endUser: endUser, model: model, modelVersion: modelVersion, upstream: upstream, promptTokens: promptTokens,
            completionTokens: completionTokens, estimated: estimated, latencyMs: latencyMs, ttftMs: ttftMs, status: status,
            errorCode: errorCode, stream: stream, retrievalMs: retrievalMs)
        event.costMicros = costMicros
        event.routedTo = routedTo
        event.baselineCostMicros = baselineCostMicros
        return event
    }
}

extension AuditRecord {
    var domain: AuditEntry {
        AuditEntry(id: id ?? 0, at: Date(unixMilliseconds: atMs), actor: actor, tenantID: tenantID, action: action, target: target, detail: detail)
    }
}

extension JSONText {
    static func encode(labels: [String: Int]) -> String {
        JSONWriter.string(.object(JSONObject(labels.sorted { $0.key < $1.key }.map { .init(key: $0.key, value: .int($0.value)) })))
    }

    static func decodeLabels(_ text: String) -> [String: Int] {
        guard case .object(let o)? = try? JSONParser.parse(text) else { return [:] }
        var out: [String: Int] = [:]
        for m in o {
            if let v = m.value.numberValue?.intValue { out[m.key] = v }
        }
        return out
    }
}

extension AdapterRecord {
    var domain: Adapter? {
        let serving: AdapterServing
        if let servedModel {
            serving = .servedModel(servedModel)
        } else if let loraID {
            serving = .loraID(loraID, scale: loraScale ?? 1.0)
        } else if let path {
            serving = .path(path)
        } else {
            return nil
        }
        return Adapter(
            id: id, name: name, tenantID: tenantID, upstream: upstream, baseModel: baseModel, serving: serving,
            method: AdapterMethod(rawValue: method) ?? .lora, dataset: dataset, evaluation: evaluation, description: description,
            createdAt: Date(unixSeconds: createdAt))
    }

    init(_ a: Adapter) {
        var served: String?
        var loraID: Int?
        var scale: Double?
        var path: String?
        switch a.serving {
        case .servedModel(let m): served = m
        case .loraID(let id, let s):
            loraID = id
            scale = s
        case .path(let p): path = p
        }
        self.init(
            id: a.id, name: a.name, tenantID: a.tenantID, upstream: a.upstream, baseModel: a.baseModel, servedModel: served, loraID: loraID,
            loraScale: scale, path: path, method: a.method.rawValue, dataset: a.dataset, evaluation: a.evaluation, description: a.description,
            createdAt: a.createdAt.unixSeconds)
    }
}

extension KnowledgeBaseRecord {
    var domain: KnowledgeBase {
        var embedding: KnowledgeBase.Embedding?
        if let embeddingUpstream, let embeddingModel { embedding = .init(upstream: embeddingUpstream, model: embeddingModel) }
        return KnowledgeBase(
            id: id, name: name, tenantID: tenantID, description: description, embedding: embedding, chunkSize: chunkSize,
            chunkOverlap: chunkOverlap, createdAt: Date(unixSeconds: createdAt))
    }
}

extension DocumentRecord {
    var domain: DocumentInfo {
        DocumentInfo(
            id: id, knowledgeBaseID: kbID, title: title, contentType: contentType, sha256: sha256, bytes: bytes, metadata: metadata,
            chunkCount: chunkCount, createdAt: Date(unixSeconds: createdAt))
    }
}
