import Data
import Foundation
import JSONValues

/// JSON shapes shared by the access routes.
enum Present {
    static func time(_ date: Date?) -> JSON {
        date.map { .string(PostgresTime.format($0)) } ?? .null
    }

    static func user(_ user: UserRecord) -> JSON {
        [
            "id": .string(user.id.lower), "email": .string(user.email), "username": .string(user.username),
            "full_name": .string(user.fullName), "is_active": .bool(user.isActive),
            "created_at": time(user.createdAt), "updated_at": time(user.updatedAt), "last_login_at": time(user.lastLoginAt),
        ]
    }

    static func team(id: UUID, name: String, role: String) -> JSON {
        ["id": .string(id.lower), "name": .string(name), "role": .string(role)]
    }

    static func tokens(_ pair: TokenService.Pair) -> [(String, JSON)] {
        [
            ("access_token", .string(pair.access)), ("refresh_token", .string(pair.refresh)),
            ("token_type", "Bearer"), ("expires_in", .int(Int64(pair.accessExpiresIn))),
        ]
    }

    static func member(_ m: MembershipRecord) -> JSON {
        [
            "user_id": .string(m.userID.lower), "email": .string(m.email), "username": .string(m.username),
            "full_name": .string(m.fullName), "role": .string(m.role), "joined_at": time(m.joinedAt),
        ]
    }

    static func invite(_ i: InviteRecord) -> JSON {
        [
            "id": .string(i.id.lower), "email": .string(i.email), "role": .string(i.role),
            "created_at": time(i.createdAt), "expires_at": time(i.expiresAt),
        ]
    }

    static func apiKey(_ k: ApiKeyRecord) -> JSON {
        [
            "id": .string(k.id.lower), "name": .string(k.name), "prefix": .string(APIKeyFormat.prefix + k.prefix),
            "scopes": .array(k.scopes.map(JSON.string)),
            "hourly_limit": k.hourlyLimit.map { .int(Int64($0)) } ?? .null,
            "expires_at": time(k.expiresAt), "created_at": time(k.createdAt), "last_used_at": time(k.lastUsedAt),
        ]
    }
}

/// Field checks shared by registration, profile updates and invites.
enum AccountRules {
    static func validEmail(_ email: String) -> Bool {
        guard email.count <= 254, !email.contains(where: { $0.isWhitespace }) else { return false }
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].count <= 64 else { return false }
        let domain = parts[1]
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        return labels.count >= 2 && labels.allSatisfy { !$0.isEmpty && !$0.hasPrefix("-") && !$0.hasSuffix("-") }
            && labels.last!.count >= 2
    }

    static func validUsername(_ name: String) -> Bool {
        guard (3...32).contains(name.count), let first = name.unicodeScalars.first,
              CharacterSet.alphanumerics.contains(first), first.isASCII else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "_.-".unicodeScalars.contains($0)) }
    }

    /// Reads and checks an email field, recording problems on `body`.
    static func email(_ body: inout FieldReader, required: Bool = true) -> String? {
        guard let email = body.string("email", required: required, minLength: 1, maxLength: 254) else { return nil }
        guard validEmail(email) else {
            body.fail("email", "is not a valid email address")
            return nil
        }
        return email
    }

    static func username(_ body: inout FieldReader, required: Bool = true) -> String? {
        guard let name = body.string("username", required: required, minLength: 1, maxLength: 32) else { return nil }
        guard validUsername(name) else {
            body.fail("username", "must be 3–32 letters, digits, '_', '.' or '-', starting with a letter or digit")
            return nil
        }
        return name
    }
}

extension Request {
    /// A path parameter that must be a UUID; anything else is a 404, as for an unknown id.
    func uuidParameter(_ name: String) throws -> UUID {
        guard let raw = pathParameters[name], let id = UUID(uuidString: raw) else { throw APIError.notFound() }
        return id
    }
}
