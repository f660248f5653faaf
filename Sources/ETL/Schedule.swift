import Data
import Foundation
import JSONValues

/// When a schedule runs: a frequency (`hourly`, `daily`, `weekly`) or a five-field cron
/// expression (minute hour day-of-month month day-of-week; `*`, lists, ranges, steps),
/// in a time zone.
public struct ScheduleRule {
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public let frequency: String?
    let cron: Cron?
    public let timeZone: TimeZone

    public init(frequency: String?, cron: String?, timezone: String) throws {
        guard let zone = TimeZone(identifier: timezone) else {
            throw Invalid(description: "is not a time zone name such as UTC or Europe/Berlin")
        }
        timeZone = zone
        if let frequency {
            guard ["hourly", "daily", "weekly"].contains(frequency) else { throw Invalid(description: "must be hourly, daily or weekly") }
        }
        self.frequency = frequency
        self.cron = try cron.map(Cron.init)
    }

    public var calendar: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        return calendar
    }

    /// The first run strictly after `date`. Missed runs are not replayed: the next run
    /// is always computed from now, so a schedule that was due several times while Assay
    /// was down runs once.
    public func next(after date: Date) -> Date? {
        let calendar = self.calendar
        switch frequency {
        case "hourly":
            return calendar.nextDate(after: date, matching: DateComponents(minute: 0, second: 0), matchingPolicy: .nextTime)
        case "daily":
            return calendar.nextDate(after: date, matching: DateComponents(hour: 0, minute: 0, second: 0), matchingPolicy: .nextTime)
        case "weekly":
            return calendar.nextDate(after: date, matching: DateComponents(hour: 0, minute: 0, second: 0, weekday: 2),
                                     matchingPolicy: .nextTime)
        default:
            return cron?.next(after: date, calendar: calendar)
        }
    }
}

/// A parsed five-field cron expression.
struct Cron {
    public let minutes: Set<Int>, hours: Set<Int>, days: Set<Int>, months: Set<Int>, weekdays: Set<Int>
    let daysRestricted: Bool, weekdaysRestricted: Bool

    public init(_ text: String) throws {
        let fields = text.split(whereSeparator: \.isWhitespace).map(String.init)
        guard fields.count == 5 else {
            throw ScheduleRule.Invalid(description: "must have five fields: minute hour day-of-month month day-of-week")
        }
        minutes = try Cron.parse(fields[0], 0...59, name: "minute")
        hours = try Cron.parse(fields[1], 0...23, name: "hour")
        days = try Cron.parse(fields[2], 1...31, name: "day of month")
        months = try Cron.parse(fields[3], 1...12, name: "month")
        // 0 and 7 are both Sunday.
        weekdays = Set(try Cron.parse(fields[4], 0...7, name: "day of week").map { $0 % 7 })
        daysRestricted = fields[2] != "*"
        weekdaysRestricted = fields[4] != "*"
    }

    public static func parse(_ field: String, _ range: ClosedRange<Int>, name: String) throws -> Set<Int> {
        var values: Set<Int> = []
        for part in field.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else { throw ScheduleRule.Invalid(description: "has a bad \(name) field '\(field)'") }
            let step = pieces.count == 2 ? Int(pieces[1]) : 1
            guard let step, step > 0 else { throw ScheduleRule.Invalid(description: "has a bad step in the \(name) field") }
            var bounds = range
            if pieces[0] != "*" {
                let ends = pieces[0].split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
                guard (1...2).contains(ends.count), let low = ends[0], let high = ends.count == 2 ? ends[1] : (pieces.count == 2 ? range.upperBound : low),
                      range.contains(low), range.contains(high), low <= high else {
                    throw ScheduleRule.Invalid(description: "has a \(name) outside \(range.lowerBound)-\(range.upperBound) in '\(field)'")
                }
                bounds = low...high
            }
            values.formUnion(stride(from: bounds.lowerBound, through: bounds.upperBound, by: step))
        }
        return values
    }

    public func matches(day: Int, weekday: Int) -> Bool {
        // Standard cron: when both are restricted, either may match.
        switch (daysRestricted, weekdaysRestricted) {
        case (true, true): return days.contains(day) || weekdays.contains(weekday)
        case (true, false): return days.contains(day)
        case (false, true): return weekdays.contains(weekday)
        case (false, false): return true
        }
    }

    public func next(after date: Date, calendar: Calendar) -> Date? {
        guard var candidate = calendar.date(byAdding: .minute, value: 1, to: date),
              let start = calendar.dateInterval(of: .minute, for: candidate)?.start else { return nil }
        candidate = start
        // At most ~4 years of days; each step jumps to the next possible day or hour.
        for _ in 0..<200_000 {
            let parts = calendar.dateComponents([.month, .day, .hour, .minute, .weekday], from: candidate)
            guard let month = parts.month, let day = parts.day, let hour = parts.hour, let minute = parts.minute,
                  let weekday = parts.weekday else { return nil }
            if !months.contains(month) || !matches(day: day, weekday: weekday - 1) {
                guard let nextDay = calendar.date(byAdding: .day, value: 1, to: calendar.startOfDay(for: candidate)) else { return nil }
                candidate = nextDay
                continue
            }
            if !hours.contains(hour) {
                guard let hourStart = calendar.dateInterval(of: .hour, for: candidate)?.start,
                      let nextHour = calendar.date(byAdding: .hour, value: 1, to: hourStart) else { return nil }
                candidate = nextHour
                continue
            }
            if !minutes.contains(minute) {
                guard let nextMinute = calendar.date(byAdding: .minute, value: 1, to: candidate) else { return nil }
                candidate = nextMinute
                continue
            }
            return candidate
        }
        return nil
    }
}

/// Turns due schedules into ETL runs; called by every job worker between jobs. Row locks
/// (SKIP LOCKED) make a due schedule one run even with several workers, and the next run
/// is computed from now, so runs missed while Assay was down run once, not once each.
public enum ETLScheduler {
    public static func tick(_ db: Database) throws -> Int {
        try db.transaction { db in
            let due = try ETLRepository(db).claimDueSchedules(limit: 20)
            for schedule in due {
                var job: UUID?
                if let connection = try ConnectionRepository(db).find(id: schedule.connectionID, team: schedule.teamID) {
                    let selection = (try? JSON.parse(Array(schedule.tables.utf8))) ?? ["tables": "all"]
                    job = try ETLSync.enqueue(db, connection: connection, selection: selection, schedule: schedule.id, user: nil).id
                }
                let rule = try? ScheduleRule(frequency: schedule.frequency, cron: schedule.cron, timezone: schedule.timezone)
                try ETLRepository(db).scheduleFired(id: schedule.id, job: job, nextRunAt: rule?.next(after: Date()))
            }
            return due.count
        }
    }
}
