import Foundation

/// Progress of a long loop on stderr: a redrawn bar with rate and ETA on a terminal,
/// plain lines every `interval` seconds otherwise (logs, make, CI).
public final class Progress {
    public let label: String
    public let total: Int
    public let unit: String
    private let start = Date()
    private var done = 0
    private var lastPrint = Date.distantPast
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private let interval: TimeInterval
    private let lock = NSLock()

    /// `total` items of `unit` (e.g. "img"); `interval` is the seconds between plain lines.
    public init(_ label: String, total: Int, unit: String = "img", interval: TimeInterval = 10) {
        self.label = label
        self.total = max(0, total)
        self.unit = unit
        self.interval = interval
    }

    /// Records `count` more items done.
    public func advance(by count: Int = 1) {
        lock.lock()
        defer { lock.unlock() }
        done = min(total, done + count)
        let now = Date()
        let due = now.timeIntervalSince(lastPrint) >= (isTerminal ? 0.2 : interval)
        if due && done < total {
            lastPrint = now
            emit(final: false)
        }
    }

    /// Prints the closing line with the total time and rate.
    public func finish() {
        lock.lock()
        defer { lock.unlock() }
        emit(final: true)
    }

    /// Items per second so far.
    public var rate: Double {
        let elapsed = Date().timeIntervalSince(start)
        return elapsed > 0 ? Double(done) / elapsed : 0
    }

    private func emit(final: Bool) {
        if Log.isQuiet { return }
        let elapsed = Date().timeIntervalSince(start)
        let rateText = String(format: "%.1f %@/s", rate, unit)
        let percent = total > 0 ? Double(done) / Double(total) : 1
        if final {
            let line = "\(label): \(done)/\(total) \(unit) in \(Self.clock(elapsed)) (\(rateText))"
            Log.raw(isTerminal ? "\r\u{1B}[2K" + line + "\n" : line + "\n")
            return
        }
        let remaining = rate > 0 ? Double(total - done) / rate : .nan
        let eta = remaining.isFinite ? Self.clock(remaining) : "?"
        if isTerminal {
            let width = 30
            let filled = Int(percent * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            Log.raw(String(format: "\r\u{1B}[2K%@ %@ %3.0f%% %d/%d %@ ETA %@", label, bar, percent * 100, done, total, rateText, eta))
        } else {
            Log.raw(String(format: "%@: %3.0f%% %d/%d %@, ETA %@\n", label, percent * 100, done, total, rateText, eta))
        }
    }

    /// `h:mm:ss` or `m:ss`.
    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
