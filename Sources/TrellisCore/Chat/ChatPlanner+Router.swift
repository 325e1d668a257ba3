import OpenAIWire

/// A router model version and its rules, as a request resolved it.
public struct RouterChoice: Sendable {
    public var model: IndustryModel
    public var version: ModelVersion
    public var spec: RouterSpec

    public init(model: IndustryModel, version: ModelVersion, spec: RouterSpec) {
        self.model = model
        self.version = version
        self.spec = spec
    }
}

/// How a router model's request was planned: the child version that serves it, what a whole answer may be asked
/// again of, and where the router's default would have sent it (for the cost saved).
public struct RoutedPlan: Sendable {
    public var router: RouterChoice
    public var childName: String
    public var childVersion: Int
    /// Set for a whole (non-streamed) answer of a child other than the cascade's target.
    public var cascade: RouterSpec.Cascade?
    /// The first target of the router's default child: what the request would have cost there.
    public var baseline: ModelSpec.Target?

    /// `name@version`, as `x-trellis-routed-to` and the usage rows name the child.
    public var routedTo: String { "\(childName)@\(childVersion)" }
}

extension ChatPlanner {
    /// The plan for a router's request sent to `child` (`name` or `name@version`, in the router's namespace; the
    /// key's model allowlist does not apply, the router's owner chose its children). A child that is missing or is
    /// itself a router leaves the router misconfigured (500).
    public static func routed(
        _ request: ChatRequest, to child: String, router: RouterChoice, stickyKey: String, snapshot: CatalogSnapshot,
        random: inout some RandomNumberGenerator
    ) throws(TrellisError) -> ChatPlan {
        let (model, version) = try resolveChild(child, of: router.model, stickyKey: stickyKey, snapshot: snapshot)
        var plan = try serve(request, model: model, version: version, snapshot: snapshot, random: &random)
        plan.modelName = router.model.name
        plan.version = router.version.version
        let cascade = router.spec.cascade.flatMap { request.stream || $0.escalateTo == child ? nil : $0 }
        let baseline = try? resolveChild(router.spec.defaultModel, of: router.model, stickyKey: stickyKey, snapshot: snapshot)
        plan.route = RoutedPlan(
            router: router, childName: model.name, childVersion: version.version, cascade: cascade,
            baseline: baseline.flatMap { firstTarget(of: $0.1.spec, model: $0.0, snapshot: snapshot) })
        return plan
    }

    /// The plan for the cascade's second ask: the same request, sent to `escalate_to`.
    public static func escalated(_ request: ChatRequest, from plan: ChatPlan, stickyKey: String, snapshot: CatalogSnapshot) throws(TrellisError) -> ChatPlan? {
        guard let route = plan.route, let cascade = route.cascade else { return nil }
        var random = SystemRandomNumberGenerator()
        return try routed(request, to: cascade.escalateTo, router: route.router, stickyKey: stickyKey, snapshot: snapshot, random: &random)
    }

    /// A router's child, as the router's namespace sees it, sticky per caller like any unpinned request.
    public static func resolveChild(
        _ reference: String, of router: IndustryModel, stickyKey: String, snapshot: CatalogSnapshot
    ) throws(TrellisError) -> (IndustryModel, ModelVersion) {
        let (name, pinned) = VersionSelector.parseReference(reference)
        guard let model = snapshot.model(named: name, tenantID: router.tenantID) else {
            throw misconfigured(router, "its child '\(reference.prefix(128))' is missing")
        }
        let version = pinned.map { model.version($0) } ?? VersionSelector.select(model, stickyKey: stickyKey)
        guard let version else { throw misconfigured(router, "its child '\(reference.prefix(128))' has no such version") }
        guard version.spec.router == nil else { throw misconfigured(router, "its child '\(reference.prefix(128))' is itself a router") }
        return (model, version)
    }

    /// Where a version's requests go first: its adapter's serving, else its first deployment.
    public static func firstTarget(of spec: ModelSpec, model: IndustryModel, snapshot: CatalogSnapshot) -> ModelSpec.Target? {
        if let adapter = try? resolveAdapter(spec, model: model, snapshot: snapshot) { return target(for: adapter) }
        return spec.deployments.first
    }
}
