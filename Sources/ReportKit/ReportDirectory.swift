import Foundation
import PipelineKit
import Plotting

/// A report folder written beside its final place and swapped in only when complete, so a
/// failed or interrupted run leaves the previous report (or nothing) behind.
public struct ReportDirectory {
    public let target: String
    public let temporary: String

    public init(target: String) throws {
        self.target = target
        temporary = "\(target).partial-\(getpid())"
        try? FileManager.default.removeItem(atPath: temporary)
        do {
            try FileManager.default.createDirectory(atPath: "\(temporary)/figures", withIntermediateDirectories: true)
        } catch {
            throw StageError("\(target): cannot create the report folder \(temporary): \(error.localizedDescription)")
        }
    }

    /// Writes `text` to `relative` inside the folder.
    public func write(_ text: String, to relative: String) throws {
        let path = "\(temporary)/\(relative)"
        do {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: false, encoding: .utf8)
        } catch {
            throw StageError("\(path): cannot write: \(error.localizedDescription)")
        }
    }

    /// Writes `figure` as `figures/<name>.svg` and `figures/<name>.csv`; returns the relative stem.
    public func write(_ figure: Figure, named name: String) throws -> String {
        try write(figure.svg(), to: "figures/\(name).svg")
        try write(figure.csv(), to: "figures/\(name).csv")
        return "figures/\(name)"
    }

    /// Replaces `target` with the finished folder.
    public func commit() throws {
        let fm = FileManager.default
        let old = "\(target).old-\(getpid())"
        if fm.fileExists(atPath: target) {
            guard rename(target, old) == 0 else { throw StageError("\(target): cannot move the old report aside: \(StageError.systemMessage())") }
        }
        guard rename(temporary, target) == 0 else {
            let reason = StageError.systemMessage()
            _ = rename(old, target)
            throw StageError("\(target): cannot move the finished report into place: \(reason)")
        }
        try? fm.removeItem(atPath: old)
    }

    public func discard() { try? FileManager.default.removeItem(atPath: temporary) }

    /// Runs `body`, then commits; on an error removes the partial folder and rethrows.
    public static func write(to target: String, _ body: (ReportDirectory) throws -> Void) throws {
        let directory = try ReportDirectory(target: target)
        do {
            try body(directory)
            try directory.commit()
        } catch {
            directory.discard()
            throw error
        }
    }

    /// Total bytes of the files under `path`.
    public static func size(of path: String) -> Int {
        guard let files = FileManager.default.enumerator(atPath: path) else { return 0 }
        var total = 0
        for case let file as String in files {
            total += ((try? FileManager.default.attributesOfItem(atPath: "\(path)/\(file)"))?[.size] as? Int) ?? 0
        }
        return total
    }
}
