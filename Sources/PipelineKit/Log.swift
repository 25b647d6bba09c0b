import Foundation

/// Messages for people go to stderr (results go to files); one line per call.
public enum Log {
    /// Whether `verbose` messages are shown; set from `--verbose`.
    nonisolated(unsafe) public static var isVerbose = false
    /// Whether `info`, `verbose` and progress lines are suppressed (the non-zero ranks of
    /// a data-parallel job, whose rank 0 reports); warnings still show.
    nonisolated(unsafe) public static var isQuiet = false
    private static let lock = NSLock()

    /// A progress or status line.
    public static func info(_ message: String) { if !isQuiet { write(message) } }

    /// Detail shown only with `--verbose`.
    public static func verbose(_ message: @autoclosure () -> String) {
        if isVerbose && !isQuiet { write(message()) }
    }

    /// Something the user should look at; the run goes on.
    public static func warning(_ message: String) { write("warning: \(message)") }

    /// Writes raw text (no newline added) to stderr.
    public static func raw(_ text: String) {
        lock.lock()
        defer { lock.unlock() }
        FileHandle.standardError.write(Data(text.utf8))
    }

    private static func write(_ message: String) { raw(message + "\n") }
}

/// A user-facing failure of a stage: bad input, inconsistent files, impossible settings.
/// The message names the file and the object concerned.
public struct StageError: Error, CustomStringConvertible, LocalizedError {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
    public var errorDescription: String? { message }

    /// The system's words for an errno value (`strerror`), by default the current `errno`.
    public static func systemMessage(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }
}
