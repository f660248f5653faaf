import Foundation

/// Limits and places for uploads, resolved at start-up.
public struct DocumentSettings: Sendable {
    public var uploadsDirectory: String
    public var maxUploadBytes: Int
    public var maxPages: Int
    public var maxPixels: Int

    public init(uploadsDirectory: String = "var/uploads", maxUploadBytes: Int = 50 << 20, maxPages: Int = 500,
                maxPixels: Int = 100_000_000) {
        self.uploadsDirectory = uploadsDirectory
        self.maxUploadBytes = maxUploadBytes
        self.maxPages = maxPages
        self.maxPixels = maxPixels
    }
}
