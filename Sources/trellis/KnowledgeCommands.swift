import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import OpenAIWire

struct KnowledgeBases: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kb", abstract: "Knowledge bases: create, list, ingest files, search.",
        subcommands: [Create.self, List.self, Ingest.self, Search.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a knowledge base for a tenant.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Knowledge base name.") var name: String
        @Option(help: "The tenant it belongs to.") var tenant: String
        @Option(help: "Upstream of the embedding model (enables vector search).") var embeddingUpstream: String?
        @Option(help: "Embedding model name on that upstream.") var embeddingModel: String?
        @Option(help: "Chunk size in estimated tokens.") var chunkSize: Int?
        @Option(help: "Overlap between chunks in estimated tokens.") var chunkOverlap: Int?
        @Option(help: "Description.") var description: String?

        func run() async throws {
            var body: JSONObject = ["name": .string(name), "tenant": .string(tenant)]
            if let embeddingUpstream, let embeddingModel {
                body["embedding"] = ["upstream": .string(embeddingUpstream), "model": .string(embeddingModel)]
            } else if embeddingUpstream != nil || embeddingModel != nil {
                throw ValidationError("Give both --embedding-upstream and --embedding-model.")
            }
            if let chunkSize { body["chunk_size"] = .int(chunkSize) }
            if let chunkOverlap { body["chunk_overlap"] = .int(chunkOverlap) }
            if let description { body["description"] = .string(description) }
            let answer = try await AdminClient.call(admin, .POST, "knowledge-bases", body: .object(body))
            AdminClient.show(answer, options: admin, columns: ["name", "tenant", "embedding", "chunk_size", "chunk_overlap"])
        }
    }

    typealias List = AdminList<Listing>
    enum Listing: AdminListing {
        static let abstract = "List knowledge bases."
        static let path = "knowledge-bases"
        static let columns = ["name", "tenant", "embedding", "chunk_size"]
    }

    struct Ingest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Upload every .txt, .md, .html and .pdf file under the paths; content already there is skipped.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Knowledge base name.") var kb: String
        @Argument(help: "Files or folders.") var paths: [String]
        @Option(help: "The knowledge base's tenant (needed with the operator key when several tenants use the name).") var tenant: String?

        static let types: [String: String] = [
            "txt": "text/plain", "text": "text/plain", "md": "text/markdown", "markdown": "text/markdown", "html": "text/html",
            "htm": "text/html", "pdf": "application/pdf",
        ]

        func files() throws -> [String] {
            var out: [String] = []
            let fm = FileManager.default
            for path in paths {
                var isDirectory: ObjCBool = false
                guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else { throw ValidationError("No such file or folder: \(path)") }
                if isDirectory.boolValue {
                    guard let walker = fm.enumerator(atPath: path) else { continue }
                    for case let relative as String in walker {
                        let full = (path as NSString).appendingPathComponent(relative)
                        var dir: ObjCBool = false
                        if fm.fileExists(atPath: full, isDirectory: &dir), !dir.boolValue, Self.types[(full as NSString).pathExtension.lowercased()] != nil {
                            out.append(full)
                        }
                    }
                } else {
                    out.append(path)
                }
            }
            return out.sorted()
        }

        func run() async throws {
            let files = try files()
            guard !files.isEmpty else { throw ValidationError("No .txt, .md, .html or .pdf files under \(paths.joined(separator: " ")).") }
            let key = try admin.adminKey
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            let progress = ProgressLine(total: files.count)
            var added = 0
            var unchanged = 0
            var chunks = 0
            var bytes = 0
            var failures: [(String, String)] = []
            let started = Date()
            for (i, file) in files.enumerated() {
                progress.show(done: i, current: (file as NSString).lastPathComponent)
                let ext = (file as NSString).pathExtension.lowercased()
                guard let type = Self.types[ext] else {
                    failures.append((file, "unsupported file type '.\(ext)'"))
                    continue
                }
                guard let data = FileManager.default.contents(atPath: file) else {
                    failures.append((file, "cannot read the file"))
                    continue
                }
                bytes += data.count
                let title = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
                var components = URLComponents()
                components.queryItems = [URLQueryItem(name: "title", value: title)] + (tenant.map { [URLQueryItem(name: "tenant", value: $0)] } ?? [])
                let query = components.percentEncodedQuery ?? ""
                var request = HTTPClientRequest(
                    url: admin.baseURL + "/admin/v1/knowledge-bases/" + (kb.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? kb) + "/documents?"
                        + query)
                request.method = .POST
                request.headers.add(name: "Authorization", value: "Bearer \(key)")
                request.headers.add(name: "Content-Type", value: type)
                request.body = .bytes(ByteBuffer(bytes: data))
                do {
                    let response = try await client.execute(request, timeout: .seconds(600))
                    let body = try await response.body.collect(upTo: 1 << 20)
                    let value = (try? JSONParser.parse(body.readableBytesView)) ?? .null
                    switch response.status.code {
                    case 201:
                        added += 1
                        chunks += value["chunks"]?.numberValue?.intValue ?? 0
                    case 200:
                        unchanged += 1
                    default:
                        failures.append((file, "\(response.status.code): \(value["error"]?["message"]?.stringValue ?? "error")"))
                    }
                } catch {
                    failures.append((file, "cannot reach the gateway at \(admin.baseURL)"))
                }
            }
            progress.finish()
            try? await client.shutdown()
            let seconds = max(Date().timeIntervalSince(started), 0.001)
            print(
                "\(files.count) files, \(String(format: "%.1f", Double(bytes) / 1_048_576)) MB in \(String(format: "%.1f", seconds)) s: "
                    + "\(added) added (\(chunks) chunks), \(unchanged) already there, \(failures.count) failed")
            for (file, reason) in failures { print("  failed: \(file): \(reason)") }
            if !failures.isEmpty { throw ExitCode(1) }
        }
    }

    struct Search: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Search a knowledge base as a tenant (uses TRELLIS_API_KEY, a tenant key).")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Knowledge base name.") var kb: String
        @Argument(help: "The query.") var query: String
        @Option(help: "keyword, vector or hybrid.") var mode: String?
        @Option(help: "How many chunks.") var topK = 5

        func run() async throws {
            guard let key = ProcessInfo.processInfo.environment["TRELLIS_API_KEY"], !key.isEmpty else {
                throw ValidationError("Set TRELLIS_API_KEY to a tenant key with the 'inference' or 'manage' scope.")
            }
            var body: JSONObject = ["query": .string(query), "top_k": .int(topK)]
            if let mode { body["mode"] = .string(mode) }
            var request = HTTPClientRequest(url: admin.baseURL + "/v1/knowledge-bases/\(kb)/search")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(key)")
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(JSONWriter.encode(.object(body)))
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            let data: ByteBuffer
            let status: UInt
            do {
                let response = try await client.execute(request, timeout: .seconds(60))
                status = response.status.code
                data = try await response.body.collect(upTo: 16 << 20)
                try await client.shutdown()
            } catch {
                try? await client.shutdown()
                throw AdminCallError(description: "cannot reach the gateway at \(admin.baseURL)")
            }
            let value = (try? JSONParser.parse(data.readableBytesView)) ?? .null
            guard status == 200 else {
                throw AdminCallError(description: "\(status): \(value["error"]?["message"]?.stringValue ?? "error")")
            }
            if admin.json {
                print(JSONWriter.string(value))
                return
            }
            for (i, hit) in (value["data"]?.arrayValue ?? []).enumerated() {
                let score = hit["score"]?.numberValue?.literal ?? "?"
                print("[\(i + 1)] \(hit["title"]?.stringValue ?? "")  (score \(score), chunk \(hit["chunk_id"]?.numberValue?.literal ?? "?"))")
                print("    " + (hit["text"]?.stringValue ?? "").replacingOccurrences(of: "\n", with: " ").prefix(300))
            }
        }
    }
}

/// A one-line progress bar on standard error when it is a terminal; a line per file otherwise.
final class ProgressLine {
    let total: Int
    let interactive = isatty(STDERR_FILENO) == 1

    init(total: Int) {
        self.total = total
    }

    func show(done: Int, current: String) {
        let width = 30
        let filled = total == 0 ? width : done * width / total
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = "[\(bar)] \(done)/\(total) \(current.prefix(40))"
        if interactive {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
        } else {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    func finish() {
        show(done: total, current: "done")
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
