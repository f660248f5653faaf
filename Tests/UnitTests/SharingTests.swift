import Data
import Foundation
import Sharing
import XCTest

/// Share ids, origins, durations, the viewer's cookie and the daily viewer hash, without a server.
final class SharingTests: XCTestCase {
    let settings = SharingSettings(secret: Array("0123456789abcdef0123456789abcdef".utf8), baseURL: "https://assay.example/")

    func testIDsAre256RandomBitsInBase64URL() {
        let ids = (0..<200).map { _ in ShareRules.newID() }
        XCTAssertEqual(Set(ids).count, 200)
        for id in ids {
            XCTAssertEqual(id.count, 43)
            XCTAssertTrue(ShareRules.isWellFormedID(id), id)
            XCTAssertNil(id.first { !($0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_")) })
        }
        // Every character of the alphabet turns up: the bits are spread, not a narrow range.
        XCTAssertEqual(Set(ids.joined()).count, 64)
        XCTAssertFalse(ShareRules.isWellFormedID(String(repeating: "a", count: 42)))
        XCTAssertFalse(ShareRules.isWellFormedID(String(repeating: "a", count: 42) + "/"))
        XCTAssertFalse(ShareRules.isWellFormedID(String(repeating: "é", count: 43)))
        XCTAssertEqual(settings.shareURL("x"), "https://assay.example/share/x")
    }

    func testOriginsAreSchemeHostAndPortOnly() {
        XCTAssertEqual(ShareRules.origin("https://Example.COM/"), "https://example.com")
        XCTAssertEqual(ShareRules.origin("http://127.0.0.1:8080"), "http://127.0.0.1:8080")
        XCTAssertEqual(ShareRules.origin("https://*.example.com"), "https://*.example.com")
        for bad in ["example.com", "https://example.com/path", "javascript:alert(1)", "https://exa mple.com", "https://a.com:99999",
                    "https://a.com;script-src", "https://*.com", "https://-a.com", "ftp://a.com", "https://a.com:80x", "https://"] {
            XCTAssertNil(ShareRules.origin(bad), bad)
        }
    }

    func testDurations() throws {
        XCTAssertEqual(try ShareRules.hours("24h"), 24)
        XCTAssertEqual(try ShareRules.hours("7d"), 168)
        XCTAssertEqual(try ShareRules.hours("90m"), 2)
        XCTAssertEqual(try ShareRules.hours("48"), 48)
        XCTAssertNil(try ShareRules.hours("none"))
        XCTAssertThrowsError(try ShareRules.hours("soon"))
        XCTAssertThrowsError(try ShareRules.hours("-3h"))
    }

    func testAPassOpensOnlyUnchangedAndUnexpired() {
        let now = Date()
        let user = UUID()
        let pass = ViewerPass(shareID: "link", epoch: 2, user: user, expiresAt: now.addingTimeInterval(3600))
        let sealed = pass.sealed(settings)
        XCTAssertEqual(ViewerPass.open(sealed, settings, now: now)?.user, user)
        XCTAssertEqual(ViewerPass.open(sealed, settings, now: now)?.epoch, 2)
        XCTAssertNil(ViewerPass.open(sealed, settings, now: now.addingTimeInterval(3601)), "expired")
        // Another key, a changed payload or signature: nothing.
        let other = SharingSettings(secret: Array("another secret of thirty-two bytes!".utf8), baseURL: "https://x")
        XCTAssertNil(ViewerPass.open(sealed, other, now: now))
        let forged = ViewerPass(shareID: "other", epoch: 2, user: user, expiresAt: now.addingTimeInterval(3600)).sealed(settings)
        let spliced = String(forged.split(separator: ".")[0]) + "." + String(sealed.split(separator: ".")[1])
        XCTAssertNil(ViewerPass.open(spliced, settings, now: now))
        XCTAssertNil(ViewerPass.open("garbage", settings, now: now))
        XCTAssertNil(ViewerPass.open(sealed + "x", settings, now: now))
        let cookie = pass.setCookie(settings, now: now)
        for part in ["assay_pass=", "Path=/share/link", "Max-Age=3600", "HttpOnly", "Secure", "SameSite=Lax"] {
            XCTAssertTrue(cookie.contains(part), cookie)
        }
        XCTAssertEqual(ViewerPass.cookie("assay_pass", in: "a=1; assay_pass=abc.def ; b=2"), ["abc.def"])
        XCTAssertEqual(ViewerPass.cookie("assay_pass", in: nil), [])
    }

    func testViewerHashesChangeEveryDayAndKeepNoAddress() {
        let day = Date(timeIntervalSince1970: 1_800_000_000)
        let a = ViewerHash.compute(address: "10.0.0.1", userAgent: "UA", settings: settings, now: day)
        XCTAssertEqual(a, ViewerHash.compute(address: "10.0.0.1", userAgent: "UA", settings: settings, now: day.addingTimeInterval(60)))
        XCTAssertNotEqual(a, ViewerHash.compute(address: "10.0.0.1", userAgent: "UA", settings: settings, now: day.addingTimeInterval(86_400)))
        XCTAssertNotEqual(a, ViewerHash.compute(address: "10.0.0.2", userAgent: "UA", settings: settings, now: day))
        XCTAssertNotEqual(a, ViewerHash.compute(address: "10.0.0.1", userAgent: "UB", settings: settings, now: day))
        XCTAssertEqual(a.count, 32)
        XCTAssertFalse(a.contains("10.0.0.1"))
        XCTAssertEqual(ViewerHash.referrerOrigin("https://Blog.Example.com:8443/post?token=secret"), "https://blog.example.com:8443")
        XCTAssertEqual(ViewerHash.referrerOrigin("http://user:pw@Intranet:80#x"), "http://intranet:80")
        XCTAssertEqual(ViewerHash.referrerOrigin("https://[::1]:9/"), "https://[::1]:9")
        XCTAssertNil(ViewerHash.referrerOrigin("android-app://x"))
        XCTAssertNil(ViewerHash.referrerOrigin("https://a b.example/"))
        XCTAssertNil(ViewerHash.referrerOrigin("https:///path"))
        XCTAssertNil(ViewerHash.referrerOrigin(nil))
    }

    /// The per-worker buffer of views: kept until a second old or forced out, a failed write
    /// keeps its views for the next try, nothing written twice.
    func testViewBufferWritesWhenDueOrForcedAndKeepsViewsAFailedWriteHad() {
        final class Sink: @unchecked Sendable {
            let lock = NSLock()
            var batches: [[AccessLogEntry]] = []
            var failNext = false
        }
        let sink = Sink()
        let buffer = ViewBuffer()
        let writer: ([AccessLogEntry]) throws -> Void = { batch in
            try sink.lock.withLock {
                if sink.failNext { sink.failNext = false; throw CocoaError(.fileWriteUnknown) }
                sink.batches.append(batch)
            }
        }
        nonisolated(unsafe) var errors = 0
        func view(_ n: Int) -> AccessLogEntry {
            AccessLogEntry(team: UUID(), shareID: "link\(n)", widgetID: nil, clientAddress: "127.0.0.1", userAgent: nil, referrer: nil,
                           user: nil, viewerHash: "h", count: true)
        }
        for n in 0..<3 { buffer.add(view(n), makeWriter: { writer }, onError: { _ in errors += 1 }) }
        buffer.flushReporting(force: false)
        XCTAssertTrue(sink.lock.withLock { sink.batches.isEmpty }, "three fresh views wait for more or for their second")
        sink.lock.withLock { sink.failNext = true }
        buffer.flushReporting(force: false, now: Date().addingTimeInterval(2))
        XCTAssertEqual(errors, 1)
        XCTAssertTrue(sink.lock.withLock { sink.batches.isEmpty })
        buffer.add(view(3), makeWriter: { writer }, onError: { _ in errors += 1 })
        buffer.flushReporting(force: true)
        XCTAssertEqual(sink.lock.withLock { sink.batches.map { $0.map(\.shareID) } }, [["link0", "link1", "link2", "link3"]])
        buffer.flushReporting(force: true)
        XCTAssertEqual(sink.lock.withLock { sink.batches.count }, 1, "an empty buffer writes nothing")
    }
}
