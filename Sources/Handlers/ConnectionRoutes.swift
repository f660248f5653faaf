import Connectors
import Credentials
import Data
import ETL
import Foundation
import JSONValues

/// `/api/connections`: customer PostgreSQL and MySQL/MariaDB databases. Secrets are
/// encrypted at rest and never returned; every connect goes through the policy.
struct ConnectionRoutes: RouteGroup {
    let access: AccessControl
    var db: Database { context.database }
    var settings: ConnectionSettings { context.settings.connections }

    static let sslModes = ["disable", "prefer", "require", "verify-ca", "verify-full"]
    static let frequencies = ["manual", "hourly", "daily", "weekly"]
    static let mask = "********"

    func register(on router: Router) {
        router.get("/api/connections", access.protect(scope: .connections, list))
        router.post("/api/connections", access.protect(scope: .connections, create))
        router.get("/api/connections/{id}", access.protect(scope: .connections, show))
        router.put("/api/connections/{id}", access.protect(scope: .connections, update))
        router.delete("/api/connections/{id}", access.protect(scope: .connections, remove))
        router.post("/api/connections/{id}/test", access.protect(scope: .connections, test))
        router.get("/api/connections/{id}/schema", access.protect(scope: .connections, schema))
    }

    var cipher: CredentialCipher {
        get throws {
            guard let cipher = settings.cipher else {
                throw APIError(status: 503, code: "encryption_unavailable", message: "ENCRYPTION_KEY is not configured")
            }
            return cipher
        }
    }

    // MARK: Reading a body

    /// The connection a body describes, over `base` for an update (only given fields change);
    /// it is the request's only when the reader has no errors (the caller's `finish()` decides).
    func read(_ reader: inout FieldReader, base: ConnectionRecord?) -> (fields: ConnectionFields, password: String?) {
        let creating = base == nil
        let name = reader.string("name", required: creating, minLength: 1, maxLength: 200)
        let description = reader.string("description", required: false, maxLength: 2000)
        let named = reader.choice("database_type", SourceEngine.names, required: creating).flatMap(SourceEngine.init(named:))
        let frequency = reader.choice("sync_frequency", ConnectionRoutes.frequencies, required: false)
        var host: String?, port: Int?, database: String?, username: String?, password: String?
        if var credentials = reader.object("credentials", required: creating) {
            host = credentials.string("host", required: creating, minLength: 1, maxLength: 255)
            if let value = host {
                do { try ConnectionPolicy.checkSyntax(value) } catch { credentials.fail("host", "\(error)") }
            }
            port = credentials.int("port", required: false, range: 1...65535)
            database = credentials.string("database", required: creating, minLength: 1, maxLength: 128)
            username = credentials.string("username", required: creating, minLength: 1, maxLength: 128)
            password = credentials.string("password", required: creating, maxLength: 1024, trim: false)
            reader.absorb(credentials, prefix: "credentials")
        }
        var sslmode: String?, ca: String??
        if var ssl = reader.object("ssl", required: false) {
            sslmode = ssl.choice("mode", ConnectionRoutes.sslModes, required: false)
            if ssl.has("ca_certificate") {
                let pem = ssl.string("ca_certificate", required: false, maxLength: 65_536, trim: false)
                if let pem, !pem.contains("-----BEGIN CERTIFICATE-----") {
                    ssl.fail("ca_certificate", "must be a PEM certificate (-----BEGIN CERTIFICATE-----)")
                }
                ca = .some(pem)
            }
            reader.absorb(ssl, prefix: "ssl")
        }
        let engine = named ?? base?.engine ?? .postgresql
        let fields = ConnectionFields(
            name: name ?? base?.name ?? "", description: description ?? base?.description, engine: engine,
            host: host ?? base?.host ?? "", port: port ?? (named != nil && base?.engine != named ? nil : base?.port) ?? engine.defaultPort,
            databaseName: database ?? base?.databaseName ?? "", username: username ?? base?.username ?? "",
            secretCiphertext: base?.secretCiphertext ?? [], keyID: base?.keyID ?? "",
            sslmode: sslmode ?? base?.sslmode ?? "prefer", caCertificate: ca ?? base?.caCertificate,
            syncFrequency: frequency ?? base?.syncFrequency ?? "manual")
        return (fields, password)
    }

    func seal(_ password: String, into fields: inout ConnectionFields, id: UUID) throws {
        let secret = JSON.object([("password", .string(password))]).serialized()
        let (keyID, ciphertext) = try cipher.seal(secret, boundTo: id)
        fields.secretCiphertext = ciphertext
        fields.keyID = keyID
    }

    // MARK: Routes

    func create(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .editor, to: "create connections")
        var reader = try request.jsonObject(limit: context.settings.maxJSONBody)
        var (fields, password) = read(&reader, base: nil)
        try reader.finish()
        let id = UUID()
        // The password is required when creating: finish() has thrown if it was missing.
        try seal(password!, into: &fields, id: id)
        let record = try db.transaction { db in
            let record = try ConnectionRepository(db).create(id: id, team: principal.teamID, user: principal.userID, fields)
            try ConnectionSchedule.keepInStep(record, user: principal.userID, db: db)
            return record
        }
        access.audit(request, principal: principal, action: "connection.created", resourceType: "connection",
                     resourceID: id.lower, detail: ["engine": .string(record.engine.rawValue), "host": .string(record.host)])
        return .json(ConnectionRoutes.present(record), status: 201, headers: [("Location", "/api/connections/\(id.lower)")])
    }

    func update(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .editor, to: "change connections")
        let existing = try connection(request, principal)
        var reader = try request.jsonObject(limit: context.settings.maxJSONBody)
        var (fields, password) = read(&reader, base: existing)
        try reader.finish()
        if let password {
            try seal(password, into: &fields, id: existing.id)
        } else if existing.keyID != (try cipher.currentKeyID) {
            // Any save re-seals the secret under the current key (rotation as you go).
            try seal(try self.password(of: existing), into: &fields, id: existing.id)
        }
        let record = try db.transaction { db in
            guard let record = try ConnectionRepository(db).update(id: existing.id, team: principal.teamID, fields) else {
                throw APIError.notFound("no such connection")
            }
            try ConnectionSchedule.keepInStep(record, user: principal.userID, db: db)
            return record
        }
        access.audit(request, principal: principal, action: "connection.updated", resourceType: "connection",
                     resourceID: record.id.lower, detail: ["password_changed": .bool(password != nil)])
        return .json(ConnectionRoutes.present(record))
    }

    func list(_ request: Request, _ principal: Principal) throws -> Response {
        var problems: [(String, String)] = []
        let paging = Pagination(request, defaultLimit: 50, maxLimit: 200, problems: &problems)
        if !problems.isEmpty { throw APIError.validation(problems) }
        let rows = try ConnectionRepository(db).list(team: principal.teamID, limit: paging.limit + 1, after: paging.cursor)
        let (page, next) = paging.page(rows) { ($0.createdAt, $0.id) }
        return .json(["items": .array(page.map(ConnectionRoutes.present)), "next_cursor": next])
    }

    func show(_ request: Request, _ principal: Principal) throws -> Response {
        .json(ConnectionRoutes.present(try connection(request, principal)))
    }

    func remove(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .editor, to: "delete connections")
        let id = try request.uuidParameter("id")
        guard try ConnectionRepository(db).softDelete(id: id, team: principal.teamID) else { throw APIError.notFound("no such connection") }
        access.audit(request, principal: principal, action: "connection.deleted", resourceType: "connection", resourceID: id.lower)
        return .json(["id": .string(id.lower), "status": "deleted"])
    }

    func test(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .editor, to: "test connections")
        let record = try connection(request, principal)
        let started = DispatchTime.now()
        var body: [(String, JSON)] = [("id", .string(record.id.lower)), ("engine", .string(record.engine.rawValue))]
        do {
            let source = try open(record)
            let info = try source.serverInfo()
            try ConnectionRepository(db).recordTest(id: record.id, ok: true, message: info.version)
            body += [("ok", true), ("server_version", .string(info.version)),
                     ("latency_ms", .double((info.latencyMilliseconds * 100).rounded() / 100))]
        } catch let failure as SourceOpener.Failure {
            try ConnectionRepository(db).recordTest(id: record.id, ok: false, message: failure.message)
            body += [("ok", false), ("error", ["code": .string(failure.code), "message": .string(failure.message)])]
        }
        body.append(("duration_ms", .double((Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 10_000).rounded() / 100)))
        access.audit(request, principal: principal, action: "connection.tested", resourceType: "connection",
                     resourceID: record.id.lower, detail: ["ok": body.first { $0.0 == "ok" }?.1 ?? .null])
        return .json(.object(body))
    }

    func schema(_ request: Request, _ principal: Principal) throws -> Response {
        let record = try connection(request, principal)
        let tables: [SourceTable]
        // The customer's database failing (a wrong host or password, a database that is down)
        // is not Assay failing: 422 with the connection test's code, never a 5xx that would
        // page Assay's operators for a customer's settings.
        do {
            tables = try open(record).schema()
        } catch let failure as SourceOpener.Failure {
            throw APIError(status: 422, code: failure.code, message: failure.message)
        } catch let error as SourceError {
            throw APIError(status: 422, code: error.kind.rawValue, message: error.message)
        }
        var schemas: [(String, [SourceTable])] = []
        for table in tables {
            if schemas.last?.0 == table.schema { schemas[schemas.count - 1].1.append(table) } else { schemas.append((table.schema, [table])) }
        }
        return .json([
            "connection_id": .string(record.id.lower), "engine": .string(record.engine.rawValue), "database": .string(record.databaseName),
            "schemas": .array(schemas.map { name, tables in
                ["name": .string(name), "tables": .array(tables.map { table in
                    [
                        "name": .string(table.name), "kind": .string(table.kind),
                        "row_estimate": table.rowEstimate.map(JSON.int) ?? .null,
                        "columns": .array(table.columns.map { column in
                            ["name": .string(column.name), "type": .string(column.type), "nullable": .bool(column.nullable),
                             "primary_key": .bool(column.primaryKey)]
                        }),
                    ]
                })]
            }),
        ])
    }

    // MARK: Connecting

    func connection(_ request: Request, _ principal: Principal) throws -> ConnectionRecord {
        guard let record = try ConnectionRepository(db).find(id: try request.uuidParameter("id"), team: principal.teamID) else {
            throw APIError.notFound("no such connection")
        }
        return record
    }

    func password(of record: ConnectionRecord) throws -> String { try SourceOpener(settings: settings).password(of: record) }

    func open(_ record: ConnectionRecord) throws -> SourceDatabase { try SourceOpener(settings: settings).open(record) }

    static func present(_ c: ConnectionRecord) -> JSON {
        [
            "id": .string(c.id.lower), "name": .string(c.name), "description": JSON(c.description),
            "database_type": .string(c.engine.rawValue),
            "credentials": ["host": .string(c.host), "port": .int(Int64(c.port)), "database": .string(c.databaseName),
                            "username": .string(c.username), "password": .string(mask)],
            "ssl": ["mode": .string(c.sslmode), "ca_certificate": c.caCertificate == nil ? .null : "(set)"],
            "sync_frequency": .string(c.syncFrequency),
            "last_test": c.lastTestAt == nil ? .null : [
                "at": Present.time(c.lastTestAt), "ok": JSON(c.lastTestOK), "message": JSON(c.lastTestMessage),
            ],
            "created_at": Present.time(c.createdAt), "updated_at": Present.time(c.updatedAt),
        ]
    }
}
