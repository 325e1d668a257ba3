import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import OpenAIWire

/// Where the operator commands send their calls: the gateway's administration API, with the operator key.
struct AdminOptions: ParsableArguments {
    @Option(name: .long, help: "Gateway URL (default: $TRELLIS_URL, else http://127.0.0.1:8080).")
    var url: String?

    @Flag(name: .long, help: "Print the raw JSON answer instead of a table.")
    var json = false

    var baseURL: String {
        var url = self.url ?? ProcessInfo.processInfo.environment["TRELLIS_URL"] ?? "http://127.0.0.1:8080"
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    /// The operator key comes only from the environment, never from a flag (flags show up in `ps`).
    var adminKey: String {
        get throws {
            guard let key = ProcessInfo.processInfo.environment["TRELLIS_ADMIN_KEY"], !key.isEmpty else {
                throw ValidationError("Set TRELLIS_ADMIN_KEY to the operator key (or a tenant key with the 'manage' scope).")
            }
            return key
        }
    }
}

/// What a resource's `list` subcommand reads and shows: its one-line help, the `/admin/v1/` path it reads and the
/// columns of its table.
protocol AdminListing {
    static var abstract: String { get }
    static var path: String { get }
    static var columns: [String] { get }
}

/// The `list` subcommand of an admin resource: GET `/admin/v1/<path>`, printed as a table of the listing's columns
/// (or the raw JSON with --json).
struct AdminList<Listing: AdminListing>: AsyncParsableCommand {
    static var configuration: CommandConfiguration { CommandConfiguration(commandName: "list", abstract: Listing.abstract) }
    @OptionGroup var admin: AdminOptions

    func run() async throws {
        AdminClient.show(try await AdminClient.call(admin, .GET, Listing.path), options: admin, columns: Listing.columns)
    }
}

struct AdminCallError: Error, CustomStringConvertible {
    let description: String
}

enum AdminClient {
    /// Calls `/admin/v1/<path>` and returns the parsed answer; an error answer becomes a thrown message.
    static func call(_ options: AdminOptions, _ method: HTTPMethod, _ path: String, body: JSONValue? = nil) async throws -> JSONValue {
        let key = try options.adminKey
        var request = HTTPClientRequest(url: options.baseURL + "/admin/v1/" + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(JSONWriter.encode(body))
        }
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            let response = try await client.execute(request, timeout: .seconds(60))
            let buffer = try await response.body.collect(upTo: 64 << 20)
            try await client.shutdown()
            let value = (try? JSONParser.parse(buffer.readableBytesView)) ?? .null
            guard (200..<300).contains(Int(response.status.code)) else {
                let message = value["error"]?["message"]?.stringValue ?? "HTTP \(response.status.code)"
                throw AdminCallError(description: "\(response.status.code): \(message)")
            }
            return value
        } catch let error as AdminCallError {
            throw error
        } catch {
            try? await client.shutdown()
            throw AdminCallError(description: "cannot reach the gateway at \(options.baseURL): \(error)")
        }
    }

    /// Prints a JSON answer, or selected columns of a list (or of one object) as an aligned table.
    static func show(_ value: JSONValue, options: AdminOptions, columns: [String]) {
        if options.json {
            print(JSONWriter.string(value))
            return
        }
        printTable(value["data"]?.arrayValue ?? [value], columns: columns)
    }

    /// Prints rows as a table: a header of the column names in capitals, then each row's values of those keys,
    /// aligned by display width (``TableText``); a column in `maxWidths` is cut to that many terminal columns.
    static func printTable(_ rows: [JSONValue], columns: [String], maxWidths: [String: Int] = [:]) {
        var table: [[String]] = [columns.map { $0.uppercased() }]
        for row in rows {
            table.append(columns.map { cell(row[$0]) })
        }
        for line in TableText.layout(table, maxWidths: columns.map { maxWidths[$0] }) {
            print(line)
        }
    }

    static func cell(_ value: JSONValue?) -> String {
        switch value {
        case nil, .null?: return "-"
        case .string(let s)?: return s
        case .number(let n)?: return n.literal
        case .bool(let b)?: return b ? "yes" : "no"
        case .array(let items)?: return items.map { cell($0) }.joined(separator: ",")
        case .object(let o)?:
            if let status = o["status"]?.stringValue { return status }
            return JSONWriter.string(.object(o))
        }
    }
}
