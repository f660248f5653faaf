/// Assay's release version and the API generation it serves.
public enum AssayVersion {
    public static let current = "0.1.0"
    public static let api = "v1"
}
