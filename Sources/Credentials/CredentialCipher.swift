import Crypto
import Foundation

/// Encrypts connection secrets at rest: AES-256-GCM under `ENCRYPTION_KEY`, with the
/// row's id as associated data (a ciphertext copied to another row does not open) and
/// the key's id stored beside each ciphertext, so a new key can be introduced while
/// rows sealed under the previous ones (`ENCRYPTION_KEY_PREVIOUS`) still open.
public struct CredentialCipher: Sendable {
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    struct Key: Sendable {
        let id: String
        let key: SymmetricKey
    }

    let current: Key
    let previous: [String: SymmetricKey]

    public var currentKeyID: String { current.id }

    /// From base64 keys of exactly 32 bytes; throws a message naming the bad one.
    public init(currentBase64: String, previousBase64: [String] = []) throws {
        func key(_ text: String, name: String) throws -> Key {
            guard let data = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), data.count == 32 else {
                throw Invalid(description: "\(name) must be the base64 encoding of exactly 32 bytes (openssl rand -base64 32)")
            }
            let digest = SHA256.hash(data: Data("assay-key-id:".utf8) + data)
            return Key(id: digest.prefix(6).map { String(format: "%02x", $0) }.joined(), key: SymmetricKey(data: data))
        }
        current = try key(currentBase64, name: "ENCRYPTION_KEY")
        var previous: [String: SymmetricKey] = [:]
        for text in previousBase64 where !text.isEmpty {
            let old = try key(text, name: "ENCRYPTION_KEY_PREVIOUS")
            previous[old.id] = old.key
        }
        self.previous = previous
    }

    /// nonce ‖ ciphertext ‖ tag, and the id of the key used.
    public func seal(_ plaintext: [UInt8], boundTo id: UUID) throws -> (keyID: String, ciphertext: [UInt8]) {
        let box = try AES.GCM.seal(plaintext, using: current.key, authenticating: CredentialCipher.associatedData(id))
        guard let combined = box.combined else { throw Invalid(description: "AES-GCM produced no output") }
        return (current.id, [UInt8](combined))
    }

    public func open(_ ciphertext: [UInt8], keyID: String, boundTo id: UUID) throws -> [UInt8] {
        let key: SymmetricKey
        if keyID == current.id {
            key = current.key
        } else if let old = previous[keyID] {
            key = old
        } else {
            throw Invalid(description: "the secret was sealed with key \(keyID), which is not configured")
        }
        let box = try AES.GCM.SealedBox(combined: ciphertext)
        return [UInt8](try AES.GCM.open(box, using: key, authenticating: CredentialCipher.associatedData(id)))
    }

    static func associatedData(_ id: UUID) -> Data { Data("assay-connection:\(id.uuidString.lowercased())".utf8) }
}
