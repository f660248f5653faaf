import Connectors
import Credentials
import Foundation

/// How customer connections are secured and bounded, resolved at start-up.
public struct ConnectionSettings: Sendable {
    /// nil only where no key was configured (unit tests); the routes then answer 503.
    public var cipher: CredentialCipher?
    public var policy: ConnectionPolicy
    /// Seconds to establish a connection (and the whole of a connection test).
    public var connectTimeout: Int
    /// Seconds any statement on a source may run.
    public var statementTimeout: Int

    public init(cipher: CredentialCipher? = nil, policy: ConnectionPolicy? = nil, connectTimeout: Int = 10,
                statementTimeout: Int = 300) {
        self.cipher = cipher
        self.policy = policy ?? (try! ConnectionPolicy(deny: ConnectionPolicy.defaultDeny, allow: "", ownDatabases: []))
        self.connectTimeout = connectTimeout
        self.statementTimeout = statementTimeout
    }
}
