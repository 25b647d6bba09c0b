internal import CHDF5
import Foundation

/// The single choke point for libhdf5: one process-wide lock (the Debian build is not
/// thread-safe), automatic error printing switched off, and every return code checked
/// and turned into an `H5Error` that carries HDF5's own error stack.
enum H5Library {
    /// Recursive because a checked call may itself need to read the error stack.
    private static let lock = NSRecursiveLock()
    private static let initialised: Bool = {
        // No library shutdown at exit: HDF5 1.10 keeps a file whose H5Fclose failed (a full
        // disk) in its ID table with freed internals, and its exit handler then crashes
        // closing it again (rc 139 after the error was printed). Every file that is
        // published was flushed and closed by H5File.flushAndClose before, so nothing is
        // lost; anything still open at exit is a partial file or was only read.
        H5dont_atexit()
        H5open()
        // Errors are reported through H5Error; HDF5 must not print to stderr itself.
        H5Eset_auto2(h5s_E_DEFAULT(), nil, nil)
        return true
    }()

    /// Runs `body` holding the library lock.
    static func locked<R>(_ body: () throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        _ = initialised
        return try body()
    }

    /// Checks an `hid_t` result: negative means failure.
    @discardableResult
    static func check(_ id: hid_t, file: String, object: String, _ what: @autoclosure () -> String) throws -> hid_t {
        if id < 0 { throw error(file: file, object: object, what()) }
        return id
    }

    /// Checks an `herr_t` result: negative means failure.
    static func check(_ status: herr_t, file: String, object: String, _ what: @autoclosure () -> String) throws {
        if status < 0 { throw error(file: file, object: object, what()) }
    }

    /// Checks an `htri_t` result: negative is failure, otherwise true or false.
    static func truth(_ value: htri_t, file: String, object: String, _ what: @autoclosure () -> String) throws -> Bool {
        if value < 0 { throw error(file: file, object: object, what()) }
        return value > 0
    }

    /// A failure injected by tests: with `ATTRIB_ADV_INJECT_FAULT=<operation>:<text>` in the
    /// environment, `operation` (only "close", i.e. `H5File.flushAndClose`) fails on every
    /// file whose path contains `text`, as a full disk would make it fail. Read only by
    /// tests; unset in normal use.
    static func injectedFailure(for path: String, at operation: String) -> H5Error? {
        guard let fault = ProcessInfo.processInfo.environment["ATTRIB_ADV_INJECT_FAULT"],
              let colon = fault.firstIndex(of: ":"), fault[..<colon] == operation else { return nil }
        let text = fault[fault.index(after: colon)...]
        guard text.isEmpty || path.contains(text) else { return nil }
        return H5Error(file: path, object: "/", message: "cannot write the file to disk",
                       hdf5Stack: ["injected fault (ATTRIB_ADV_INJECT_FAULT=\(fault))"])
    }

    /// Builds an error from the current HDF5 error stack, then clears the stack.
    static func error(file: String, object: String, _ what: String) -> H5Error {
        var messages: [String] = []
        withUnsafeMutablePointer(to: &messages) { pointer in
            _ = H5Ewalk2(h5s_E_DEFAULT(), H5E_WALK_UPWARD, { _, description, client in
                guard let description, let client else { return 0 }
                let list = client.assumingMemoryBound(to: [String].self)
                let function = description.pointee.func_name.map { String(cString: $0) } ?? "?"
                let text = description.pointee.desc.map { String(cString: $0) } ?? ""
                list.pointee.append("\(function): \(text)")
                return 0
            }, pointer)
        }
        H5Eclear2(h5s_E_DEFAULT())
        return H5Error(file: file, object: object, message: what, hdf5Stack: messages)
    }
}

/// An HDF5 identifier closed exactly once, when the owner says so or at deinit.
final class H5Handle {
    let id: hid_t
    private let closer: (hid_t) -> herr_t
    private var open = true

    init(_ id: hid_t, closer: @escaping (hid_t) -> herr_t) {
        self.id = id
        self.closer = closer
    }

    /// Whether the identifier has not been closed yet.
    var isOpen: Bool { H5Library.locked { open } }

    /// Closes the identifier once, returning the library's status (0 if it was already
    /// closed). Callers that wrote through it must check the status: see `H5File.flushAndClose`.
    @discardableResult
    func close() -> herr_t {
        H5Library.locked {
            guard open else { return 0 }
            open = false
            return closer(id)
        }
    }

    deinit { close() }
}
