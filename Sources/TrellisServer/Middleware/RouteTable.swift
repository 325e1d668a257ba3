import Hummingbird
import Synchronization

/// The routes the router holds, read from it once every controller has registered (`Router.routes`), so that
/// a request for a known path with the wrong method can be answered 405 with an `Allow` header instead of the
/// router's 404. Nothing declares a route a second time for it.
final class RouteTable: Sendable {
    private let routes: [(method: HTTPRequest.Method, path: RouterPath)]

    init(_ routes: [(method: HTTPRequest.Method, path: RouterPath)]) {
        self.routes = routes
    }

    convenience init<Context>(router: Router<Context>) {
        self.init(router.routes.map { ($0.method, $0.path) })
    }

    /// The order methods are listed in `Allow`: creating before reading, as the API has always listed them.
    static let allowOrder: [HTTPRequest.Method] = [.post, .get, .head, .put, .patch, .delete, .options]

    /// The methods registered for paths matching `path` (a capture matches any segment), in `allowOrder`.
    func methods(for path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/")
        var found: [HTTPRequest.Method] = []
        for route in routes where route.path.components.count == segments.count && !found.contains(route.method) {
            if zip(route.path.components, segments).allSatisfy({ element, segment in element ~= segment }) {
                found.append(route.method)
            }
        }
        return found.sorted { Self.rank($0) < Self.rank($1) }
    }

    private static func rank(_ method: HTTPRequest.Method) -> Int {
        allowOrder.firstIndex(of: method) ?? allowOrder.count
    }
}

/// Where the gateway middleware finds the route table. The middleware is added to the router before any route
/// (Hummingbird applies a router's middleware only to the routes registered after it), and the table can only
/// be read from the router after the last one: so the table is installed here once, before the application
/// starts, and read lock-free (one atomic load) when a request finds no route.
final class RouteIndex: Sendable {
    private let table = AtomicLazyReference<RouteTable>()

    /// Installs the table; the first installation stays (there is only one, in `buildRouter`).
    func install(_ routes: RouteTable) {
        _ = table.storeIfNil(routes)
    }

    /// The methods registered for `path`; none before installation.
    func methods(for path: String) -> [HTTPRequest.Method] {
        table.load()?.methods(for: path) ?? []
    }
}
