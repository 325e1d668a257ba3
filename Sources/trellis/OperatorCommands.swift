import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import OpenAIWire

struct Tenants: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list and limit tenants.", subcommands: [Create.self, List.self, Update.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a tenant.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Tenant name: [a-z0-9][a-z0-9-]*.") var name: String

        func run() async throws {
            let answer = try await AdminClient.call(admin, .POST, "tenants", body: ["name": .string(name)])
            AdminClient.show(answer, options: admin, columns: ["id", "name", "created_at"])
        }
    }

    typealias List = AdminList<Listing>
    enum Listing: AdminListing {
        static let abstract = "List tenants."
        static let path = "tenants"
        static let columns = ["id", "name", "created_at"]
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a tenant's limits, monthly token quota and interaction capture.",
            discussion: "Options left out keep their values; 'none' removes a limit.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Tenant name.") var name: String
        @Option(help: "Requests per minute, or none.") var rpm: String?
        @Option(help: "Tokens per minute, or none.") var tpm: String?
        @Option(help: "Requests in flight at once, or none.") var concurrency: String?
        @Option(help: "Tokens per calendar month (UTC), or none.") var monthlyTokenQuota: String?
        @Option(help: "Capture interactions: on or off.") var capture: String?
        @Option(help: "Days captured interactions are kept (with --capture on).") var retentionDays: Int?

        func run() async throws {
            var body: JSONObject = [:]
            func limit(_ key: String, _ value: String?) throws {
                guard let value else { return }
                if value == "none" {
                    body[key] = .null
                } else if let n = Int(value) {
                    body[key] = .int(n)
                } else {
                    throw ValidationError("--\(key.replacingOccurrences(of: "_", with: "-")) takes a whole number or none.")
                }
            }
            try limit("rpm", rpm)
            try limit("tpm", tpm)
            try limit("concurrency", concurrency)
            try limit("monthly_token_quota", monthlyTokenQuota)
            switch capture {
            case nil:
                if retentionDays != nil { throw ValidationError("--retention-days goes with --capture on.") }
            case "on":
                var c: JSONObject = ["enabled": true]
                if let retentionDays { c["retention_days"] = .int(retentionDays) }
                body["capture"] = .object(c)
            case "off":
                body["capture"] = ["enabled": false]
            default:
                throw ValidationError("--capture takes on or off.")
            }
            if body.isEmpty { throw ValidationError("Nothing to change: give at least one option.") }
            let answer = try await AdminClient.call(admin, .PATCH, "tenants/\(name)", body: .object(body))
            AdminClient.show(answer, options: admin, columns: ["name", "rpm", "tpm", "concurrency", "monthly_token_quota", "capture"])
        }
    }
}

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Issue, list and revoke tenant API keys.", subcommands: [Issue.self, List.self, Revoke.self])

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Issue a key; it is printed once and never shown again.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Tenant name.") var tenant: String
        @Option(help: "A name for the key.") var name = "default"
        @Option(help: "Comma-separated scopes: inference, manage, usage.") var scopes = "inference"
        @Option(help: "Comma-separated model names or prefixes ending in '*'.") var models = "*"
        @Option(help: "Requests per minute.") var rpm: Int?
        @Option(help: "Tokens per minute.") var tpm: Int?
        @Option(help: "Requests in flight at once.") var concurrency: Int?
        @Option(help: "Expiry, RFC 3339 (2027-01-01T00:00:00Z).") var expiresAt: String?

        func run() async throws {
            var body: JSONObject = [
                "name": .string(name),
                "scopes": .array(scopes.split(separator: ",").map { .string($0.trimmingCharacters(in: .whitespaces)) }),
                "models": .array(models.split(separator: ",").map { .string($0.trimmingCharacters(in: .whitespaces)) }),
            ]
            if let rpm { body["rpm"] = .int(rpm) }
            if let tpm { body["tpm"] = .int(tpm) }
            if let concurrency { body["concurrency"] = .int(concurrency) }
            if let expiresAt { body["expires_at"] = .string(expiresAt) }
            let answer = try await AdminClient.call(admin, .POST, "tenants/\(tenant)/keys", body: .object(body))
            AdminClient.show(answer, options: admin, columns: ["id", "prefix", "scopes", "models", "key"])
            if !admin.json { print("\nStore the key now: it is not shown again.") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a tenant's keys (never the secrets).")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Tenant name.") var tenant: String

        func run() async throws {
            let answer = try await AdminClient.call(admin, .GET, "tenants/\(tenant)/keys")
            AdminClient.show(answer, options: admin, columns: ["id", "prefix", "name", "scopes", "models", "expires_at", "revoked"])
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key; it stops working at once.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Key id (key_…).") var id: String

        func run() async throws {
            let answer = try await AdminClient.call(admin, .DELETE, "keys/\(id)")
            AdminClient.show(answer, options: admin, columns: ["id", "prefix", "revoked_at"])
        }
    }
}

struct Upstreams: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Register and list model servers.", subcommands: [Add.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register an OpenAI-compatible model server.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Upstream name.") var name: String
        @Option(help: "API root, e.g. http://10.0.0.5:8000/v1.") var baseURL: String
        @Option(help: "openai, vllm, llamacpp or ollama.") var kind = "openai"
        @Option(help: "private or external.") var label = "private"
        @Option(help: "Environment variable holding the server's API key.") var apiKeyEnv: String?

        func run() async throws {
            var body: JSONObject = [
                "name": .string(name), "base_url": .string(baseURL), "kind": .string(kind), "labels": [.string(label)],
            ]
            if let apiKeyEnv { body["api_key_env"] = .string(apiKeyEnv) }
            let answer = try await AdminClient.call(admin, .POST, "upstreams", body: .object(body))
            AdminClient.show(answer, options: admin, columns: ["name", "base_url", "kind", "labels", "api_key_present"])
        }
    }

    typealias List = AdminList<Listing>
    enum Listing: AdminListing {
        static let abstract = "List model servers with their health."
        static let path = "upstreams"
        static let columns = ["name", "base_url", "kind", "labels", "health"]
    }
}

struct Models: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish and inspect industry models.", subcommands: [Create.self, List.self, Show.self, AddVersion.self, Traffic.self])

    struct SpecOptions: ParsableArguments {
        @Option(help: "Upstream name.") var upstream: String?
        @Option(help: "Model name on the upstream.") var model: String?
        @Option(help: "The whole spec as JSON (instead of --upstream/--model/--param).") var spec: String?
        @Option(help: "A default parameter, key=value (JSON value); repeatable.") var param: [String] = []

        func build() throws -> JSONValue {
            if let spec {
                do { return try JSONParser.parse(spec) } catch { throw ValidationError("--spec is not valid JSON: \(error)") }
            }
            guard let upstream, let model else { throw ValidationError("Give --upstream and --model, or --spec.") }
            var object: JSONObject = ["upstream": .string(upstream), "model": .string(model)]
            if !param.isEmpty {
                var params = JSONObject()
                for p in param {
                    guard let eq = p.firstIndex(of: "=") else { throw ValidationError("--param takes key=value, got '\(p)'.") }
                    let key = String(p[..<eq])
                    let raw = String(p[p.index(after: eq)...])
                    params[key] = (try? JSONParser.parse(raw)) ?? .string(raw)
                }
                object["params"] = .object(params)
            }
            return .object(object)
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Publish a model (version 1).")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Model name.") var name: String
        @Option(help: "Owning tenant (default: shared with every tenant).") var tenant: String?
        @Option(help: "Description.") var description: String?
        @OptionGroup var spec: SpecOptions

        func run() async throws {
            var body: JSONObject = ["name": .string(name), "spec": try spec.build()]
            if let tenant { body["tenant"] = .string(tenant) }
            if let description { body["description"] = .string(description) }
            let answer = try await AdminClient.call(admin, .POST, "models", body: .object(body))
            AdminClient.show(answer, options: admin, columns: ["name", "tenant", "version", "traffic"])
        }
    }

    typealias List = AdminList<Listing>
    enum Listing: AdminListing {
        static let abstract = "List models."
        static let path = "models"
        static let columns = ["name", "tenant", "latest_version", "traffic", "description"]
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a model's versions and traffic (JSON).")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Model name.") var name: String
        @Option(help: "Owning tenant, when several have this name.") var tenant: String?

        func run() async throws {
            let path = "models/\(name)" + (tenant.map { "?tenant=\($0)" } ?? "")
            print(JSONWriter.string(try await AdminClient.call(admin, .GET, path)))
        }
    }

    struct AddVersion: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add-version", abstract: "Add an immutable version; traffic is unchanged.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Model name.") var name: String
        @Option(help: "Owning tenant, when several have this name.") var tenant: String?
        @OptionGroup var spec: SpecOptions

        func run() async throws {
            let path = "models/\(name)/versions" + (tenant.map { "?tenant=\($0)" } ?? "")
            let answer = try await AdminClient.call(admin, .POST, path, body: ["spec": try spec.build()])
            AdminClient.show(answer, options: admin, columns: ["name", "version", "traffic"])
        }
    }

    struct Traffic: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set the traffic split, e.g. 1=90 2=10.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Model name.") var name: String
        @Argument(help: "version=weight pairs.") var weights: [String]
        @Option(help: "Owning tenant, when several have this name.") var tenant: String?

        func run() async throws {
            var body = JSONObject()
            for w in weights {
                let parts = w.split(separator: "=")
                guard parts.count == 2, let weight = Int(parts[1]) else { throw ValidationError("Weights look like 1=90, got '\(w)'.") }
                body[String(parts[0])] = .int(weight)
            }
            let path = "models/\(name)/traffic" + (tenant.map { "?tenant=\($0)" } ?? "")
            let answer = try await AdminClient.call(admin, .PUT, path, body: .object(body))
            AdminClient.show(answer, options: admin, columns: ["name", "tenant", "traffic"])
        }
    }
}

struct Prompts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The prompt library: versions and labels.", subcommands: [Create.self, List.self, Show.self, Label.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a prompt, or add a version to it, from a JSON or YAML file with messages and variables.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Prompt name.") var name: String
        @Option(help: "File with {\"messages\": [...], \"variables\": {...}} (JSON).") var file: String
        @Option(help: "Owning tenant (default: shared).") var tenant: String?
        @Option(help: "Labels to point at the new version, comma-separated (e.g. staging).") var labels: String?

        func run() async throws {
            guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("Cannot read \(file).") }
            guard case .object(var body) = try JSONParser.parse(Array(data)) else { throw ValidationError("\(file) must hold a JSON object.") }
            body["name"] = .string(name)
            if let tenant { body["tenant"] = .string(tenant) }
            if let labels { body["labels"] = .array(labels.split(separator: ",").map { .string(String($0)) }) }
            let answer = try await AdminClient.call(admin, .POST, "prompts", body: .object(body))
            AdminClient.show(answer, options: admin, columns: ["name", "tenant", "version", "created", "labels"])
        }
    }

    typealias List = AdminList<Listing>
    enum Listing: AdminListing {
        static let abstract = "List prompts."
        static let path = "prompts"
        static let columns = ["name", "tenant", "latest_version", "labels"]
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a prompt's versions and labels (JSON).")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Prompt name.") var name: String

        func run() async throws {
            print(JSONWriter.string(try await AdminClient.call(admin, .GET, "prompts/\(name)")))
        }
    }

    struct Label: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Point labels at versions, e.g. production=3 (or production= to remove).")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Prompt name.") var name: String
        @Argument(help: "label=version pairs.") var labels: [String]

        func run() async throws {
            var body = JSONObject()
            for pair in labels {
                let parts = pair.split(separator: "=", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw ValidationError("Labels look like production=3, got '\(pair)'.") }
                body[String(parts[0])] = parts[1].isEmpty ? .null : Int(parts[1]).map { .int($0) } ?? .string(String(parts[1]))
            }
            let answer = try await AdminClient.call(admin, .PUT, "prompts/\(name)/labels", body: .object(body))
            AdminClient.show(answer, options: admin, columns: ["name", "latest_version", "labels"])
        }
    }
}

struct Adapters: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Register and list fine-tuned adapters.", subcommands: [Add.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register an adapter and how its upstream serves it.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Adapter name.") var name: String
        @Option(help: "Upstream that serves it.") var upstream: String
        @Option(help: "The base model it was trained on.") var baseModel: String
        @Option(help: "Its own model name on the upstream.") var servedModel: String?
        @Option(help: "llama.cpp adapter id (upstream kind llamacpp).") var loraID: Int?
        @Option(help: "Adapter path for vLLM's dynamic loading (upstream kind vllm).") var path: String?
        @Option(help: "lora, qlora, adapter or full.") var method = "lora"
        @Option(help: "Training dataset reference.") var dataset: String?
        @Option(help: "Evaluation notes.") var evaluation: String?
        @Option(help: "Owning tenant (default: shared).") var tenant: String?

        func run() async throws {
            var body: JSONObject = ["name": .string(name), "upstream": .string(upstream), "base_model": .string(baseModel), "method": .string(method)]
            if let servedModel { body["served_model"] = .string(servedModel) }
            if let loraID { body["lora_id"] = .int(loraID) }
            if let path { body["path"] = .string(path) }
            if let dataset { body["dataset"] = .string(dataset) }
            if let evaluation { body["evaluation"] = .string(evaluation) }
            if let tenant { body["tenant"] = .string(tenant) }
            let answer = try await AdminClient.call(admin, .POST, "adapters", body: .object(body))
            AdminClient.show(answer, options: admin, columns: ["name", "tenant", "upstream", "base_model", "method"])
        }
    }

    typealias List = AdminList<Listing>
    enum Listing: AdminListing {
        static let abstract = "List adapters."
        static let path = "adapters"
        static let columns = ["name", "tenant", "upstream", "base_model", "method", "dataset"]
    }
}

struct Usage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Usage, cost and feedback as a table (GET /admin/v1/usage).")
    @OptionGroup var admin: AdminOptions
    @Option(help: "Comma-separated: tenant, model, version, key, user, day.") var groupBy = "model"
    @Option(help: "First day (2026-11-01); default 30 days ago.") var from: String?
    @Option(help: "Last day, inclusive; default today.") var to: String?
    @Option(help: "Only this tenant.") var tenant: String?
    @Option(help: "Only this model.") var model: String?

    func run() async throws {
        var items = [URLQueryItem(name: "group_by", value: groupBy)]
        if let from { items.append(URLQueryItem(name: "from", value: from)) }
        if let to { items.append(URLQueryItem(name: "to", value: to)) }
        if let tenant { items.append(URLQueryItem(name: "tenant", value: tenant)) }
        if let model { items.append(URLQueryItem(name: "model", value: model)) }
        var components = URLComponents()
        components.queryItems = items
        let answer = try await AdminClient.call(admin, .GET, "usage?" + (components.percentEncodedQuery ?? ""))
        let dims = groupBy.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.map { $0 == "end_user" ? "user" : $0 }
        AdminClient.show(
            answer, options: admin,
            columns: dims + [
                "requests", "users", "errors", "prompt_tokens", "completion_tokens", "cost", "p50_ms", "p95_ms", "ttft_p50_ms", "positive", "negative",
            ])
    }
}

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a fine-tuning dataset (JSON Lines) from captured, rated and corrected interactions.")
    @OptionGroup var admin: AdminOptions
    @Option(help: "Only this model.") var model: String?
    @Option(help: "openai-sft or openai-dpo.") var format = "openai-sft"
    @Option(name: .shortAndLong, help: "Output file.") var output: String

    func run() async throws {
        var items = [URLQueryItem(name: "format", value: format)]
        if let model { items.append(URLQueryItem(name: "model", value: model)) }
        var components = URLComponents()
        components.queryItems = items
        let key = try admin.adminKey
        var request = HTTPClientRequest(url: admin.baseURL + "/admin/v1/datasets/export?" + (components.percentEncodedQuery ?? ""))
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            let response = try await client.execute(request, timeout: .seconds(3600))
            guard response.status.code == 200 else {
                let body = try await response.body.collect(upTo: 1 << 20)
                try await client.shutdown()
                let message = (try? JSONParser.parse(body.readableBytesView))?["error"]?["message"]?.stringValue ?? "HTTP \(response.status.code)"
                throw AdminCallError(description: message)
            }
            guard FileManager.default.createFile(atPath: output, contents: nil), let handle = FileHandle(forWritingAtPath: output) else {
                try await client.shutdown()
                throw ValidationError("Cannot write \(output).")
            }
            var lines = 0
            for try await buffer in response.body {
                lines += buffer.readableBytesView.filter { $0 == 0x0A }.count
                handle.write(Data(buffer.readableBytesView))
            }
            try handle.close()
            try await client.shutdown()
            print("\(lines) lines written to \(output) (\(format))")
        } catch let error as AdminCallError {
            throw error
        } catch let error as ValidationError {
            throw error
        } catch {
            try? await client.shutdown()
            throw AdminCallError(description: "cannot reach the gateway at \(admin.baseURL)")
        }
    }
}
