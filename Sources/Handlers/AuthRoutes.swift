import Credentials
import Data
import Foundation
import JSONValues

/// `/api/auth/*`: registration, login, token refresh and logout, profile, password, settings.
struct AuthRoutes: RouteGroup {
    let access: AccessControl
    var db: Database { context.database }
    var limit: Int { context.settings.maxJSONBody }

    func register(on router: Router) {
        router.post("/api/auth/register", access.anonymous(register))
        router.post("/api/auth/login", access.anonymous(login))
        router.post("/api/auth/refresh", access.anonymous(refresh))
        router.post("/api/auth/logout", access.protect(sessionOnly: true, logout))
        router.get("/api/auth/me", access.protect(me))
        router.put("/api/auth/me", access.protect(updateMe))
        router.post("/api/auth/change-password", access.protect(sessionOnly: true, changePassword))
        router.get("/api/auth/settings", access.protect(settings))
        router.put("/api/auth/settings", access.protect(updateSettings))
        router.post("/api/auth/switch-team", access.protect(sessionOnly: true, switchTeam))
    }

    // MARK: Registration and login

    func register(_ request: Request) throws -> Response {
        var body = try request.jsonObject(limit: limit)
        let email = AccountRules.email(&body)
        let username = AccountRules.username(&body)
        let password = body.string("password", minLength: 1, maxLength: 1024, trim: false)
        let fullName = body.string("full_name", required: false, maxLength: 200) ?? ""
        if let password, let problem = Passwords.problem(with: password, username: username, email: email) {
            body.fail("password", problem)
        }
        try body.finish()
        guard let email, let username, let password else { throw APIError.internalError }
        let users = UserRepository(db)
        try rejectTaken(email: email, username: username, except: nil)
        let hash = try Passwords.hash(password)
        let user: UserRecord
        let team: TeamRecord
        do {
            (user, team) = try users.create(email: email, username: username, fullName: fullName, passwordHash: hash)
        } catch DataError.uniqueViolation {
            // Lost a race with a concurrent registration of the same name.
            try rejectTaken(email: email, username: username, except: nil)
            throw APIError(status: 409, code: "conflict", message: "this account already exists")
        }
        let pair = try startSession(user: user.id, team: team.id, request: request)
        access.audit(request, principal: nil, action: "auth.register", resourceType: "user", resourceID: user.id.lower,
                     detail: ["email": .string(email), "username": .string(username)], userID: user.id, teamID: team.id)
        return .json(.object([
            ("user", Present.user(user)), ("team", Present.team(id: team.id, name: team.name, role: "owner")),
        ] + Present.tokens(pair)), status: 201)
    }

    /// 409 naming each field that is already used by another account.
    private func rejectTaken(email: String?, username: String?, except id: UUID?) throws {
        let users = UserRepository(db)
        var fields: [(String, String)] = []
        if let email, try users.emailTaken(email, except: id) { fields.append(("email", "is already registered")) }
        if let username, try users.usernameTaken(username, except: id) { fields.append(("username", "is already taken")) }
        if !fields.isEmpty {
            throw APIError(status: 409, code: "conflict", message: "already in use: \(fields.map(\.0).joined(separator: ", "))", fields: fields)
        }
    }

    func login(_ request: Request) throws -> Response {
        var body = try request.jsonObject(limit: limit)
        let email = body.string("email", minLength: 1, maxLength: 254)
        let password = body.string("password", minLength: 1, maxLength: 1024, trim: false)
        try body.finish()
        guard let email, let password else { throw APIError.internalError }
        let settings = context.settings.access
        let throttle = LoginThrottleRepository(db)
        // Three counters (docs/access.md, "Login throttling"): the (email, address) pair is
        // locked hard; the address, across emails, too; the email, across addresses, is only
        // slowed down, and not for addresses its owner has signed in from before. So nobody
        // can lock an owner out from elsewhere, and a spread-out guesser gets ever slower.
        let emailKey = "email:" + email.lowercased()
        let pairKey = "pair:" + email.lowercased() + " " + request.clientAddress
        let addressKey = "addr:" + request.clientAddress
        let user = try UserRepository(db).find(email: email)
        // Asked for unknown emails too (of a random id: false), so both take the same path.
        let knownAddress = try SessionRepository(db).hasSignedIn(user: user?.id ?? UUID(), from: request.clientAddress)
        var waits = [try throttle.lockedFor(key: pairKey), try throttle.lockedFor(key: addressKey)]
        if !knownAddress { waits.append(try throttle.lockedFor(key: emailKey)) }
        if let wait = waits.compactMap({ $0 }).max() {
            throw tooManyAttempts(wait)
        }
        // Verify against a decoy hash for unknown accounts: same answer, same time.
        let passwordOK = Passwords.verify(password, hash: user?.passwordHash ?? Passwords.decoy)
        guard let user, passwordOK, user.isActive else {
            let pairLock = try throttle.recordFailure(key: pairKey, maxFailures: settings.loginMaxFailures,
                                                      windowSeconds: settings.loginWindowSeconds, lockSeconds: settings.loginLockSeconds)
            let addressLock = try throttle.recordFailure(key: addressKey, maxFailures: settings.loginAddressMaxFailures,
                                                         windowSeconds: settings.loginWindowSeconds, lockSeconds: settings.loginLockSeconds)
            let emailDelay = try throttle.recordFailureWithDelay(key: emailKey, freeFailures: settings.loginMaxFailures,
                                                                 quietSeconds: settings.loginWindowSeconds, maxDelay: settings.loginLockSeconds)
            access.audit(request, principal: nil, action: "auth.login_failed", resourceType: "user", resourceID: user?.id.lower,
                         detail: ["email": .string(email), "locked": .bool(pairLock != nil || addressLock != nil),
                                  "delay_seconds": JSON(emailDelay)],
                         userID: user?.id, teamID: user?.personalTeamID)
            throw APIError(status: 401, code: "invalid_credentials", message: "invalid email or password",
                           headers: AccessError.challenge)
        }
        // The pair's count ends with a success; the email's does not (an owner signing in must
        // not reset an attacker's delay): it ends after a quiet window.
        try throttle.clear(key: pairKey)
        let memberships = try TeamRepository(db).memberships(user: user.id)
        guard let team = memberships.first(where: { $0.teamID == user.personalTeamID }) ?? memberships.first else {
            throw AccessError.forbidden("this account belongs to no team")
        }
        let pair = try startSession(user: user.id, team: team.teamID, request: request)
        try UserRepository(db).recordLogin(id: user.id)
        access.audit(request, principal: nil, action: "auth.login", resourceType: "user", resourceID: user.id.lower,
                     userID: user.id, teamID: team.teamID)
        let fresh = try UserRepository(db).find(id: user.id) ?? user
        return .json(.object([
            ("user", Present.user(fresh)), ("team", Present.team(id: team.teamID, name: team.teamName, role: team.role)),
        ] + Present.tokens(pair)))
    }

    private func tooManyAttempts(_ seconds: Int) -> APIError {
        APIError(status: 429, code: "too_many_attempts",
                 message: "too many failed logins; try again in \(seconds) s", headers: [("Retry-After", String(max(1, seconds)))])
    }

    /// Opens a session (a refresh-token family) and issues its first pair.
    private func startSession(user: UUID, team: UUID, request: Request) throws -> TokenService.Pair {
        let session = UUID()
        let pair = try access.tokens.issue(user: user, team: team, session: session)
        try SessionRepository(db).create(id: session, user: user, team: team, refreshJTI: pair.refreshJTI,
                                         expiresAt: pair.refreshExpiresAt, ip: request.clientAddress,
                                         userAgent: request.header("User-Agent").map { String($0.prefix(512)) })
        return pair
    }

    // MARK: Tokens

    func refresh(_ request: Request) throws -> Response {
        if access.presentsAPIKey(request) {
            throw AccessError.forbidden("API keys cannot manage sessions; use a user token")
        }
        var body = try request.jsonObject(limit: limit)
        let presented = body.string("refresh_token", minLength: 1, maxLength: 4096)
        let teamText = body.string("team_id", required: false)
        let requestedTeam = teamText.flatMap(UUID.init(uuidString:))
        if teamText != nil, requestedTeam == nil { body.fail("team_id", "must be a UUID") }
        try body.finish()
        let token = try access.tokens.verify(presented!, type: "refresh")
        let sessions = SessionRepository(db)
        guard let session = try sessions.find(id: token.sessionID), session.revokedAt == nil, session.userID == token.userID else {
            throw AccessError.tokenRevoked
        }
        let team = requestedTeam ?? session.teamID
        guard let membership = try TeamRepository(db).membership(team: team, user: token.userID) else {
            throw APIError.notFound("you are not a member of that team")
        }
        let pair = try access.tokens.issue(user: token.userID, team: team, session: session.id)
        guard try sessions.rotate(session: session.id, presented: token.tokenID, next: pair.refreshJTI, team: team,
                                  expiresAt: pair.refreshExpiresAt)
        else {
            // A spent refresh token: someone replayed it. End the whole session.
            try sessions.revoke(session: session.id, reason: "refresh_token_reused")
            access.audit(request, principal: nil, action: "auth.refresh_reused", resourceType: "session",
                         resourceID: session.id.lower, userID: token.userID, teamID: session.teamID)
            throw APIError(status: 401, code: "token_reused",
                           message: "this refresh token was already used; the session has been revoked",
                           headers: AccessError.challenge)
        }
        access.audit(request, principal: nil, action: "auth.refresh", resourceType: "session", resourceID: session.id.lower,
                     userID: token.userID, teamID: team)
        return .json(.object(Present.tokens(pair) + [
            ("team", Present.team(id: team, name: membership.teamName, role: membership.role)),
        ]))
    }

    func logout(_ request: Request, _ principal: Principal) throws -> Response {
        let sessions = SessionRepository(db)
        if let jti = principal.tokenID, let expiry = principal.tokenExpiresAt {
            try sessions.revokeToken(jti: jti, expiresAt: expiry)
        }
        if let session = principal.sessionID { try sessions.revoke(session: session, reason: "logout") }
        access.audit(request, principal: principal, action: "auth.logout", resourceType: "session",
                     resourceID: principal.sessionID?.lower)
        return .json(["status": "logged_out"])
    }

    // MARK: Profile

    func me(_ request: Request, _ principal: Principal) throws -> Response {
        guard let (user, teams) = try UserRepository(db).findWithMemberships(id: principal.userID) else {
            throw AccessError.tokenRevoked
        }
        return .json([
            "user": Present.user(user),
            "team": Present.team(id: principal.teamID, name: principal.teamName, role: principal.role.rawValue),
            "teams": .array(teams.map { Present.team(id: $0.teamID, name: $0.teamName, role: $0.role) }),
        ])
    }

    func updateMe(_ request: Request, _ principal: Principal) throws -> Response {
        var body = try request.jsonObject(limit: limit)
        let email = AccountRules.email(&body, required: false)
        let username = AccountRules.username(&body, required: false)
        let fullName = body.string("full_name", required: false, maxLength: 200)
        if case .object(let members) = body.value {
            for (key, _) in members where !["email", "username", "full_name"].contains(key) {
                body.fail(key, "is not a profile field (email, username, full_name)")
            }
        }
        try body.finish()
        try rejectTaken(email: email, username: username, except: principal.userID)
        let user: UserRecord
        do {
            user = try UserRepository(db).updateProfile(id: principal.userID, email: email, username: username, fullName: fullName)
        } catch DataError.uniqueViolation {
            try rejectTaken(email: email, username: username, except: principal.userID)
            throw APIError(status: 409, code: "conflict", message: "already in use")
        }
        let changed = [("email", email), ("username", username), ("full_name", fullName)].filter { $0.1 != nil }.map { JSON.string($0.0) }
        access.audit(request, principal: principal, action: "auth.profile_updated", resourceType: "user",
                     resourceID: user.id.lower, detail: ["fields": .array(changed)])
        return .json(["user": Present.user(user)])
    }

    func changePassword(_ request: Request, _ principal: Principal) throws -> Response {
        var body = try request.jsonObject(limit: limit)
        let current = body.string("current_password", minLength: 1, maxLength: 1024, trim: false)
        let new = body.string("new_password", minLength: 1, maxLength: 1024, trim: false)
        guard let user = try UserRepository(db).find(id: principal.userID) else { throw AccessError.tokenRevoked }
        if let current, !Passwords.verify(current, hash: user.passwordHash) { body.fail("current_password", "is incorrect") }
        if let new {
            if let problem = Passwords.problem(with: new, username: user.username, email: user.email) {
                body.fail("new_password", problem)
            } else if new == current {
                body.fail("new_password", "must differ from the current password")
            }
        }
        try body.finish()
        guard let new, let session = principal.sessionID else { throw APIError.internalError }
        let hash = try Passwords.hash(new)
        let pair = try access.tokens.issue(user: user.id, team: principal.teamID, session: session)
        try db.transaction { db in
            try UserRepository(db).updatePassword(id: user.id, passwordHash: hash)
            let sessions = SessionRepository(db)
            try sessions.revokeAll(user: user.id, except: session, reason: "password_changed")
            try sessions.replaceRefresh(session: session, jti: pair.refreshJTI, team: principal.teamID, expiresAt: pair.refreshExpiresAt)
        }
        access.audit(request, principal: principal, action: "auth.password_changed", resourceType: "user", resourceID: user.id.lower)
        return .json(.object([("status", "password_changed")] + Present.tokens(pair)))
    }

    // MARK: Settings

    static let defaultSettings: [(String, JSON)] = [
        ("theme", "light"), ("language", "en"), ("timezone", "UTC"), ("notifications", ["email": true]),
        ("default_export_format", .string(ExportFormat.csv.rawValue)), ("page_size", 50),
    ]

    func settings(_ request: Request, _ principal: Principal) throws -> Response {
        let stored = try JSON.parse(Array(UserRepository(db).settings(userID: principal.userID).utf8))
        return .json(["settings": merged(stored)])
    }

    private func merged(_ stored: JSON) -> JSON {
        .object(AuthRoutes.defaultSettings.map { key, value in (key, stored[key] ?? value) })
    }

    func updateSettings(_ request: Request, _ principal: Principal) throws -> Response {
        var body = try request.jsonObject(limit: limit)
        var patch: [(String, JSON)] = []
        guard case .object(let members) = body.value else { throw APIError.internalError }
        for (key, _) in members {
            switch key {
            case "theme":
                if let v = body.choice(key, ["light", "dark", "system"]) { patch.append((key, .string(v))) }
            case "default_export_format":
                if let v = body.choice(key, as: ExportFormat.self) { patch.append((key, .string(v.rawValue))) }
            case "language":
                if let v = body.string(key, minLength: 2, maxLength: 10) {
                    if v.range(of: "^[a-z]{2,3}(-[A-Za-z]{2,4})?$", options: .regularExpression) == nil {
                        body.fail(key, "must be a language tag such as en or pt-BR")
                    } else { patch.append((key, .string(v))) }
                }
            case "timezone":
                if let v = body.string(key, minLength: 1, maxLength: 64) {
                    if TimeZone(identifier: v) == nil { body.fail(key, "is not a known IANA time zone") } else { patch.append((key, .string(v))) }
                }
            case "page_size":
                if let v = body.int(key, range: 10...500) { patch.append((key, .int(Int64(v)))) }
            case "notifications":
                if var nested = body.object(key) {
                    let email = nested.bool("email")
                    if case .object(let inner) = nested.value {
                        for (innerKey, _) in inner where innerKey != "email" { nested.fail(innerKey, "is not a notification setting (email)") }
                    }
                    body.absorb(nested, prefix: key)
                    if let email { patch.append((key, ["email": .bool(email)])) }
                }
            default:
                body.fail(key, "is not a setting (\(AuthRoutes.defaultSettings.map(\.0).joined(separator: ", ")))")
            }
        }
        try body.finish()
        let result = try UserRepository(db).mergeSettings(userID: principal.userID,
                                                           patch: JSON.object(patch).serializedText)
        access.audit(request, principal: principal, action: "auth.settings_updated", resourceType: "user",
                     resourceID: principal.userID.lower, detail: ["keys": .array(patch.map { .string($0.0) })])
        return .json(["settings": merged(try JSON.parse(Array(result.utf8)))])
    }

    // MARK: Teams

    func switchTeam(_ request: Request, _ principal: Principal) throws -> Response {
        var body = try request.jsonObject(limit: limit)
        let text = body.string("team_id")
        let team = text.flatMap(UUID.init(uuidString:))
        if text != nil, team == nil { body.fail("team_id", "must be a UUID") }
        try body.finish()
        guard let team, let session = principal.sessionID,
              let membership = try TeamRepository(db).membership(team: team, user: principal.userID)
        else { throw APIError.notFound("you are not a member of that team") }
        let pair = try access.tokens.issue(user: principal.userID, team: team, session: session)
        try SessionRepository(db).replaceRefresh(session: session, jti: pair.refreshJTI, team: team, expiresAt: pair.refreshExpiresAt)
        access.audit(request, principal: principal, action: "auth.team_switched", resourceType: "team", resourceID: team.lower,
                     detail: ["from": .string(principal.teamID.lower)], teamID: team)
        return .json(.object([("team", Present.team(id: team, name: membership.teamName, role: membership.role))] + Present.tokens(pair)))
    }
}
