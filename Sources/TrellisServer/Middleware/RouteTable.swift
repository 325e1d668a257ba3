import HTTPTypes
import Hummingbird
import OpenAIWire
import TrellisCore
import TrellisStore

/// The routes the application registers, kept so that a request for a known path with the wrong method can be
/// answered 405 with an `Allow` header instead of the router's 404.
struct RouteTable: Sendable {
    private var routes: [(method: HTTPRequest.Method, segments: [Substring])] = []

    mutating func add(_ method: HTTPRequest.Method, _ path: String) {
        routes.append((method, path.split(separator: "/")))
    }

    /// The methods registered for paths matching `path`, where `{name}` segments match anything.
    func methods(for path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/")
        var out: [HTTPRequest.Method] = []
        for route in routes where route.segments.count == segments.count {
            let matches = zip(route.segments, segments).allSatisfy { pattern, segment in
                pattern.hasPrefix("{") || pattern.hasPrefix(":") || pattern == segment
            }
            if matches && !out.contains(route.method) { out.append(route.method) }
        }
        return out
    }
}
