import Foundation

/// Names of an output's companion files (`.lock`, `.checkpoint`, `.partial-<pid>-<n>`),
/// all in the output's own directory, and the sweep of partial files left by killed runs.
///
/// Companions are named `<stem>.<suffix>` where the stem is the output's file name, or, for
/// a name longer than `maximumStemBytes` bytes, a prefix of it plus a hash of the whole
/// name: so every companion stays under NAME_MAX (255 bytes) for any output name that is
/// itself valid, and distinct outputs never share companions.
public enum OutputPaths {
    /// Longest stem kept as it is; the longest suffix (`.partial-<pid>-<u32>`) is 26 bytes.
    public static let maximumStemBytes = 200

    /// The directory part of `path` ("" for a bare file name, "/" for a file in the root).
    /// Plain string handling: Foundation's `deletingLastPathComponent` traps on some
    /// one-character paths on Linux.
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        let directory = String(path[..<slash])
        return directory.isEmpty ? "/" : directory
    }

    /// Creates the folder `target` will be written in (with its parents), or throws naming both.
    public static func createDirectory(of target: String) throws {
        let directory = directory(of: target)
        guard !directory.isEmpty else { return }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw StageError("\(target): cannot create the output directory \(directory): \(error.localizedDescription)")
        }
    }

    /// The last path component of `path`.
    public static func fileName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// `name` inside `directory` ("" meaning the current directory).
    public static func join(_ directory: String, _ name: String) -> String {
        directory.isEmpty ? name : directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// The output's file name, shortened with a hash when too long to take a suffix.
    public static func stem(of target: String) -> String {
        let name = fileName(of: target)
        guard name.utf8.count > maximumStemBytes else { return name }
        var prefix = ""
        for character in name where prefix.utf8.count + character.utf8.count <= maximumStemBytes - 40 {
            prefix.append(character)
        }
        return prefix + "~" + String(SHA256.hex(Array(name.utf8)).prefix(16))
    }

    /// The companion file `<stem>.<suffix>` beside `target`.
    public static func companion(of target: String, _ suffix: String) -> String {
        join(directory(of: target), stem(of: target) + "." + suffix)
    }

    /// The work file or checkpoint of `target`, kept between interrupted runs.
    public static func checkpoint(of target: String) -> String { companion(of: target, "checkpoint") }

    /// The lock file of `target` (see `OutputLock`).
    public static func lock(of target: String) -> String { companion(of: target, "lock") }

    /// A fresh partial-file path for `target` owned by this process:
    /// `<stem>.partial-<pid>-<random>`.
    public static func partial(of target: String) -> String {
        companion(of: target, "partial-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    }

    /// Removes partial files of `target` whose writer process no longer exists (a run that
    /// was killed with SIGKILL, or died, before it could clean up), printing one line per
    /// file. A partial of a live process, this one included, is never touched; a pid that
    /// was reused by another process keeps its file until that process is gone too.
    /// Returns the paths removed.
    @discardableResult
    public static func sweepStalePartials(of target: String) -> [String] {
        let directory = directory(of: target)
        let prefix = stem(of: target) + ".partial-"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.isEmpty ? "." : directory) else {
            return []
        }
        var removed: [String] = []
        for name in names where name.hasPrefix(prefix) {
            let rest = name.dropFirst(prefix.count)
            guard let pid = Int32(rest.prefix { $0 != "-" }), pid > 0, pid != getpid(), !processExists(pid) else { continue }
            let path = join(directory, name)
            if unlink(path) == 0 {
                Log.info("removed \(path), a partial output left by process \(pid), which no longer runs")
                removed.append(path)
            }
        }
        return removed
    }

    /// Whether a process with this pid exists (EPERM means it exists but is not ours).
    public static func processExists(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno != ESRCH
    }
}
