import Data
import Foundation

/// What the database said about a session or an API key, kept per worker so that an
/// authenticated request needs no round trip for it.
///
/// Correctness first: every entry is dropped the moment the pool's access generation
/// (`PoolStatus.accessGeneration`, a counter in the scoreboard's shared memory) moves. Each
/// worker bumps it after any request that may have changed a session, a token, a user, an API
/// key, a team or a membership — every request that is not a GET, HEAD or OPTIONS — before its
/// response leaves (FastCGIWorker); so once a client has the answer to a logout, a key deletion
/// or a password change, no worker of this pool answers from what it kept before. An entry read
/// from the database while the generation moved is not kept (the change may have committed just
/// after the read). What does not pass through this pool (another host on the same database,
/// SQL by hand) is seen within `lifetime` seconds (`ASSAY_AUTH_CACHE_SECONDS`; 0 turns the
/// cache off).
final class AccessCache {
    struct TokenKey: Hashable {
        let session: UUID
        let jti: UUID
        let user: UUID
        let team: UUID
    }

    private struct TokenEntry {
        let check: AccessCheck
        let stored: TimeInterval
    }

    private struct KeyEntry {
        let found: ApiKeyAuth
        let stored: TimeInterval
        /// When this worker last stamped the key's use (the record's stamp is as old as the entry).
        var touched: Date?
    }

    /// Entries of each kind kept at most; past it the kind starts afresh.
    static let capacity = 10_000

    let lifetime: TimeInterval
    private var generation: UInt64 = 0
    private var tokens: [TokenKey: TokenEntry] = [:]
    private var keys: [String: KeyEntry] = [:]

    init(lifetime: TimeInterval) {
        self.lifetime = lifetime
    }

    private static var now: TimeInterval { ProcessInfo.processInfo.systemUptime }

    /// Forgets everything when the pool's generation moved; returns the generation to store under.
    func synchronize(_ current: UInt64) -> UInt64 {
        if current != generation {
            tokens.removeAll(keepingCapacity: true)
            keys.removeAll(keepingCapacity: true)
            generation = current
        }
        return current
    }

    func check(_ key: TokenKey) -> AccessCheck? {
        guard let entry = tokens[key] else { return nil }
        guard AccessCache.now - entry.stored < lifetime else {
            tokens[key] = nil
            return nil
        }
        return entry.check
    }

    /// Keeps `check`, read at generation `readAt`, unless the generation is `current` no longer.
    func store(_ check: AccessCheck, for key: TokenKey, readAt: UInt64, current: UInt64) {
        guard lifetime > 0, readAt == current, readAt == generation else { return }
        if tokens.count >= AccessCache.capacity { tokens.removeAll(keepingCapacity: true) }
        tokens[key] = TokenEntry(check: check, stored: AccessCache.now)
    }

    /// The API key found under a public prefix, and when this worker last stamped its use.
    func apiKey(prefix: String) -> (found: ApiKeyAuth, touched: Date?)? {
        guard let entry = keys[prefix] else { return nil }
        guard AccessCache.now - entry.stored < lifetime else {
            keys[prefix] = nil
            return nil
        }
        return (entry.found, entry.touched)
    }

    func store(_ found: ApiKeyAuth, prefix: String, readAt: UInt64, current: UInt64) {
        guard lifetime > 0, readAt == current, readAt == generation else { return }
        if keys.count >= AccessCache.capacity { keys.removeAll(keepingCapacity: true) }
        keys[prefix] = KeyEntry(found: found, stored: AccessCache.now, touched: nil)
    }

    func touched(prefix: String, at date: Date) {
        keys[prefix]?.touched = date
    }
}
