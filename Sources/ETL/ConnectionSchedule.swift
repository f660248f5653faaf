import Data
import Foundation

/// A connection's `sync_frequency` (`hourly`, `daily`, `weekly`; `manual` = none) owns one
/// schedule of that connection (`from_connection`): all tables, full refresh, UTC when it is
/// made. Saving the connection creates, changes or deletes it; changing that schedule's
/// frequency or deleting it changes the connection's `sync_frequency` (ETLRoutes).
public enum ConnectionSchedule {
    /// Makes `connection`'s schedule match its `sync_frequency`; returns the schedule, if any.
    /// The schedule's time zone and `enabled` (its owners may change them) are kept.
    @discardableResult
    public static func keepInStep(_ connection: ConnectionRecord, user: UUID?, db: Database,
                                  now: Date = Date()) throws -> ETLScheduleRecord? {
        let schedules = ETLRepository(db)
        guard connection.syncFrequency != "manual" else {
            try schedules.deleteConnectionSchedule(connection: connection.id)
            return nil
        }
        let existing = try schedules.connectionSchedule(connection: connection.id)
        if let existing, existing.frequency == connection.syncFrequency { return existing }
        let rule = try ScheduleRule(frequency: connection.syncFrequency, cron: nil, timezone: existing?.timezone ?? "UTC")
        return try schedules.saveConnectionSchedule(
            team: connection.teamID, user: user, connection: connection.id, name: "\(connection.name) (sync_frequency)",
            frequency: connection.syncFrequency, nextRunAt: existing?.enabled == false ? nil : rule.next(after: now))
    }
}
