import Foundation
import Hummingbird

extension Parameters {
    /// A path segment as the client meant it: percent-decoded (`bot%402` is `bot@2`).
    func decoded(_ name: String) -> String {
        let raw = get(name) ?? ""
        return raw.removingPercentEncoding ?? raw
    }
}
