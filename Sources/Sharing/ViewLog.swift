import Data
import Foundation

/// The access log of share pages and embeds: one row per view, written after the page was
/// sent (the viewer never waits for it), counted on its link or widget in the same
/// statement. Raw addresses and user agents are cleared after the retention period.
public struct ViewLog {
    let db: Database
    let settings: SharingSettings

    public init(_ db: Database, settings: SharingSettings) {
        self.db = db
        self.settings = settings
    }

    /// The row for one view. `counted`: the view was counted already (links with
    /// `max_access` count before the page is drawn).
    public func entry(team: UUID, shareID: String? = nil, widgetID: String? = nil, address: String, userAgent: String?,
                      referer: String?, user: UUID?, counted: Bool) -> AccessLogEntry {
        let agent = userAgent.map { String($0.prefix(512)) }
        return AccessLogEntry(team: team, shareID: shareID, widgetID: widgetID, clientAddress: address.isEmpty ? nil : address,
                              userAgent: agent, referrer: ViewerHash.referrerOrigin(referer), user: user,
                              viewerHash: ViewerHash.compute(address: address, userAgent: agent ?? "", settings: settings),
                              count: !counted)
    }

    /// Writes the views; now and then also clears raw viewer data past the retention period.
    public func write(_ entries: [AccessLogEntry]) throws {
        try SharingRepository(db).record(entries)
        if Int.random(in: 0..<500) == 0 { try SharingRepository(db).forgetRawViewers(olderThanDays: settings.logRetentionDays) }
    }
}
