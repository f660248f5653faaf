import Foundation

/// Where the processing of a document (`documents.status`), or of a field result of one
/// (`document_results.status`), is.
public enum DocumentStatus: String, CaseIterable, Sendable, SQLDecodable, SQLBindable {
    case queued, processing, done, failed
}

public struct DocumentRecord: Sendable {
    public let id: UUID
    public let teamID: UUID
    public let filename: String
    public let contentType: String
    public let sizeBytes: Int64
    public let sha256: String
    public let pageCount: Int
    public let status: DocumentStatus
    public let pagesDone: Int
    public let error: String?
    public let jobID: UUID?
    public let createdAt: Date
    public let updatedAt: Date
    public let processedAt: Date?
    /// Problems that did not stop the document (a JSON array of `{code, page, message}`).
    public let warningsJSON: String

    init(_ row: Row) throws {
        id = try row.decode("id")
        teamID = try row.decode("team_id")
        filename = try row.decode("filename")
        contentType = try row.decode("content_type")
        sizeBytes = try row.decode("size_bytes")
        sha256 = try row.decode("sha256")
        pageCount = try row.decode("page_count")
        status = try row.decode("status")
        pagesDone = try row.decode("pages_done")
        error = try row.decode("error", as: String?.self)
        jobID = try row.decode("job_id", as: UUID?.self)
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
        processedAt = try row.decode("processed_at", as: Date?.self)
        warningsJSON = try row.decode("warnings", as: String?.self) ?? "[]"
    }
}

public struct PageSummary: Sendable {
    public let page: Int
    public let source: String
    public let wordCount: Int
    public let confidence: Double?
}

public struct DocumentRepository {
    let db: Database
    public init(_ db: Database) { self.db = db }

    static let columns = SQL(unsafeSQL: """
        id, team_id, filename, content_type, size_bytes, sha256, page_count, status, pages_done, error, job_id,
        created_at, updated_at, processed_at, warnings
        """)

    public func create(id: UUID, team: UUID, user: UUID, filename: String, contentType: String, size: Int64,
                       sha256: String, pages: Int, job: UUID?) throws -> DocumentRecord {
        try DocumentRecord(db.query("""
            INSERT INTO documents (id, team_id, uploaded_by, filename, content_type, size_bytes, sha256, page_count, job_id)
            VALUES (\(id), \(team), \(user), \(filename), \(contentType), \(size), \(sha256), \(pages), \(job))
            RETURNING \(DocumentRepository.columns)
            """)[0])
    }

    public func find(id: UUID, team: UUID?) throws -> DocumentRecord? {
        var sql: SQL = "SELECT \(DocumentRepository.columns) FROM documents WHERE id = \(id)"
        if let team { sql.append(" AND team_id = \(team)") }
        return try db.query(sql).first.map(DocumentRecord.init)
    }

    /// Newest first, keyset-paginated on (created_at, id).
    public func list(team: UUID, status: DocumentStatus?, limit: Int, after cursor: (Date, UUID)?) throws -> [DocumentRecord] {
        var sql: SQL = "SELECT \(DocumentRepository.columns) FROM documents WHERE team_id = \(team)"
        if let status { sql.append(" AND status = \(status)") }
        if let (time, id) = cursor { sql.append(" AND (created_at, id) < (\(time)::timestamptz, \(id)::uuid)") }
        sql.append(" ORDER BY created_at DESC, id DESC LIMIT \(limit)")
        return try db.query(sql).map(DocumentRecord.init)
    }

    /// Deletes the document (pages cascade); returns whether another document still uses the file.
    public func delete(id: UUID, team: UUID) throws -> (deleted: DocumentRecord?, fileShared: Bool) {
        guard let row = try db.query("DELETE FROM documents WHERE id = \(id) AND team_id = \(team) RETURNING \(DocumentRepository.columns)").first else {
            return (nil, false)
        }
        let record = try DocumentRecord(row)
        let shared = try db.query("SELECT 1 FROM documents WHERE sha256 = \(record.sha256) LIMIT 1").count > 0
        return (record, shared)
    }

    public func assignJob(id: UUID, job: UUID) throws {
        try db.query("UPDATE documents SET job_id = \(job), updated_at = now() WHERE id = \(id)")
    }

    public func markProcessing(id: UUID) throws {
        try db.query("UPDATE documents SET status = 'processing', pages_done = 0, error = NULL, updated_at = now() WHERE id = \(id)")
    }

    public func savePage(document: UUID, page: Int, width: Double, height: Double, source: String, text: String,
                         wordsJSON: String, wordCount: Int, confidence: Double?) throws {
        try db.query("""
            INSERT INTO document_pages (document_id, page, width, height, source, text, words, word_count, confidence)
            VALUES (\(document), \(page), \(width), \(height), \(source), \(text), \(JSONText(wordsJSON))::jsonb, \(wordCount), \(confidence))
            ON CONFLICT (document_id, page) DO UPDATE SET width = EXCLUDED.width, height = EXCLUDED.height,
                source = EXCLUDED.source, text = EXCLUDED.text, words = EXCLUDED.words,
                word_count = EXCLUDED.word_count, confidence = EXCLUDED.confidence
            """)
        try db.query("UPDATE documents SET pages_done = \(page), updated_at = now() WHERE id = \(document)")
    }

    /// Marks the document done (or failed with `error`), with the warnings of its reading
    /// (a JSON array) replacing any earlier ones.
    public func finish(id: UUID, error: String?, warningsJSON: String = "[]") throws {
        try db.query("""
            UPDATE documents SET status = \(error == nil ? DocumentStatus.done : .failed), error = \(error), updated_at = now(),
                processed_at = now(), warnings = \(JSONText(warningsJSON))::jsonb
            WHERE id = \(id)
            """)
    }

    public func pages(document: UUID) throws -> [PageSummary] {
        try db.query("""
            SELECT page, source, word_count, confidence FROM document_pages WHERE document_id = \(document) ORDER BY page
            """).map { row in
            PageSummary(page: try row.decode("page"), source: try row.decode("source"),
                        wordCount: try row.decode("word_count"), confidence: try row.decode("confidence", as: Double?.self))
        }
    }

    /// Every stored page with its words (`[[text, x0, y0, x1, y1, confidence], …]` as JSON).
    public func storedPages(document: UUID) throws -> [StoredPage] {
        try db.query("""
            SELECT page, width, height, source, text, words::text AS words FROM document_pages
            WHERE document_id = \(document) ORDER BY page
            """).map { row in
            StoredPage(page: try row.decode("page"), width: try row.decode("width"), height: try row.decode("height"),
                       source: try row.decode("source"), text: try row.decode("text"), wordsJSON: try row.decode("words"))
        }
    }
}

public struct StoredPage: Sendable {
    public let page: Int
    public let width: Double
    public let height: Double
    public let source: String
    public let text: String
    public let wordsJSON: String
}
