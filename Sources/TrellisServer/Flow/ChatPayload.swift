import OpenAIWire
import TrellisCore

/// The chat request as each target gets it. Personal data is masked for the targets `privacy.mask` covers
/// (upstreams labelled external, or all), retrieved context included; the same session puts the originals back
/// into their answers when `privacy.restore` is on.
struct ChatPayload: Sendable {
    /// The plan as planned (and retrieved into), unmasked.
    let plan: ChatPlan
    /// The plan with personal data masked, when anything was.
    let masked: ChatPlan?
    /// The session that masked it, when anything was.
    let masking: PIIMasker.Session?
    let scope: PIIMaskScope
    let snapshot: CatalogSnapshot
    let restores: Bool

    init(plan: ChatPlan, snapshot: CatalogSnapshot, scope: PIIMaskScope, masker: PIIMasker, restores: Bool) {
        self.plan = plan
        self.scope = scope
        self.snapshot = snapshot
        self.restores = restores
        var masked: ChatPlan?
        var masking: PIIMasker.Session?
        if scope != .off, plan.targets.contains(where: { scope.masks(upstream: $0.upstream, in: snapshot) }) {
            var session = masker.session()
            let candidate = plan.masked(with: &session)
            if !session.mapping.isEmpty {
                masked = candidate
                masking = session
            }
        }
        self.masked = masked
        self.masking = masking
    }

    /// Whether some target's answer will have personal data put back.
    var restoresAny: Bool { restores && masking != nil }

    /// Whether what goes to `target` is masked.
    func masks(_ target: ModelSpec.Target) -> Bool {
        scope.masks(upstream: target.upstream, in: snapshot)
    }

    /// The bytes for `target`: masked when it needs them masked and anything was.
    func upstreamBody(for target: ModelSpec.Target) -> [UInt8] {
        ((masks(target) ? masked : nil) ?? plan).upstreamBody(for: target)
    }

    /// The restorer for a stream answered by `target`, when its request was masked and answers are restored.
    func restorer(for target: ModelSpec.Target) -> PIIRestorer? {
        guard restores, masks(target), let masking else { return nil }
        return masking.restorer()
    }

    /// A whole completion answered by `target`, with the originals put back when its request was masked.
    func restore(_ completion: JSONObject, answeredBy target: ModelSpec.Target) -> JSONObject {
        guard restores, masks(target), let masking else { return completion }
        return masking.restore(completion: completion)
    }
}
