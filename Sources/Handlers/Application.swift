import Data
import ETL
import Exporters
import Extraction
import Foundation
import JSONValues
import Logging
import Quotas
import Sharing
import Superset

/// What the pool tells a worker about itself, for `/health`.
public protocol PoolStatus: AnyObject {
    var liveWorkers: Int { get }
    /// FastCGI workers answering a request now.
    var busyWorkers: Int { get }
    var configuredWorkers: Int { get }
    var liveJobWorkers: Int { get }
    var configuredJobWorkers: Int { get }
    var startedAt: Date { get }
    /// Moves whenever a worker of the pool served a request that may have changed who may do
    /// what (`AccessCache`); read on every authenticated request, so it must be cheap.
    var accessGeneration: UInt64 { get }
}

extension PoolStatus {
    /// A pool without shared state: nothing moves it.
    public var accessGeneration: UInt64 { 0 }
}

/// Settings the handlers need, resolved once at start-up.
public struct AppSettings: Sendable {
    /// Enables `/api/_test/*` routes used by the integration tests.
    public var testRoutes: Bool
    /// The largest JSON body a handler reads.
    public var maxJSONBody: Int
    public var access: AccessSettings
    public var documents: DocumentSettings
    public var extraction: ExtractionSettings
    public var connections: ConnectionSettings
    public var exports: ExportSettings
    public var sharing: SharingSettings
    /// nil when no SUPERSET_URL is configured: the Superset routes answer 503.
    public var superset: SupersetSettings?

    public init(testRoutes: Bool = false, maxJSONBody: Int = 1 << 20, access: AccessSettings,
                documents: DocumentSettings = DocumentSettings(), extraction: ExtractionSettings = ExtractionSettings(),
                connections: ConnectionSettings = ConnectionSettings(), exports: ExportSettings = ExportSettings(),
                sharing: SharingSettings? = nil, superset: SupersetSettings? = nil) {
        self.testRoutes = testRoutes
        self.maxJSONBody = maxJSONBody
        self.access = access
        self.documents = documents
        self.extraction = extraction
        self.connections = connections
        self.exports = exports
        self.sharing = sharing ?? SharingSettings(secret: access.jwtSecret, baseURL: access.publicURL)
        self.superset = superset
    }
}

/// Everything a handler may depend on, owned by one worker process.
public final class AppContext {
    public let database: Database
    public let logger: Logger
    public let settings: AppSettings
    public let pool: PoolStatus
    public let migrations: [Migration]

    public init(database: Database, logger: Logger, settings: AppSettings, pool: PoolStatus, migrations: [Migration]) {
        self.database = database
        self.logger = logger
        self.settings = settings
        self.pool = pool
        self.migrations = migrations
    }
}

/// An API area's routes. Each area is a small struct holding the access control, which
/// also carries the shared context.
protocol RouteGroup {
    var access: AccessControl { get }
    func register(on router: Router)
}

extension RouteGroup {
    var context: AppContext { access.context }
}

/// Builds the router with every API area's routes.
public func buildRouter(_ context: AppContext) -> Router {
    let router = Router()
    let access = AccessControl(context: context)
    HealthRoutes(context).register(on: router)
    MetricsRoutes(access: access).register(on: router)
    AuthRoutes(access: access).register(on: router)
    APIKeyRoutes(access: access).register(on: router)
    TeamRoutes(access: access).register(on: router)
    AuditRoutes(access: access).register(on: router)
    JobRoutes(access: access).register(on: router)
    DocumentRoutes(access: access).register(on: router)
    FieldRoutes(access: access).register(on: router)
    ConnectionRoutes(access: access).register(on: router)
    ETLRoutes(access: access).register(on: router)
    ExportRoutes(access: access).register(on: router)
    QueryRoutes(access: access).register(on: router)
    DashboardRoutes(access: access).register(on: router)
    ChatRoutes(access: access).register(on: router)
    ShareRoutes(access: access).register(on: router)
    EmbedRoutes(access: access).register(on: router)
    SharePageRoutes(access: access).register(on: router)
    SupersetRoutes(access: access).register(on: router)
    // Unknown /api/ routes still count against the caller's address and carry quota headers.
    router.unmatched = { request, error in
        (try? access.anonymous { _ in throw error }(request)) ?? .error(error, answering: request)
    }
    if context.settings.testRoutes {
        TestRoutes(context).register(on: router)
    }
    return router
}

/// Turns a request into a response: routing, and the error envelope for every failure.
public final class Application {
    public let router: Router
    let logger: Logger
    /// Where work left for between requests is written (the pool's quota counts).
    let database: Database?

    public init(router: Router, logger: Logger, database: Database? = nil) {
        self.router = router
        self.logger = logger
        self.database = database
    }

    /// Work the worker does between requests, after the response is out: a full batch of
    /// share page views written, the pool's quota counts added to PostgreSQL when the last
    /// flush is a second old (or all of it, `force`d, before the worker stops).
    public func betweenRequests(force: Bool = false) {
        ViewBuffer.shared.flushReporting(force: force)
        guard let ledger = QuotaLedger.shared, let database else { return }
        do {
            if force { try ledger.flush(db: database) } else if let error = ledger.flushIfDue(db: database) { throw error }
        } catch {
            logger.warning("quota counts not added to the database yet", metadata: ["error": "\(error)"])
        }
    }

    public func respond(to request: Request) -> Response {
        var response: Response
        do {
            switch router.match(method: request.method, path: request.path) {
            case .found(let handler, let parameters, let route):
                request.pathParameters = parameters
                request.route = route
                try request.refuseNULInQuery()
                response = try handler(request)
            case .methodNotAllowed(let allowed):
                response = unmatched(request, .methodNotAllowed(allowed))
            case .notFound:
                response = unmatched(request, APIError(status: 404, code: "not_found", message: "no route for \(request.method) \(request.path)"))
            }
        } catch {
            response = .error(Application.apiError(for: error, request: request, logger: logger), answering: request)
        }
        if request.method == "HEAD" { response.body = .bytes([]) }
        return response
    }

    private func unmatched(_ request: Request, _ error: APIError) -> Response {
        if request.path.hasPrefix("/api/"), let fallback = router.unmatched { return fallback(request, error) }
        return .error(error, answering: request)
    }

    /// Maps any thrown error to the error a client may see; unexpected ones are logged.
    static func apiError(for error: Error, request: Request, logger: Logger) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as ValidationFailure:
            return .validation(error.fields)
        case let error as JSONSyntaxError:
            return .invalidJSON(error)
        case DataError.unavailable(let reason):
            logger.warning("database unavailable", metadata: ["request.id": "\(request.requestID)", "error": "\(reason)"])
            return .unavailable
        case DataError.uniqueViolation:
            return APIError(status: 409, code: "conflict", message: "a resource with these values already exists")
        default:
            logger.error("unhandled error", metadata: [
                "request.id": "\(request.requestID)",
                "http.method": "\(request.method)",
                "http.path": "\(request.path)",
                "error": "\(String(reflecting: error))",
            ])
            return .internalError
        }
    }
}
