import Crypto
import Dispatch
import Foundation
import JSONValues
import JWTKit

/// The claims of Assay's access and refresh tokens.
struct TokenClaims: JWTPayload {
    var sub: String
    var team: String
    var sid: String
    var jti: String
    var iat: Int
    var exp: Int
    var typ: String

    /// Expiry and type are checked by `TokenService` so each failure gets its own code.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// A verified token.
public struct VerifiedToken: Sendable {
    public let userID: UUID
    public let teamID: UUID
    public let sessionID: UUID
    public let tokenID: UUID
    public let expiresAt: Date
    public let type: String
}

/// Issues and verifies HS256 JWTs with jwt-kit.
///
/// jwt-kit's API is async (its key collection is an actor); the workers are
/// synchronous, so each call is bridged with `blocking`, which waits on a semaphore
/// while the work runs on the cooperative pool. The main thread is never part of
/// that pool, so this cannot deadlock.
public final class TokenService: @unchecked Sendable {
    public struct Pair: Sendable {
        public let access: String
        public let refresh: String
        public let accessExpiresIn: Int
        public let refreshJTI: UUID
        public let refreshExpiresAt: Date
    }

    private let keys: JWTKeyCollection
    public let accessTTL: Int
    public let refreshTTL: Int

    public init(secret: [UInt8], accessTTL: Int, refreshTTL: Int) {
        precondition(secret.count >= 32, "JWT secret must be at least 32 bytes")
        let keys = JWTKeyCollection()
        blocking { await keys.add(hmac: HMACKey(key: SymmetricKey(data: secret)), digestAlgorithm: .sha256) }
        self.keys = keys
        self.accessTTL = accessTTL
        self.refreshTTL = refreshTTL
    }

    /// A new access + refresh pair for a session.
    public func issue(user: UUID, team: UUID, session: UUID, now: Date = Date()) throws -> Pair {
        let issued = Int(now.timeIntervalSince1970)
        let refreshJTI = UUID()
        let access = TokenClaims(sub: user.lower, team: team.lower, sid: session.lower, jti: UUID().lower,
                                 iat: issued, exp: issued + accessTTL, typ: "access")
        let refresh = TokenClaims(sub: user.lower, team: team.lower, sid: session.lower, jti: refreshJTI.lower,
                                  iat: issued, exp: issued + refreshTTL, typ: "refresh")
        let keys = self.keys
        let accessToken = try blockingThrowing { try await keys.sign(access) }
        let refreshToken = try blockingThrowing { try await keys.sign(refresh) }
        return Pair(access: accessToken, refresh: refreshToken, accessExpiresIn: accessTTL, refreshJTI: refreshJTI,
                    refreshExpiresAt: Date(timeIntervalSince1970: TimeInterval(issued + refreshTTL)))
    }

    /// Verifies signature, algorithm, expiry and type; throws 401 with a precise code.
    public func verify(_ token: String, type: String, now: Date = Date()) throws -> VerifiedToken {
        let segments = token.split(separator: ".", omittingEmptySubsequences: false)
        guard segments.count == 3, let header = Base64URL.decode(segments[0]),
              case .object = (try? JSON.parse(header)) ?? .null
        else { throw AccessError.invalidToken("the token is malformed") }
        // Only HS256 is accepted, whatever the token's header claims.
        guard (try? JSON.parse(header))?["alg"] == "HS256" else {
            throw AccessError.invalidToken("the token's algorithm is not accepted")
        }
        let keys = self.keys
        let claims: TokenClaims
        do {
            claims = try blockingThrowing { try await keys.verify(token, as: TokenClaims.self) }
        } catch {
            throw AccessError.invalidToken("the token's signature or claims are invalid")
        }
        guard claims.typ == type else {
            throw AccessError.invalidToken("a \(claims.typ) token cannot be used here")
        }
        guard Double(claims.exp) > now.timeIntervalSince1970 else { throw AccessError.tokenExpired }
        guard let user = UUID(uuidString: claims.sub), let team = UUID(uuidString: claims.team),
              let session = UUID(uuidString: claims.sid), let id = UUID(uuidString: claims.jti)
        else { throw AccessError.invalidToken("the token's claims are malformed") }
        return VerifiedToken(userID: user, teamID: team, sessionID: session, tokenID: id,
                             expiresAt: Date(timeIntervalSince1970: TimeInterval(claims.exp)), type: claims.typ)
    }
}

/// Runs async work from synchronous code and waits for it.
func blocking<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        box.value = .success(await body())
        done.signal()
    }
    done.wait()
    return try! box.value!.get()
}

func blockingThrowing<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        do { box.value = .success(try await body()) } catch { box.value = .failure(error) }
        done.signal()
    }
    done.wait()
    return try box.value!.get()
}

/// Written by the task before it signals, read after the wait: the semaphore orders them.
private final class ResultBox<T>: @unchecked Sendable {
    var value: Result<T, Error>?
}

enum Base64URL {
    static func decode<S: StringProtocol>(_ text: S) -> [UInt8]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64).map { [UInt8]($0) }
    }

    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
