import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TrellisCore

/// The operator console: static files compiled into the binary (`PackageResources`, SwiftPM's `embedInCode`),
/// served at `/console` without authentication. The files hold no data; every call the console makes goes
/// through the admin and OpenAI APIs with the key the user signs in with.
struct ConsoleController {
    struct Asset: Sendable {
        let bytes: [UInt8]
        let contentType: String
        let etag: String
    }

    /// The files, by their name under `/console/`. Only these names are served: a request for anything else,
    /// `..` included, is not found, since nothing is ever read from the file system.
    static let assets: [String: Asset] = [
        "index.html": asset(PackageResources.index_html, "text/html; charset=utf-8"),
        "console.css": asset(PackageResources.console_css, "text/css; charset=utf-8"),
        "app.js": script(PackageResources.app_js),
        "lib.js": script(PackageResources.lib_js),
        "i18n.js": script(PackageResources.i18n_js),
        "strings-en.js": script(PackageResources.strings_en_js),
        "strings-zh.js": script(PackageResources.strings_zh_js),
        "page-overview.js": script(PackageResources.page_overview_js),
        "page-overview-231.js": script(PackageResources.page_overview_231_js),
        "page-models.js": script(PackageResources.page_models_js),
        "page-playground.js": script(PackageResources.page_playground_js),
        "page-knowledge.js": script(PackageResources.page_knowledge_js),
        "page-evaluations.js": script(PackageResources.page_evaluations_js),
        "page-evaluation-run.js": script(PackageResources.page_evaluation_run_js),
        "page-keys.js": script(PackageResources.page_keys_js),
        "page-audit.js": script(PackageResources.page_audit_js),
    ]

    /// No inline script or style, no eval, nothing from elsewhere, never framed.
    static let contentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "font-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

    /// A JavaScript module of the console (`app.js` imports the others).
    private static func script(_ bytes: [UInt8]) -> Asset {
        asset(bytes, "text/javascript; charset=utf-8")
    }

    private static func asset(_ bytes: [UInt8], _ contentType: String) -> Asset {
        let digest = SHA256.hash(data: bytes).prefix(12).map { String(format: "%02x", $0) }.joined()
        return Asset(bytes: bytes, contentType: contentType, etag: "\"\(digest)\"")
    }

    func register(on router: Router<TrellisRequestContext>) {
        // The router matches `/console/` here too.
        router.get("console") { request, _ in Self.serve("index.html", request: request) }
        router.head("console") { request, _ in Self.serve("index.html", request: request, head: true) }
        router.get("console/:asset") { request, context in
            Self.serve(context.parameters.decoded("asset"), request: request)
        }
        router.head("console/:asset") { request, context in
            Self.serve(context.parameters.decoded("asset"), request: request, head: true)
        }
    }

    static func serve(_ name: String, request: Request, head: Bool = false) -> Response {
        var headers = HTTPFields()
        headers[.contentSecurityPolicy] = contentSecurityPolicy
        headers[.xContentTypeOptions] = "nosniff"
        headers[.literal("referrer-policy")] = "no-referrer"
        headers[.literal("x-frame-options")] = "DENY"
        guard let asset = assets[name] else {
            // The same OpenAI-shaped body as any unknown route, with the console's headers.
            var response = Response.error(.routeNotFound(request.method.rawValue, request.uri.path))
            for field in headers { response.headers.append(field) }
            return response
        }
        headers[.contentType] = asset.contentType
        // Revalidated on every load (a new release changes the files), cheap with the ETag.
        headers[.cacheControl] = "no-cache"
        headers[.eTag] = asset.etag
        if let match = request.headers[.ifNoneMatch], match.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == asset.etag }) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentLength] = String(asset.bytes.count)
        if head { return Response(status: .ok, headers: headers) }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: asset.bytes)))
    }
}
