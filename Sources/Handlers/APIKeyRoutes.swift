import Data
import Foundation
import JSONValues

/// `/api/api-keys`: create (the secret is shown once), list, revoke.
struct APIKeyRoutes: RouteGroup {
    let access: AccessControl

    func register(on router: Router) {
        router.post("/api/api-keys", access.protect(scope: .admin, create))
        router.get("/api/api-keys", access.protect(scope: .admin, list))
        router.delete("/api/api-keys/{id}", access.protect(scope: .admin, revoke))
    }

    func create(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .editor, to: "create API keys")
        var body = try request.jsonObject(limit: context.settings.maxJSONBody)
        let name = body.string("name", minLength: 1, maxLength: 100)
        var scopes: [String] = []
        if let items = body.array("scopes", maxCount: Scope.allCases.count) {
            let valid = Scope.allCases.map(\.rawValue)
            for item in items {
                guard case .string(let scope) = item, valid.contains(scope) else {
                    body.fail("scopes", "each scope must be one of: \(valid.joined(separator: ", "))")
                    break
                }
                if !scopes.contains(scope) { scopes.append(scope) }
            }
            if items.isEmpty { body.fail("scopes", "must name at least one scope") }
        }
        let hourlyLimit = body.int("hourly_limit", required: false, range: 1...1_000_000)
        var expiresAt: Date?
        if let text = body.string("expires_at", required: false) {
            if let date = ISO8601.parse(text) {
                if date <= Date() { body.fail("expires_at", "must be in the future") } else { expiresAt = date }
            } else {
                body.fail("expires_at", "must be an ISO 8601 date-time such as 2027-01-31T00:00:00Z")
            }
        }
        // A key may not grant more than its creator holds; `admin` holds everything.
        if principal.isAPIKey, let held = principal.scopes, !held.contains(.admin),
           scopes.contains(where: { !held.contains(Scope(rawValue: $0)!) }) {
            body.fail("scopes", "an API key cannot create a key with scopes it lacks")
        }
        try body.finish()
        let generated = APIKeyFormat.generate()
        let record = try ApiKeyRepository(context.database).create(
            team: principal.teamID, user: principal.userID, name: name!, prefix: generated.prefix,
            keyHash: APIKeyFormat.hash(generated.key), scopes: scopes, hourlyLimit: hourlyLimit, expiresAt: expiresAt)
        access.audit(request, principal: principal, action: "api_key.created", resourceType: "api_key", resourceID: record.id.lower,
                     detail: ["name": .string(record.name), "scopes": .array(scopes.map(JSON.string))])
        guard case .object(var members) = Present.apiKey(record) else { throw APIError.internalError }
        members.insert(("key", .string(generated.key)), at: 2)
        return .json(.object(members), status: 201, headers: [("Cache-Control", "no-store")])
    }

    func list(_ request: Request, _ principal: Principal) throws -> Response {
        let keys = try ApiKeyRepository(context.database).list(team: principal.teamID)
        return .json(["items": .array(keys.map(Present.apiKey))])
    }

    func revoke(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .editor, to: "revoke API keys")
        let id = try request.uuidParameter("id")
        guard try ApiKeyRepository(context.database).revoke(team: principal.teamID, id: id) else {
            throw APIError.notFound("no such API key")
        }
        access.audit(request, principal: principal, action: "api_key.revoked", resourceType: "api_key", resourceID: id.lower)
        return .json(["id": .string(id.lower), "status": "revoked"])
    }
}

/// ISO 8601 timestamps as clients send them: with `Z` or an offset, with or without
/// fractional seconds, or a bare date (midnight UTC).
enum ISO8601 {
    static func parse(_ text: String) -> Date? {
        let withFraction = ISO8601DateFormatter()
        withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        let dateOnly = ISO8601DateFormatter()
        dateOnly.formatOptions = [.withFullDate]
        return plain.date(from: text) ?? withFraction.date(from: text) ?? dateOnly.date(from: text)
    }
}
