/// A dataset input is missing or malformed. Every case names the file, and the line
/// where there is one, so the user can fix the input.
public enum DatasetError: Error, CustomStringConvertible, Equatable {
    /// A required file or directory does not exist.
    case missingFile(path: String, what: String)
    /// A line that does not parse: wrong column count, bad number, id out of range, …
    case malformed(path: String, line: Int, reason: String)
    /// A whole-file problem (wrong row count, a class without images, …).
    case invalid(path: String, reason: String)
    /// An image that cannot be decoded (names the image and, when known, the list line citing it).
    case badImage(path: String, reason: String)
    /// Options that do not fit the data.
    case usage(String)

    public var description: String {
        switch self {
        case let .missingFile(path, what): "\(path): missing (\(what))"
        case let .malformed(path, line, reason): "\(path):\(line): \(reason)"
        case let .invalid(path, reason): "\(path): \(reason)"
        case let .badImage(path, reason): "\(path): bad image: \(reason)"
        case let .usage(message): message
        }
    }
}
