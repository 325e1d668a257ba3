import Hummingbird

/// The gateway's router. `GatewayMiddleware` goes first, around every route and the router's not-found answer;
/// the routes that need no key (health, metrics, the console's files) are on the router itself; the API's
/// routes are in two groups behind `AuthMiddleware` whose handlers run in ``AuthenticatedContext`` (or a
/// narrower child of it), so a handler that needs a caller cannot be registered where there is none.
///
/// Each controller declares its routes once. The table the middleware answers 405 with `Allow` from is read
/// from the router after the last registration (`Router.routes`) and installed before the application starts.
func buildRouter(gateway: Gateway, stallWatchdog: StallWatchdog) -> Router<TrellisRequestContext> {
    let config = gateway.config
    let router = Router(context: TrellisRequestContext.self)
    let routes = RouteIndex()
    router.add(
        middleware: GatewayMiddleware(
            metrics: gateway.metrics, routes: routes, maxBodyBytes: config.maxBodyBytes, inFlight: gateway.inFlight,
            stallWatchdog: stallWatchdog, bodyReadDeadline: .milliseconds(config.bodyReadMs), drain: gateway.drain))
    OpsController(gateway: gateway).register(on: router)

    let v1 = router.group("v1").add(middleware: StartGate(readiness: gateway.readiness)).add(middleware: AuthMiddleware(gateway: gateway))
        .group(context: AuthenticatedContext.self)
    OpenAIController(gateway: gateway).register(on: v1)
    KnowledgeController(gateway: gateway).registerV1(on: v1)

    // The Model Context Protocol server for tenant keys (`inference` scope), beside the OpenAI API.
    let mcp = router.group("mcp").add(middleware: StartGate(readiness: gateway.readiness)).add(middleware: AuthMiddleware(gateway: gateway))
        .group(context: AuthenticatedContext.self).group(context: TenantContext.self)
    let sessions = MCPSessions(maxPerKey: config.mcpMaxSessionsPerKey, idle: .seconds(config.mcpSessionIdleSeconds))
    MCPController(gateway: gateway, sessions: sessions).register(on: mcp)

    let admin = router.group("admin/v1").add(middleware: StartGate(readiness: gateway.readiness)).add(middleware: AuthMiddleware(gateway: gateway))
        .add(middleware: CatalogFreshness(gateway: gateway)).add(middleware: OffLoopMiddleware()).group(context: AuthenticatedContext.self)
    TenantsController(gateway: gateway).register(on: admin)
    UpstreamsController(gateway: gateway).register(on: admin)
    ModelsController(gateway: gateway).register(on: admin)
    LibraryController(gateway: gateway).register(on: admin)
    GovernanceController(gateway: gateway).register(on: admin)
    EvaluationController(gateway: gateway).register(on: admin)
    OverviewController(gateway: gateway).register(on: admin)
    KnowledgeController(gateway: gateway).registerAdmin(on: admin)

    // The console's static files need no key (they hold no data); the API calls they make do.
    if config.consoleEnabled { ConsoleController().register(on: router) }

    routes.install(RouteTable(router: router))
    return router
}
