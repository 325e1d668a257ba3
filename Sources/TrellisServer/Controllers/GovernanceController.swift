import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import OpenAIWire
import TrellisCore
import TrellisStore

/// Governance under `/admin/v1`: the audit log, usage reports and the dataset export. The operator sees every
/// tenant's (or one, with `?tenant=`); a tenant key sees its own tenant's only.
struct GovernanceController {
    let gateway: Gateway

    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.get("audit", use: listAudit)
        group.get("usage", use: usageReport)
        group.get("datasets/export", use: exportDataset)
    }

    // MARK: Audit

    @Sendable func listAudit(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let caller = try context.manageKey()
        let query = request.uri.queryParameters
        var limit = 100
        if let text = query.get("limit") {
            guard let n = Int(text), (1...1000).contains(n) else { throw TrellisError.invalidField("limit", "must be an integer from 1 to 1000") }
            limit = n
        }
        var before: Int64?
        if let text = query.get("before") {
            guard let n = Int64(text), n > 0 else { throw TrellisError.invalidField("before", "must be a positive audit entry id") }
            before = n
        }
        var tenantID = caller?.tenantID
        if caller == nil, let tenantName = query.get("tenant") {
            let tenant = try context.managedTenant(named: tenantName, in: gateway.snapshot)
            tenantID = tenant.id
        }
        var filter = AuditFilter()
        filter.action = query.get("action").map { String($0) }
        filter.actor = query.get("actor").map { String($0) }
        filter.target = query.get("target").map { String($0) }
        if let from = query.get("from") {
            guard let date = Timestamps.parse(.string(String(from))) else { throw TrellisError.invalidField("from", "must be an RFC 3339 time") }
            filter.from = date
        }
        if let to = query.get("to") {
            guard let date = Timestamps.parse(.string(String(to))) else { throw TrellisError.invalidField("to", "must be an RFC 3339 time") }
            filter.to = date
        }
        let entries = try await gateway.store.auditEntries(tenantID: tenantID, limit: limit + 1, beforeID: before, filter: filter)
        let page = entries.prefix(limit)
        let snapshot = gateway.snapshot
        let data: [JSONValue] = page.map { e in
            [
                "id": .int(Int(e.id)), "at": .time(e.at), "actor": .string(e.actor),
                "tenant": .optionalString(e.tenantID.flatMap { snapshot.tenants[$0]?.name }), "action": .string(e.action),
                "target": .string(e.target), "detail": e.detail.flatMap { try? JSONParser.parse($0) } ?? .null,
            ]
        }
        return .json(["object": "list", "data": .array(data), "has_more": .bool(entries.count > limit)])
    }

    // MARK: Usage and export

    /// The caller's view of usage: the operator's of everything (or `?tenant=`), a tenant key's (scope
    /// `usage` or `manage`) of its own tenant only.
    func usageTenant(_ request: Request, _ context: AuthenticatedContext) throws -> String? {
        switch context.principal {
        case .operator:
            guard let name = request.uri.queryParameters.get("tenant") else { return nil }
            guard let tenant = gateway.snapshot.tenant(named: String(name)) else { throw TrellisError.notFound("The tenant '\(name.prefix(64))'") }
            return tenant.id
        case .tenantKey(let key):
            _ = try key.requiring(anyOf: [.usage, .manage], "This key needs the 'usage' scope to read usage.")
            if let name = request.uri.queryParameters.get("tenant"), name != key.tenantName {
                throw TrellisError.notFound("The tenant '\(name.prefix(64))'")
            }
            return key.tenantID
        }
    }

    /// A day from `2026-11-29` or an RFC 3339 time (its UTC day).
    static func day(_ text: some StringProtocol, param: String) throws -> String {
        let s = String(text)
        if s.count == 10, s.split(separator: "-").count == 3, Timestamps.parse(.string(s + "T00:00:00Z")) != nil { return s }
        guard let date = Timestamps.parse(.string(s)) else { throw TrellisError.invalidField(param, "must be a date (2026-11-29) or an RFC 3339 time") }
        return UsageQuery.day(ms: Int64(date.timeIntervalSince1970 * 1000))
    }

    /// The longest period a report grouped by source may cover.
    static let maxSourceDays = 92

    /// `GET /usage?tenant=&model=&group_by=model,version,tenant,key,user,day,source&from=&to=`: requests, distinct end
    /// users, errors, tokens, cost, latency and time-to-first-token percentiles and feedback per group, over
    /// whole UTC days (`from` and `to` inclusive; default the last 30 days).
    @Sendable func usageReport(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let tenantID = try usageTenant(request, context)
        let query = request.uri.queryParameters
        var groupBy: [UsageDimension] = []
        if let text = query.get("group_by"), !text.isEmpty {
            // A form-encoded space ("model,+day") is a space too.
            for part in text.split(separator: ",") {
                let name = part.replacingOccurrences(of: "+", with: " ").trimmingCharacters(in: .whitespaces)
                guard let d = UsageDimension(rawValue: name == "end_user" ? "user" : name) else {
                    throw TrellisError.invalidField("group_by", "takes tenant, model, version, key, user, day, source and routed_to, comma-separated")
                }
                if !groupBy.contains(d) { groupBy.append(d) }
            }
        }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let from = try query.get("from").map { try Self.day($0, param: "from") } ?? UsageQuery.day(ms: now - 29 * 86_400_000)
        let to = try query.get("to").map { try Self.day($0, param: "to") } ?? UsageQuery.day(ms: now)
        guard from <= to else { throw TrellisError.invalidRequest("'from' is after 'to'.", param: "from", code: "invalid_value") }
        // Grouping by source reads the usage rows themselves, not the daily roll-ups: a bounded period.
        if groupBy.contains(where: \.readsRows), let start = CivilDate.unixMs(ofDay: from), let end = CivilDate.unixMs(ofDay: to),
            end - start >= Int64(Self.maxSourceDays) * 86_400_000
        {
            throw TrellisError.invalidRequest(
                "Grouping by source or routed_to covers at most \(Self.maxSourceDays) days; narrow 'from' and 'to'.", param: "group_by", code: "invalid_value")
        }
        let model = query.get("model").map { String($0) }
        let started = ContinuousClock.now
        let rows = try await gateway.store.usageReport(
            .init(tenantID: tenantID, model: model, fromDay: from, toDay: to, groupBy: groupBy))
        let snapshot = gateway.snapshot
        let data: [JSONValue] = rows.map { r in
            var o = JSONObject()
            for d in groupBy {
                let raw = r.group[d] ?? ""
                switch d {
                case .tenant: o["tenant"] = .string(snapshot.tenants[raw]?.name ?? raw)
                case .version: o["version"] = Int(raw).map { $0 < 0 ? JSONValue.null : .int($0) } ?? .null
                case .key: o["key"] = .string(raw)
                case .user: o["user"] = .string(raw)
                case .model: o["model"] = .string(raw)
                case .day: o["day"] = .string(raw)
                case .source: o["source"] = .string(raw)
                case .routedTo: o["routed_to"] = raw.isEmpty ? .null : .string(raw)
                }
            }
            func ms(_ v: Double?) -> JSONValue { v.map { .double(($0 * 10).rounded() / 10) } ?? .null }
            o["requests"] = .int(r.requests)
            o["users"] = .int(r.users)
            o["errors"] = .int(r.errors)
            o["prompt_tokens"] = .int(r.promptTokens)
            o["completion_tokens"] = .int(r.completionTokens)
            o["p50_ms"] = ms(r.latency.quantile(0.5))
            o["p95_ms"] = ms(r.latency.quantile(0.95))
            o["ttft_p50_ms"] = ms(r.ttft.quantile(0.5))
            o["ttft_p95_ms"] = ms(r.ttft.quantile(0.95))
            o["positive"] = .int(r.positive)
            o["negative"] = .int(r.negative)
            o["cost"] = .double(Double(r.costMicros) / 1_000_000)
            if let saved = r.savedMicros { o["cost_saved"] = .double(Double(saved) / 1_000_000) }
            if let routed = r.routedRequests { o["routed_requests"] = .int(routed) }
            return .object(o)
        }
        var headers = HTTPFields()
        headers[HTTPField.Name.literal("x-trellis-query-ms")] = String(format: "%.1f", (ContinuousClock.now - started).milliseconds)
        return .json(
            ["object": "list", "from": .string(from), "to": .string(to), "group_by": .array(groupBy.map { .string($0.rawValue) }), "data": .array(data)],
            headers: headers)
    }

    /// `GET /datasets/export?model=&format=openai-sft|openai-dpo`: JSON Lines, streamed, from captured
    /// interactions. SFT: well-rated answers, and corrections as the assistant turn. DPO: corrected answers,
    /// the correction preferred over the original.
    @Sendable func exportDataset(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let tenantID = try usageTenant(request, context)
        let query = request.uri.queryParameters
        let format = query.get("format").map { String($0) } ?? "openai-sft"
        guard format == "openai-sft" || format == "openai-dpo" else { throw TrellisError.invalidField("format", "must be openai-sft or openai-dpo") }
        let model = query.get("model").map { String($0) }
        let store = gateway.store
        var headers = HTTPFields()
        headers[.contentType] = "application/x-ndjson; charset=utf-8"
        // The file name from the model name, reduced to characters that need no quoting or escaping.
        let safeModel = String(
            (model ?? "all").unicodeScalars.map { c in
                (c.properties.isAlphabetic && c.isASCII) || ("0"..."9").contains(c) || c == "-" || c == "_" || c == "." ? Character(c) : "_"
            })
        headers[.contentDisposition] = "attachment; filename=\"\(safeModel.prefix(100))-\(format).jsonl\""
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                var after: String?
                while true {
                    let page = try await store.ratedInteractions(tenantID: tenantID, model: model, afterRequestID: after, limit: 500)
                    if page.isEmpty { break }
                    var out: [UInt8] = []
                    for item in page {
                        for line in Self.datasetLines(item, format: format) {
                            out.append(contentsOf: JSONWriter.encode(line))
                            out.append(0x0A)
                        }
                    }
                    if !out.isEmpty { try await writer.write(ByteBuffer(bytes: out)) }
                    after = page.last?.requestID
                }
                try await writer.finish(nil)
            })
    }

    static func datasetLines(_ item: RatedInteraction, format: String) -> [JSONValue] {
        let messages = item.messages.arrayValue ?? []
        func assistant(_ text: String) -> JSONValue { ["role": "assistant", "content": .string(text)] }
        if format == "openai-dpo" {
            guard let correction = item.correction, !correction.isEmpty else { return [] }
            return [
                [
                    "input": ["messages": .array(messages)], "preferred_output": [assistant(correction)],
                    "non_preferred_output": [assistant(item.answer)],
                ]
            ]
        }
        if let correction = item.correction, !correction.isEmpty {
            return [["messages": .array(messages + [assistant(correction)])]]
        }
        if item.rating > 0 {
            return [["messages": .array(messages + [assistant(item.answer)])]]
        }
        return []
    }
}
