import Foundation

/// Output written to `<target>.partial-<pid>-<n>` (see `OutputPaths.partial`) and renamed
/// onto `target` only on success,
/// so an interrupted or failed stage never leaves a half-written artifact and never
/// touches an existing good one. Partial files are removed on failure, and on SIGINT /
/// SIGTERM by the handler that `AtomicOutput` installs.
public final class AtomicOutput {
    /// Where the finished artifact goes.
    public let target: String
    /// Where it is written meanwhile (same directory, so the rename is atomic).
    public let temporaryPath: String
    private var finished = false

    /// Reserves a temporary path beside `target`, creating the parent directory.
    public init(target: String) throws {
        self.target = target
        try OutputPaths.createDirectory(of: target)
        temporaryPath = OutputPaths.partial(of: target)
        PartialFiles.shared.register(temporaryPath)
    }

    /// Moves the finished temporary file onto the target (atomically replacing it).
    public func commit() throws {
        precondition(!finished, "AtomicOutput committed or discarded twice")
        guard rename(temporaryPath, target) == 0 else {
            let reason = StageError.systemMessage()
            discard()
            throw StageError("\(target): cannot move the finished output into place: \(reason)")
        }
        finished = true
        PartialFiles.shared.unregister(temporaryPath)
    }

    /// Renames a finished file onto `target` in one step (same directory), for stages that
    /// keep their own resumable work file instead of a partial that is removed on SIGINT.
    public static func publish(_ path: String, to target: String) throws {
        guard rename(path, target) == 0 else {
            throw StageError("\(target): cannot move the finished output \(path) into place: \(StageError.systemMessage())")
        }
    }

    /// Removes the temporary file; the target is left as it was.
    public func discard() {
        guard !finished else { return }
        finished = true
        unlink(temporaryPath)
        PartialFiles.shared.unregister(temporaryPath)
    }

    deinit { discard() }

    /// Runs `body` with the temporary path, then commits; on a thrown error discards and rethrows.
    public static func write<R>(to target: String, _ body: (String) throws -> R) throws -> R {
        let output = try AtomicOutput(target: target)
        do {
            let result = try body(output.temporaryPath)
            try output.commit()
            return result
        } catch {
            output.discard()
            throw error
        }
    }
}

/// The outputs of one run that readers use together (quantify's metrics.h5, metrics.json
/// and tables), published as a set: each is written whole to its partial file first, and
/// only when all are complete are they renamed, in the order added. A failure or a signal
/// before that leaves every previous output as it was (the partials are removed); readers
/// that must not mix two runs check a digest one output records of another (metrics.json
/// holds metrics.h5's SHA-256), since a SIGKILL between two renames cannot be prevented.
public final class OutputSet {
    private var outputs: [AtomicOutput] = []

    public init() {}

    /// Reserves `target`'s partial file (after removing partials of killed runs) and
    /// writes it with `body`, which gets the partial's path.
    public func add(_ target: String, _ body: (String) throws -> Void) throws {
        OutputPaths.sweepStalePartials(of: target)
        let output = try AtomicOutput(target: target)
        outputs.append(output)
        try body(output.temporaryPath)
    }

    /// Adds an output whose partial file is already written.
    public func add(_ output: AtomicOutput) { outputs.append(output) }

    /// Renames every partial onto its target, in the order added.
    public func commit() throws {
        for output in outputs { try output.commit() }
        outputs = []
    }

    deinit { outputs.forEach { $0.discard() } }
}

/// What an interrupted process says besides the removed partial files.
public enum InterruptionNote {
    /// Installs the SIGINT/SIGTERM handlers now (they are otherwise installed with the first
    /// partial file) and sets a line printed after the interruption message; nil removes it.
    public static func set(_ text: String?) { PartialFiles.shared.setNote(text) }
}

/// Partial outputs other than `AtomicOutput` files (the report's partial folder): removed,
/// files or whole folders, if the process is interrupted by SIGINT or SIGTERM.
public enum PartialOutputs {
    public static func register(_ path: String) { PartialFiles.shared.register(path) }
    public static func unregister(_ path: String) { PartialFiles.shared.unregister(path) }
}

/// The partial files of this process, removed if it is interrupted.
final class PartialFiles: @unchecked Sendable {
    static let shared = PartialFiles()
    private let lock = NSLock()
    private var paths: Set<String> = []
    private var sources: [DispatchSourceSignal] = []

    private init() {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [unowned self] in self.interrupted(by: signalNumber) }
            source.resume()
            sources.append(source)
        }
    }

    /// Installs the signal handlers (idempotent).
    static func install() { _ = shared }

    /// A line added to the interruption message (e.g. how to resume a data-parallel run).
    var note: String?

    func register(_ path: String) { lock.lock(); paths.insert(path); lock.unlock() }
    func setNote(_ text: String?) { lock.lock(); note = text; lock.unlock() }
    func unregister(_ path: String) { lock.lock(); paths.remove(path); lock.unlock() }

    private func interrupted(by signalNumber: Int32) {
        lock.lock()
        for path in paths where unlink(path) != 0 && errno == EISDIR {
            try? FileManager.default.removeItem(atPath: path)  // a partial folder
        }
        let count = paths.count
        let note = self.note
        lock.unlock()
        OutputLock.releaseAll()
        let name = signalNumber == SIGINT ? "SIGINT" : "SIGTERM"
        Log.raw("interrupted by \(name): removed \(count) partial output file(s); finished artifacts and checkpoints are kept\n")
        if let note { Log.raw(note + "\n") }
        // _exit, not exit: atexit handlers (HDF5's among them) must not run while another
        // thread may be inside the library.
        _exit(128 + signalNumber)
    }
}
