import Connectors
import Data
import Foundation
import JSONValues

/// Opens a stored connection: policy check, decryption, connect to the checked address.
/// Shared by the API (test, schema) and the ETL job.
public struct SourceOpener {
    public let settings: ConnectionSettings

    public init(settings: ConnectionSettings) { self.settings = settings }

    /// A failure with the code the API reports.
    public struct Failure: Error, CustomStringConvertible {
        public let code: String
        public let message: String
        public var description: String { message }
    }

    public func password(of record: ConnectionRecord) throws -> String {
        guard let cipher = settings.cipher else { throw Failure(code: "encryption_unavailable", message: "ENCRYPTION_KEY is not configured") }
        let plain: [UInt8]
        do {
            plain = try cipher.open(record.secretCiphertext, keyID: record.keyID, boundTo: record.id)
        } catch {
            throw Failure(code: "secret_unreadable", message: "the stored password cannot be decrypted with the configured keys")
        }
        guard case .object(let members)? = try? JSON.parse(plain),
              case .string(let password)? = members.first(where: { $0.0 == "password" })?.1 else {
            throw Failure(code: "secret_unreadable", message: "the stored secret is damaged")
        }
        return password
    }

    public func open(_ record: ConnectionRecord) throws -> SourceDatabase {
        let addresses: [String]
        do {
            addresses = try settings.policy.check(host: record.host, port: record.port)
        } catch let refusal as ConnectionPolicy.Refusal {
            let code = refusal.description.contains("does not resolve") ? "host_unreachable" : "host_not_allowed"
            throw Failure(code: code, message: refusal.description)
        }
        let source = SourceSettings(
            engine: record.engine, host: record.host, address: addresses[0],
            port: record.port, database: record.databaseName, username: record.username, password: try password(of: record),
            sslmode: record.sslmode, caCertificate: record.caCertificate, connectTimeout: settings.connectTimeout,
            statementTimeout: settings.statementTimeout)
        do {
            return try SourceConnector.open(source)
        } catch let error as SourceError {
            throw Failure(code: error.kind.rawValue, message: error.message)
        }
    }
}
