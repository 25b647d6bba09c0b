import Foundation
import XCTest

/// Small tmpfs mounts for full-disk tests. Mounting needs root: as any other user the test
/// is skipped with the reason printed (CI runs as root, so there they run).
public enum TestMounts {
    /// Mounts a tmpfs of `size` (e.g. "64k") at `path`, creating the directory.
    public static func tmpfs(at path: String, size: String) throws {
        guard getuid() == 0 else { throw XCTSkip("full-disk test skipped: mounting a tmpfs needs root") }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", path]) == 0 else {
            throw XCTSkip("full-disk test skipped: cannot mount a tmpfs at \(path) (no mount privilege in this container?)")
        }
    }

    /// Changes the size of a tmpfs mounted by `tmpfs(at:size:)` (frees space without unmounting).
    public static func resize(_ path: String, to size: String) throws {
        guard run("/bin/mount", ["-o", "remount,size=\(size)", path]) == 0 else {
            throw XCTSkip("cannot resize the tmpfs at \(path)")
        }
    }

    /// Unmounts (lazily, so an open file cannot keep it busy).
    public static func unmount(_ path: String) {
        _ = run("/bin/umount", ["-l", path])
    }

    private static func run(_ executable: String, _ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
