import Foundation

/// An exclusive lock on one output (and with it the output's checkpoint or work file):
/// `flock` on `<output>.lock` in the output's directory, holding the owner's pid. Taken by
/// `StageRun` before the stage reads its checkpoint or writes anything, and kept until the
/// process ends (the lock file is removed then; after SIGKILL the kernel drops the lock and
/// the next run takes it over). A second run on the same output fails at once, naming the
/// output and the pid holding it. Locks are per process: taking the same one again is a no-op.
public enum OutputLock {
    private static let lock = NSLock()
    /// Lock-file path → open descriptor holding the flock.
    nonisolated(unsafe) private static var held: [String: Int32] = [:]
    private static let cleanupInstalled: Bool = {
        atexit { OutputLock.releaseAll() }
        return true
    }()

    /// Takes the lock of `target`, creating its directory if needed; throws if another
    /// process holds it.
    public static func acquire(for target: String) throws {
        let path = OutputPaths.lock(of: target)
        lock.lock()
        defer { lock.unlock() }
        _ = cleanupInstalled
        guard held[path] == nil else { return }
        try OutputPaths.createDirectory(of: target)
        // A holder removes the file when it ends; a lock won on a file that was removed (or
        // replaced) meanwhile guards nothing, so open the path again.
        for _ in 0..<8 {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw StageError("\(target): cannot create the lock file \(path): \(StageError.systemMessage())")
            }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                let reason = errno
                let holder = ownerPid(fd)
                close(fd)
                guard reason == EWOULDBLOCK else {
                    throw StageError("\(target): cannot lock \(path): \(StageError.systemMessage(reason))")
                }
                throw StageError("\(target): another run\(holder.map { " (pid \($0))" } ?? "") is writing this output "
                                 + "(lock \(path) is held); wait for it to finish or stop it, then run again")
            }
            var opened = stat(), current = stat()
            guard fstat(fd, &opened) == 0, stat(path, &current) == 0,
                  opened.st_dev == current.st_dev, opened.st_ino == current.st_ino else {
                close(fd)
                continue
            }
            let text = Array("\(getpid())\n".utf8)
            _ = ftruncate(fd, 0)
            _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            held[path] = fd
            return
        }
        throw StageError("\(target): cannot take the lock \(path): it keeps being replaced by other runs")
    }

    /// Whether this process holds the lock of `target`.
    public static func isHeld(for target: String) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return held[OutputPaths.lock(of: target)] != nil
    }

    /// Releases the lock of `target` and removes its lock file (for long-lived processes
    /// and tests; stage executables keep their locks until they exit).
    public static func release(for target: String) {
        lock.lock()
        defer { lock.unlock() }
        let path = OutputPaths.lock(of: target)
        guard let fd = held.removeValue(forKey: path) else { return }
        unlink(path)  // while still holding it: nobody else can be using this file
        close(fd)
    }

    /// Releases every lock of this process; called at exit and on SIGINT / SIGTERM.
    /// Does not take the registry lock if it is busy (a signal may arrive while it is held).
    static func releaseAll() {
        guard lock.try() else { return }
        defer { lock.unlock() }
        for (path, fd) in held {
            unlink(path)
            close(fd)
        }
        held.removeAll()
    }

    /// The pid written in a lock file by its holder, if readable.
    private static func ownerPid(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        return Int32(String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
