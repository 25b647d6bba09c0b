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
        Self.sweepStale(of: target)
        try? FileManager.default.removeItem(atPath: temporary)
        PartialOutputs.register(temporary)  // removed on SIGINT/SIGTERM
        do {
            try FileManager.default.createDirectory(atPath: "\(temporary)/figures", withIntermediateDirectories: true)
        } catch {
            throw StageError("\(target): cannot create the report folder \(temporary): \(error.localizedDescription)")
        }
    }

    /// Removes `<target>.partial-<pid>` and `<target>.old-<pid>` folders left by runs that
    /// were killed (their process no longer exists), printing one line each; folders of a
    /// live process are kept. An `.old-` folder is the previous report, moved aside a moment
    /// before the new one was renamed in: if the target is missing it is put back instead.
    static func sweepStale(of target: String) {
        let fm = FileManager.default
        let directory = (target as NSString).deletingLastPathComponent, name = (target as NSString).lastPathComponent
        guard let names = try? fm.contentsOfDirectory(atPath: directory.isEmpty ? "." : directory) else { return }
        for entry in names.sorted() {
            for kind in ["partial", "old"] where entry.hasPrefix("\(name).\(kind)-") {
                guard let pid = Int32(entry.dropFirst(name.count + kind.count + 2)), pid != getpid(),
                      !OutputPaths.processExists(pid) else { continue }
                let path = (directory as NSString).appendingPathComponent(entry)
                if kind == "old" && !fm.fileExists(atPath: target) && rename(path, target) == 0 {
                    Log.info("restored \(target) from \(path), left by process \(pid), which no longer runs")
                } else if (try? fm.removeItem(atPath: path)) != nil {
                    Log.info("removed \(path), left by process \(pid), which no longer runs")
                }
            }
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
        PartialOutputs.unregister(temporary)
        try? fm.removeItem(atPath: old)
    }

    public func discard() {
        try? FileManager.default.removeItem(atPath: temporary)
        PartialOutputs.unregister(temporary)
    }

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
