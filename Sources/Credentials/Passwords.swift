import CArgon2
import Foundation

/// argon2id password hashing (libargon2) and the password policy.
public enum Passwords {
    /// OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane (~50–75 ms here).
    static let memoryKiB: UInt32 = 19 * 1024
    static let passes: UInt32 = 2
    static let lanes: UInt32 = 1
    static let saltLength = 16
    static let hashLength = 32

    public struct HashingFailed: Error, CustomStringConvertible {
        let code: Int32
        public var description: String { "argon2 failed: \(String(cString: argon2_error_message(code)))" }
    }

    /// An encoded hash such as `$argon2id$v=19$m=19456,t=2,p=1$…`.
    public static func hash(_ password: String) throws -> String {
        var salt = [UInt8](repeating: 0, count: saltLength)
        var generator = SystemRandomNumberGenerator()
        for index in salt.indices { salt[index] = generator.next() }
        let length = argon2_encodedlen(passes, memoryKiB, lanes, UInt32(saltLength), UInt32(hashLength), Argon2_id)
        var encoded = [CChar](repeating: 0, count: length)
        let bytes = Array(password.utf8)
        let result = argon2id_hash_encoded(passes, memoryKiB, lanes, bytes, bytes.count, salt, salt.count,
                                           hashLength, &encoded, encoded.count)
        guard result == ARGON2_OK.rawValue else { throw HashingFailed(code: result) }
        return String(cString: encoded)
    }

    /// Checks a password against an encoded hash (libargon2 compares in constant time).
    public static func verify(_ password: String, hash: String) -> Bool {
        let bytes = Array(password.utf8)
        return argon2id_verify(hash, bytes, bytes.count) == ARGON2_OK.rawValue
    }

    /// A real hash to verify against when the account does not exist, so that an
    /// unknown email costs the same time as a wrong password.
    public static let decoy: String = (try? hash("decoy-\(UUID().uuidString)")) ?? ""

    static let common: Set<String> = [
        "password", "password1", "password12", "password123", "password1234", "passw0rd123", "qwerty123",
        "qwertyuiop", "1234567890", "123456789a", "iloveyou12", "letmein123", "welcome123", "admin12345",
        "abc1234567", "1q2w3e4r5t", "qwerty12345", "football12", "monkey1234", "dragon1234", "sunshine12",
        "princess12", "trustno123", "baseball12", "superman12", "changeme123", "p@ssw0rd123",
    ]

    /// Why a password is not acceptable, in words a user understands; nil when it is fine.
    public static func problem(with password: String, username: String?, email: String?) -> String? {
        let length = password.count
        if length < 10 { return "must be at least 10 characters" }
        if length > 128 { return "must be at most 128 characters" }
        if !password.contains(where: \.isLetter) || !password.contains(where: \.isNumber) {
            return "must contain at least one letter and one digit"
        }
        let lowered = password.lowercased()
        if common.contains(lowered) { return "is too common; choose another" }
        if let username, username.count >= 3, lowered.contains(username.lowercased()) {
            return "must not contain your username"
        }
        if let local = email?.split(separator: "@").first, local.count >= 3, lowered.contains(local.lowercased()) {
            return "must not contain your email address"
        }
        if Set(password).count < 4 { return "must use more than a few different characters" }
        return nil
    }
}
