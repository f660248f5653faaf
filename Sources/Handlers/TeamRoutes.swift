import Data
import Foundation
import Integrations
import JSONValues

/// `/api/team/*`: members, roles and invitations of the caller's active team.
struct TeamRoutes: RouteGroup {
    let access: AccessControl
    var db: Database { context.database }

    func register(on router: Router) {
        router.post("/api/team/invite", access.protect(scope: .admin, invite))
        router.get("/api/team/invites", access.protect(scope: .admin, invites))
        router.delete("/api/team/invites/{id}", access.protect(scope: .admin, revokeInvite))
        router.post("/api/team/invites/{token}/accept", access.protect(sessionOnly: true, accept))
        router.get("/api/team/members", access.protect(members))
        router.patch("/api/team/members/{user_id}", access.protect(scope: .admin, changeRole))
        router.delete("/api/team/members/{user_id}", access.protect(scope: .admin, removeMember))
    }

    func invite(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .admin, to: "invite members")
        var body = try request.jsonObject(limit: context.settings.maxJSONBody)
        let email = AccountRules.email(&body)
        let role = body.choice("role", Role.allCases.map(\.rawValue))
        try body.finish()
        guard let email, let roleName = role, let role = Role(rawValue: roleName) else { throw APIError.internalError }
        if role == .owner { try principal.require(role: .owner, to: "invite an owner") }
        let teams = TeamRepository(db)
        if try teams.members(team: principal.teamID).contains(where: { $0.email.lowercased() == email.lowercased() }) {
            throw APIError(status: 409, code: "conflict", message: "\(email) is already a member of this team",
                           fields: [("email", "is already a member")])
        }
        if try teams.hasPendingInvite(team: principal.teamID, email: email) {
            throw APIError(status: 409, code: "conflict", message: "\(email) already has a pending invite",
                           fields: [("email", "already has a pending invite")])
        }
        let token = randomToken()
        let expires = Date().addingTimeInterval(TimeInterval(context.settings.access.inviteTTLDays * 86_400))
        let (record, message, subject, outboxID) = try db.transaction { db -> (InviteRecord, String, String, Int64) in
            let teams = TeamRepository(db)
            try teams.expireStaleInvites(team: principal.teamID, email: email)
            let record = try teams.createInvite(team: principal.teamID, email: email, role: roleName,
                                                tokenHash: sha256(token), invitedBy: principal.userID, expiresAt: expires)
            let link = "\(context.settings.access.publicURL)/api/team/invites/\(token)/accept"
            let message = """
                You have been invited to join the team "\(principal.teamName)" on Assay as \(roleName).

                Sign in (or register with this email address) and accept the invitation with:
                  POST \(link)

                The invitation expires on \(PostgresTime.format(expires)) and works once.
                """
            let subject = "Invitation to \(principal.teamName) on Assay"
            let outboxID = try teams.enqueueEmail(recipient: email, subject: subject, body: message)
            return (record, message, subject, outboxID)
        }
        // Sent after commit, so a slow mail server never holds the transaction open.
        var delivery = "outbox"
        var deliveryError: String?
        if let url = context.settings.access.smtpURL {
            do {
                try Mailer(url: url, from: context.settings.access.smtpFrom).send(to: email, subject: subject, body: message)
                delivery = "smtp"
                try TeamRepository(db).markEmail(id: outboxID, sent: true, error: nil)
            } catch {
                delivery = "failed"
                deliveryError = "\(error)"
                context.logger.warning("invite email failed", metadata: ["request.id": "\(request.requestID)", "error": "\(error)"])
                try TeamRepository(db).markEmail(id: outboxID, sent: false, error: "\(error)")
            }
        }
        access.audit(request, principal: principal, action: "team.invite_created", resourceType: "team_invite",
                     resourceID: record.id.lower,
                     detail: ["email": .string(email), "role": .string(roleName), "delivery": .string(delivery)])
        var result: [(String, JSON)] = [("invite", Present.invite(record)), ("delivery", .string(delivery))]
        // Without a mail server the inviter passes the token on; with one, only the invitee gets it.
        if delivery == "outbox" { result.append(("token", .string(token))) }
        if let deliveryError { result.append(("delivery_error", .string(deliveryError))) }
        return .json(.object(result), status: 201, headers: [("Cache-Control", "no-store")])
    }

    func invites(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .admin, to: "see invites")
        return .json(["items": .array(try TeamRepository(db).pendingInvites(team: principal.teamID).map(Present.invite))])
    }

    func revokeInvite(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .admin, to: "revoke invites")
        let id = try request.uuidParameter("id")
        guard try TeamRepository(db).revokeInvite(team: principal.teamID, id: id) else { throw APIError.notFound("no such pending invite") }
        access.audit(request, principal: principal, action: "team.invite_revoked", resourceType: "team_invite", resourceID: id.lower)
        return .json(["id": .string(id.lower), "status": "revoked"])
    }

    func accept(_ request: Request, _ principal: Principal) throws -> Response {
        let token = request.pathParameters["token"] ?? ""
        guard let user = try UserRepository(db).find(id: principal.userID) else { throw AccessError.tokenRevoked }
        let (invite, teamName) = try db.transaction { db -> (InviteRecord, String) in
            let teams = TeamRepository(db)
            guard let invite = try teams.inviteForUpdate(tokenHash: sha256(token)),
                  invite.acceptedAt == nil, invite.revokedAt == nil
            else { throw APIError.notFound("no such invitation, or it was already used or revoked") }
            guard invite.expiresAt > Date() else {
                throw APIError(status: 410, code: "invite_expired", message: "this invitation has expired; ask for a new one")
            }
            guard invite.email.lowercased() == user.email.lowercased() else {
                throw AccessError.forbidden("this invitation was sent to another email address")
            }
            try teams.addMember(team: invite.teamID, user: user.id, role: invite.role)
            try teams.markAccepted(invite: invite.id, by: user.id)
            return (invite, try teams.teamName(invite.teamID) ?? "")
        }
        access.audit(request, principal: principal, action: "team.invite_accepted", resourceType: "team_invite",
                     resourceID: invite.id.lower, detail: ["role": .string(invite.role)], teamID: invite.teamID)
        return .json(["team": Present.team(id: invite.teamID, name: teamName, role: invite.role)])
    }

    func members(_ request: Request, _ principal: Principal) throws -> Response {
        .json(["items": .array(try TeamRepository(db).members(team: principal.teamID).map(Present.member))])
    }

    func changeRole(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .admin, to: "change roles")
        let target = try request.uuidParameter("user_id")
        var body = try request.jsonObject(limit: context.settings.maxJSONBody)
        let roleName = body.choice("role", Role.allCases.map(\.rawValue))
        try body.finish()
        guard let roleName, let role = Role(rawValue: roleName) else { throw APIError.internalError }
        let member = try db.transaction { db -> MembershipRecord in
            let teams = TeamRepository(db)
            try teams.lockMembers(team: principal.teamID)
            guard let current = try teams.membership(team: principal.teamID, user: target) else { throw APIError.notFound("no such member") }
            let currentRole = Role(rawValue: current.role) ?? .viewer
            if role == .owner || currentRole == .owner { try principal.require(role: .owner, to: "grant or change the owner role") }
            if currentRole == .owner, role != .owner, try teams.ownerCount(team: principal.teamID) <= 1 {
                throw lastOwner
            }
            try teams.setRole(team: principal.teamID, user: target, role: roleName)
            return try teams.membership(team: principal.teamID, user: target)!
        }
        access.audit(request, principal: principal, action: "team.member_role_changed", resourceType: "user",
                     resourceID: target.lower, detail: ["role": .string(roleName)])
        return .json(Present.member(member))
    }

    func removeMember(_ request: Request, _ principal: Principal) throws -> Response {
        let target = try request.uuidParameter("user_id")
        if target != principal.userID { try principal.require(role: .admin, to: "remove members") }
        try db.transaction { db in
            let teams = TeamRepository(db)
            try teams.lockMembers(team: principal.teamID)
            guard let current = try teams.membership(team: principal.teamID, user: target) else { throw APIError.notFound("no such member") }
            if current.role == Role.owner.rawValue {
                if target != principal.userID { try principal.require(role: .owner, to: "remove an owner") }
                if try teams.ownerCount(team: principal.teamID) <= 1 { throw lastOwner }
            }
            try teams.removeMember(team: principal.teamID, user: target)
        }
        access.audit(request, principal: principal, action: "team.member_removed", resourceType: "user", resourceID: target.lower)
        return .json(["user_id": .string(target.lower), "status": "removed"])
    }

    private var lastOwner: APIError {
        APIError(status: 409, code: "last_owner", message: "a team must keep at least one owner; make someone else owner first")
    }
}
