import Crypto
import Foundation
import JSONValues
import JWTKit

/// Signed embedding (as Metabase's): the embedding site's server signs a short-lived HS256
/// JWT with the widget's secret — `{"widget": "<id>", "exp": <unix time>, "params":
/// {"region": "North"}}` — and puts it in the iframe's URL (`?token=`). The page opens only
/// with a valid token when the widget requires one, and the token's `params` lock those
/// filters to its values: the viewer sees neither them nor a way to change them.
enum EmbedTokens {
    struct Claims: JWTPayload {
        var widget: String
        var exp: Int
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    struct Rejected: Error, CustomStringConvertible {
        let description: String
    }

    /// The locked values of a token for `widgetID` signed with `secret`.
    static func verify(_ token: String, widgetID: String, secret: [UInt8], now: Date = Date()) throws -> [(column: String, value: JSON)] {
        let segments = token.split(separator: ".", omittingEmptySubsequences: false)
        guard token.utf8.count <= 4096, segments.count == 3, let header = Base64URL.decode(segments[0]),
              (try? JSON.parse(header))?["alg"] == "HS256" else {
            throw Rejected(description: "the embed token is not an HS256 JWT")
        }
        let keys = JWTKeyCollection()
        let claims: Claims
        do {
            claims = try blockingThrowing {
                await keys.add(hmac: HMACKey(key: SymmetricKey(data: secret)), digestAlgorithm: .sha256)
                return try await keys.verify(token, as: Claims.self)
            }
        } catch {
            throw Rejected(description: "the embed token's signature or claims are invalid")
        }
        guard claims.widget == widgetID else { throw Rejected(description: "the embed token is for another widget") }
        guard Double(claims.exp) > now.timeIntervalSince1970 else { throw Rejected(description: "the embed token has expired") }
        // The payload is verified: read its params as JSON (strings, numbers, booleans).
        guard let payload = Base64URL.decode(segments[1]), let claimsJSON = try? JSON.parse(payload) else {
            throw Rejected(description: "the embed token's claims are malformed")
        }
        guard let params = claimsJSON["params"], params != .null else { return [] }
        guard case .object(let members) = params, members.count <= 20 else {
            throw Rejected(description: "the embed token's params must be an object of at most 20 column values")
        }
        return try members.map { column, value in
            switch value {
            case .string, .int, .double, .bool: return (column, value)
            default: throw Rejected(description: "the embed token's value for \(column) must be a string, number or boolean")
            }
        }
    }

    /// A new widget secret: 32 random bytes, shown to its owner as base64url.
    static func newSecret() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in generator.next() }
    }
}
