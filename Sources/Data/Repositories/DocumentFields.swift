import Foundation

/// One configured field of a document table.
public struct FieldRow: Sendable, Equatable {
    public let fieldID: String
    public let name: String
    public let fieldType: String
    public let synonyms: [String]
    public let description: String?
    public let required: Bool

    public init(fieldID: String, name: String, fieldType: String, synonyms: [String], description: String?, required: Bool) {
        self.fieldID = fieldID
        self.name = name
        self.fieldType = fieldType
        self.synonyms = synonyms
        self.description = description
        self.required = required
    }
}

/// A document-table configuration: a named set of fields to read from documents.
public struct DocumentTableRecord: Sendable {
    public let id: UUID
    public let teamID: UUID
    public let key: String
    public let name: String
    public let description: String?
    public let fields: [FieldRow]
    public let createdAt: Date
    public let updatedAt: Date
}

public struct DocumentTableRepository {
    let db: Database
    public init(_ db: Database) { self.db = db }

    /// Creates the configuration or replaces the one with the same key; true when created.
    public func upsert(team: UUID, user: UUID, key: String, name: String, description: String?,
                       fields: [FieldRow]) throws -> (record: DocumentTableRecord, created: Bool) {
        try db.transaction { db in
            let row = try db.query("""
                INSERT INTO document_tables (team_id, key, name, description, created_by)
                VALUES (\(team), \(key), \(name), \(description), \(user))
                ON CONFLICT (team_id, key) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description,
                    updated_at = now()
                RETURNING id, (xmax = 0) AS created
                """)[0]
            let id: UUID = try row.decode("id")
            let created: Bool = try row.decode("created")
            try db.query("DELETE FROM document_fields WHERE table_id = \(id)")
            for (position, field) in fields.enumerated() {
                try db.query("""
                    INSERT INTO document_fields (table_id, position, field_id, name, field_type, synonyms, description, required)
                    VALUES (\(id), \(position), \(field.fieldID), \(field.name), \(field.fieldType), \(field.synonyms),
                            \(field.description), \(field.required))
                    """)
            }
            guard let record = try DocumentTableRepository(db).find(key: key, team: team) else {
                throw DataError.server(sqlState: "P0002", message: "the configuration vanished while it was saved", detail: "")
            }
            return (record, created)
        }
    }

    public func find(key: String, team: UUID) throws -> DocumentTableRecord? {
        try load(db.query("SELECT * FROM document_tables WHERE team_id = \(team) AND key = \(key)")).first
    }

    public func find(id: UUID) throws -> DocumentTableRecord? {
        try load(db.query("SELECT * FROM document_tables WHERE id = \(id)")).first
    }

    public func list(team: UUID) throws -> [DocumentTableRecord] {
        try load(db.query("SELECT * FROM document_tables WHERE team_id = \(team) ORDER BY key"))
    }

    public func delete(key: String, team: UUID) throws -> DocumentTableRecord? {
        guard let record = try find(key: key, team: team) else { return nil }
        try db.query("DELETE FROM document_tables WHERE id = \(record.id)")
        return record
    }

    private func load(_ rows: Rows) throws -> [DocumentTableRecord] {
        let ids: [UUID] = try rows.map { try $0.decode("id") }
        var fields: [UUID: [FieldRow]] = [:]
        if !ids.isEmpty {
            let fieldRows = try db.query("""
                SELECT table_id, field_id, name, field_type, synonyms, description, required FROM document_fields
                WHERE table_id = ANY(\(ids.map(\.uuidString))::uuid[]) ORDER BY table_id, position
                """)
            for row in fieldRows {
                fields[try row.decode("table_id"), default: []].append(FieldRow(
                    fieldID: try row.decode("field_id"), name: try row.decode("name"), fieldType: try row.decode("field_type"),
                    synonyms: try row.decode("synonyms"), description: try row.decode("description", as: String?.self),
                    required: try row.decode("required")))
            }
        }
        return try rows.map { row in
            let id: UUID = try row.decode("id")
            return DocumentTableRecord(
                id: id, teamID: try row.decode("team_id"), key: try row.decode("key"), name: try row.decode("name"),
                description: try row.decode("description", as: String?.self), fields: fields[id] ?? [],
                createdAt: try row.decode("created_at"), updatedAt: try row.decode("updated_at"))
        }
    }
}

/// The outcome of running a configuration on a document.
public struct DocumentResultRecord: Sendable {
    public let id: UUID
    public let teamID: UUID
    public let documentID: UUID
    public let tableID: UUID?
    public let tableKey: String
    public let tableName: String
    /// The fields used, as JSON (a snapshot of the configuration).
    public let config: String
    public let status: DocumentStatus
    public let extractor: String?
    public let fallbackReason: String?
    /// The extracted values, as JSON.
    public let fields: String?
    public let error: String?
    public let jobID: UUID?
    public let createdAt: Date
    public let updatedAt: Date
    public let completedAt: Date?
    /// 1 for the first run; each re-extraction keeps the run before as a version and adds 1.
    public let version: Int
    /// When this run (version) started.
    public let runStartedAt: Date

    init(_ row: Row) throws {
        id = try row.decode("id")
        version = try row.decode("version")
        runStartedAt = try row.decode("run_started_at")
        teamID = try row.decode("team_id")
        documentID = try row.decode("document_id")
        tableID = try row.decode("table_id", as: UUID?.self)
        tableKey = try row.decode("table_key")
        tableName = try row.decode("table_name")
        config = try row.decode("config")
        status = try row.decode("status")
        extractor = try row.decode("extractor", as: String?.self)
        fallbackReason = try row.decode("fallback_reason", as: String?.self)
        fields = try row.decode("fields", as: String?.self)
        error = try row.decode("error", as: String?.self)
        jobID = try row.decode("job_id", as: UUID?.self)
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
        completedAt = try row.decode("completed_at", as: Date?.self)
    }
}

public struct DocumentResultRepository {
    let db: Database
    public init(_ db: Database) { self.db = db }

    static let columns = SQL(unsafeSQL: """
        id, team_id, document_id, table_id, table_key, table_name, config, status, extractor, fallback_reason, fields,
        error, job_id, created_at, updated_at, completed_at, version, run_started_at
        """)
    /// A kept version, in the columns of a result (`r`: its result, `v`: the version).
    static let versionColumns = SQL(unsafeSQL: """
        r.id, r.team_id, r.document_id, v.table_id, v.table_key, v.table_name, v.config, v.status, v.extractor,
        v.fallback_reason, v.fields, v.error, v.job_id, r.created_at, coalesce(v.completed_at, v.started_at) AS updated_at,
        v.completed_at, v.version, v.started_at AS run_started_at
        """)

    public func create(id: UUID, team: UUID, user: UUID, document: UUID, table: UUID?, tableKey: String, tableName: String,
                       config: String, job: UUID?) throws -> DocumentResultRecord {
        try DocumentResultRecord(db.query("""
            INSERT INTO document_results (id, team_id, created_by, document_id, table_id, table_key, table_name, config, job_id)
            VALUES (\(id), \(team), \(user), \(document), \(table), \(tableKey), \(tableName), \(JSONText(config))::jsonb, \(job))
            RETURNING \(DocumentResultRepository.columns)
            """)[0])
    }

    public func find(id: UUID, team: UUID?) throws -> DocumentResultRecord? {
        var sql: SQL = "SELECT \(DocumentResultRepository.columns) FROM document_results WHERE id = \(id)"
        if let team { sql.append(" AND team_id = \(team)") }
        return try db.query(sql).first.map(DocumentResultRecord.init)
    }

    /// Newest first, keyset-paginated on (created_at, id).
    public func list(team: UUID, document: UUID?, tableKey: String?, status: DocumentStatus?, limit: Int,
                     after cursor: (Date, UUID)?) throws -> [DocumentResultRecord] {
        var sql: SQL = "SELECT \(DocumentResultRepository.columns) FROM document_results WHERE team_id = \(team)"
        if let document { sql.append(" AND document_id = \(document)") }
        if let tableKey { sql.append(" AND table_key = \(tableKey)") }
        if let status { sql.append(" AND status = \(status)") }
        if let (time, id) = cursor { sql.append(" AND (created_at, id) < (\(time)::timestamptz, \(id)::uuid)") }
        sql.append(" ORDER BY created_at DESC, id DESC LIMIT \(limit)")
        return try db.query(sql).map(DocumentResultRecord.init)
    }

    /// Starts a new run of the result: the run so far is kept as a version, and the result
    /// gets the next version number, a new configuration snapshot and status queued.
    public func restart(id: UUID, table: UUID?, tableKey: String, tableName: String, config: String, job: UUID?) throws {
        try db.query("""
            WITH kept AS (
                INSERT INTO document_result_versions (result_id, version, table_id, table_key, table_name, config, status,
                                                      extractor, fallback_reason, fields, error, job_id, started_at, completed_at)
                SELECT id, version, table_id, table_key, table_name, config, status, extractor, fallback_reason, fields,
                       error, job_id, run_started_at, completed_at
                FROM document_results WHERE id = \(id)
            )
            UPDATE document_results SET table_id = \(table), table_key = \(tableKey), table_name = \(tableName),
                config = \(JSONText(config))::jsonb, status = 'queued', fields = NULL, error = NULL, extractor = NULL,
                fallback_reason = NULL, job_id = \(job), updated_at = now(), completed_at = NULL,
                version = version + 1, run_started_at = now()
            WHERE id = \(id)
            """)
    }

    /// The kept earlier versions of a result, newest first.
    public func versions(result: UUID, team: UUID) throws -> [DocumentResultRecord] {
        try db.query("""
            SELECT \(DocumentResultRepository.versionColumns)
            FROM document_result_versions v JOIN document_results r ON r.id = v.result_id
            WHERE v.result_id = \(result) AND r.team_id = \(team) ORDER BY v.version DESC
            """).map(DocumentResultRecord.init)
    }

    /// One kept version of a result.
    public func version(_ version: Int, result: UUID, team: UUID) throws -> DocumentResultRecord? {
        try db.query("""
            SELECT \(DocumentResultRepository.versionColumns)
            FROM document_result_versions v JOIN document_results r ON r.id = v.result_id
            WHERE v.result_id = \(result) AND r.team_id = \(team) AND v.version = \(version)
            """).first.map(DocumentResultRecord.init)
    }

    public func markProcessing(id: UUID) throws {
        try db.query("UPDATE document_results SET status = 'processing', updated_at = now() WHERE id = \(id)")
    }

    public func complete(id: UUID, extractor: String, fallbackReason: String?, fields: String) throws {
        try db.query("""
            UPDATE document_results SET status = 'done', extractor = \(extractor), fallback_reason = \(fallbackReason),
                fields = \(JSONText(fields))::jsonb, error = NULL, updated_at = now(), completed_at = now()
            WHERE id = \(id)
            """)
    }

    public func fail(id: UUID, error: String) throws {
        try db.query("""
            UPDATE document_results SET status = 'failed', error = \(error), updated_at = now(), completed_at = now()
            WHERE id = \(id)
            """)
    }

    public func delete(id: UUID, team: UUID) throws -> Bool {
        try db.query("DELETE FROM document_results WHERE id = \(id) AND team_id = \(team) RETURNING id").count > 0
    }
}
