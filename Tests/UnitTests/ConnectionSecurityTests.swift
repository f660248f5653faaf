import Credentials
import Foundation
import Connectors
import Handlers
import XCTest

/// Connection secrets at rest and the policy on which hosts a connection may reach.
final class ConnectionSecurityTests: XCTestCase {
    let keyA = Data(repeating: 1, count: 32).base64EncodedString()
    let keyB = Data(repeating: 2, count: 32).base64EncodedString()

    func testSealedSecretOpensOnlyWithItsKeyAndRow() throws {
        let cipher = try CredentialCipher(currentBase64: keyA)
        let row = UUID(), other = UUID()
        let (keyID, sealed) = try cipher.seal(Array("hunter2".utf8), boundTo: row)
        XCTAssertEqual(keyID, cipher.currentKeyID)
        XCTAssertNil(String(bytes: sealed, encoding: .utf8).flatMap { $0.contains("hunter2") ? $0 : nil })
        XCTAssertEqual(try cipher.open(sealed, keyID: keyID, boundTo: row), Array("hunter2".utf8))
        // Copied to another row, or tampered with, it does not open.
        XCTAssertThrowsError(try cipher.open(sealed, keyID: keyID, boundTo: other))
        var tampered = sealed
        tampered[tampered.count - 1] ^= 1
        XCTAssertThrowsError(try cipher.open(tampered, keyID: keyID, boundTo: row))
        // Two seals of the same secret differ (a fresh nonce each time).
        XCTAssertNotEqual(try cipher.seal(Array("hunter2".utf8), boundTo: row).ciphertext, sealed)
    }

    func testRotationKeepsOldSecretsReadable() throws {
        let old = try CredentialCipher(currentBase64: keyA)
        let row = UUID()
        let (oldID, sealed) = try old.seal(Array("s3cret".utf8), boundTo: row)
        let rotated = try CredentialCipher(currentBase64: keyB, previousBase64: [keyA])
        XCTAssertNotEqual(rotated.currentKeyID, oldID)
        XCTAssertEqual(try rotated.open(sealed, keyID: oldID, boundTo: row), Array("s3cret".utf8))
        let withoutOld = try CredentialCipher(currentBase64: keyB)
        XCTAssertThrowsError(try withoutOld.open(sealed, keyID: oldID, boundTo: row))
    }

    func testMalformedKeysAreRefusedByName() {
        for bad in ["", "not base64!", Data(repeating: 1, count: 16).base64EncodedString()] {
            XCTAssertThrowsError(try CredentialCipher(currentBase64: bad)) { error in
                XCTAssertTrue("\(error)".contains("ENCRYPTION_KEY"), "\(error)")
            }
        }
        XCTAssertThrowsError(try CredentialCipher(currentBase64: keyA, previousBase64: ["short"])) { error in
            XCTAssertTrue("\(error)".contains("ENCRYPTION_KEY_PREVIOUS"), "\(error)")
        }
    }

    func testSocketsListsAndOddHostsAreRefused() {
        for host in ["/var/run/postgresql", "@abstract", "", "a,b", "host name", "x=y", "./sock"] {
            XCTAssertThrowsError(try ConnectionPolicy.checkSyntax(host), host)
        }
        XCTAssertNoThrow(try ConnectionPolicy.checkSyntax("db.example.com"))
        XCTAssertNoThrow(try ConnectionPolicy.checkSyntax("10.1.2.3"))
        XCTAssertNoThrow(try ConnectionPolicy.checkSyntax("::1"))
    }

    func testDenyAndAllowListsByCIDRAndName() throws {
        let policy = try ConnectionPolicy(deny: "10.0.0.0/8, blocked.example", allow: "", ownDatabases: [])
        XCTAssertThrowsError(try policy.check(host: "10.20.30.40", port: 5432))
        XCTAssertThrowsError(try policy.check(host: "BLOCKED.example", port: 5432))
        XCTAssertEqual(try policy.check(host: "127.0.0.1", port: 5432), ["127.0.0.1"])
        XCTAssertEqual(try policy.check(host: "11.0.0.1", port: 5432), ["11.0.0.1"])
        let allowOnly = try ConnectionPolicy(deny: "", allow: "192.168.1.0/24", ownDatabases: [])
        XCTAssertNoThrow(try allowOnly.check(host: "192.168.1.77", port: 3306))
        XCTAssertThrowsError(try allowOnly.check(host: "192.168.2.1", port: 3306))
        XCTAssertThrowsError(try allowOnly.check(host: "127.0.0.1", port: 3306))
        // The default denies link-local (cloud metadata) addresses.
        let defaults = try ConnectionPolicy(deny: ConnectionPolicy.defaultDeny, allow: "", ownDatabases: [])
        XCTAssertThrowsError(try defaults.check(host: "169.254.169.254", port: 80))
        XCTAssertThrowsError(try defaults.check(host: "fe80::1", port: 5432))
        XCTAssertNoThrow(try defaults.check(host: "::1", port: 5432))
        XCTAssertThrowsError(try ConnectionPolicy(deny: "10.0.0.0/99", allow: "", ownDatabases: []))
    }

    func testNoSpellingOfADeniedAddressEscapesTheRule() throws {
        let policy = try ConnectionPolicy(deny: "127.0.0.1/32", allow: "", ownDatabases: [])
        for host in ["127.0.0.1", "::ffff:127.0.0.1", "::ffff:7f00:1", "0:0:0:0:0:ffff:7f00:1", "0.0.0.0", "::",
                     "::127.0.0.1", "::1", "localhost"] {
            XCTAssertThrowsError(try policy.check(host: host, port: 5432), host)
        }
        XCTAssertNoThrow(try policy.check(host: "::ffff:10.1.2.3", port: 5432))
        XCTAssertNoThrow(try policy.check(host: "127.0.0.2", port: 5432)) // another address of the machine
        let other = try ConnectionPolicy(deny: "127.0.0.2/32", allow: "", ownDatabases: [])
        XCTAssertThrowsError(try other.check(host: "::ffff:127.0.0.2", port: 5432))
        XCTAssertNoThrow(try other.check(host: "127.0.0.1", port: 5432))
        let defaults = try ConnectionPolicy(deny: ConnectionPolicy.defaultDeny, allow: "", ownDatabases: [])
        for host in ["::ffff:169.254.169.254", "::ffff:a9fe:a9fe", "0:0:0:0:0:ffff:a9fe:a9fe", "::169.254.169.254"] {
            XCTAssertThrowsError(try defaults.check(host: host, port: 80), host)
        }
        // A rule written as a mapped network is the IPv4 network.
        let mappedRule = try ConnectionPolicy(deny: "::ffff:10.0.0.0/104", allow: "", ownDatabases: [])
        XCTAssertThrowsError(try mappedRule.check(host: "10.9.8.7", port: 5432))
    }

    func testAddressesAreJudgedAndReturnedInTheirCanonicalSpelling() throws {
        XCTAssertEqual(ConnectionPolicy.canonical("::ffff:7f00:1"), "127.0.0.1")
        XCTAssertEqual(ConnectionPolicy.canonical("0:0:0:0:0:ffff:a9fe:a9fe"), "169.254.169.254")
        XCTAssertEqual(ConnectionPolicy.canonical("0.0.0.0"), "127.0.0.1")
        XCTAssertEqual(ConnectionPolicy.canonical("::"), "::1")
        XCTAssertEqual(ConnectionPolicy.canonical("::1"), "::1")
        XCTAssertEqual(ConnectionPolicy.canonical("2001:db8::1"), "2001:db8::1")
        let allowOnly = try ConnectionPolicy(deny: "", allow: "127.0.0.1", ownDatabases: [])
        XCTAssertEqual(try allowOnly.check(host: "::ffff:127.0.0.1", port: 5432), ["127.0.0.1"])
        XCTAssertThrowsError(try allowOnly.check(host: "::ffff:127.0.0.2", port: 5432))
        let own = try ConnectionPolicy(deny: "", allow: "", ownDatabases: [("127.0.0.1", 6543)])
        XCTAssertThrowsError(try own.check(host: "::ffff:127.0.0.1", port: 6543))
        XCTAssertThrowsError(try own.check(host: "0.0.0.0", port: 6543))
    }

    func testAssaysOwnDatabaseIsRefused() throws {
        let own = ConnectionPolicy.endpoints(ofDatabaseURL: "postgresql://assay:pw@127.0.0.1:6543/assay")
        XCTAssertEqual(own.map(\.host), ["127.0.0.1"])
        let policy = try ConnectionPolicy(deny: "", allow: "", ownDatabases: own)
        XCTAssertThrowsError(try policy.check(host: "127.0.0.1", port: 6543))
        XCTAssertNoThrow(try policy.check(host: "127.0.0.1", port: 6544))
        XCTAssertEqual(ConnectionPolicy.endpoints(ofDatabaseURL: "host=db.internal port=7000 dbname=x").map(\.port), [7000])
        XCTAssertTrue(ConnectionPolicy.endpoints(ofDatabaseURL: "postgresql:///assay?host=/run/pg").isEmpty)
    }
}
