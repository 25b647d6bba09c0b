internal import CHDF5
import Foundation

/// An open HDF5 file: the one type through which the project reads and writes HDF5.
///
/// Object paths are written as in h5py (`"conv/k3s1p1/x"`, a leading `/` is optional);
/// parent groups are created as needed when writing. The file is closed by `close()` or
/// when the last reference goes away. Every method throws `H5Error` naming the file and
/// the object.
public final class H5File {
    /// How an existing file is opened.
    public enum Mode { case readOnly, readWrite }

    /// The path the file was opened or created at.
    public let path: String
    let handle: H5Handle
    var id: hid_t { handle.id }

    private init(path: String, id: hid_t) {
        self.path = path
        self.handle = H5Handle(id) { H5Fclose($0) }
    }

    /// Creates (or truncates) a file at `path`.
    public static func create(_ path: String) throws -> H5File {
        try H5Library.locked {
            let id = try H5Library.check(
                H5Fcreate(path, h5s_F_ACC_TRUNC(), h5s_P_DEFAULT(), h5s_P_DEFAULT()),
                file: path, object: "/", "cannot create the file")
            return H5File(path: path, id: id)
        }
    }

    /// Opens an existing HDF5 file; a missing or non-HDF5 file is a clear error.
    public static func open(_ path: String, mode: Mode = .readOnly) throws -> H5File {
        try H5Library.locked {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw H5Error(file: path, object: "/", message: "no such file")
            }
            guard !isDirectory.boolValue else {
                throw H5Error(file: path, object: "/", message: "is a directory, expected an HDF5 file")
            }
            // A FIFO, socket or device would block or never end inside HDF5's open().
            var status = stat()
            guard stat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
                throw H5Error(file: path, object: "/", message: "is not a regular file (a FIFO, socket or device?), expected an HDF5 file")
            }
            let isHDF5 = H5Fis_hdf5(path)
            guard isHDF5 > 0 else {
                H5Eclear2(h5s_E_DEFAULT())
                throw H5Error(file: path, object: "/", message: "not an HDF5 file (no HDF5 signature found)")
            }
            let flags = mode == .readOnly ? h5s_F_ACC_RDONLY() : h5s_F_ACC_RDWR()
            let id = try H5Library.check(H5Fopen(path, flags, h5s_P_DEFAULT()),
                                         file: path, object: "/", "cannot open the file")
            return H5File(path: path, id: id)
        }
    }

    /// Closes the file, ignoring errors: for files that were only read, and for cleaning up
    /// after another error. A file that was written must be closed with `flushAndClose()`,
    /// which reports a failed flush. Later calls on this object fail; closing twice is fine.
    public func close() { handle.close() }

    /// Flushes everything HDF5 still holds in memory to disk and closes the file, throwing
    /// if either fails (a full disk, an I/O error): a file written through this object is
    /// complete on disk only if this returns. The file is closed afterwards in every case.
    public func flushAndClose() throws {
        try H5Library.locked {
            guard handle.isOpen else {
                throw H5Error(file: path, object: "/", message: "cannot flush: the file was already closed")
            }
            if let failure = H5Library.injectedFailure(for: path, at: "close") {
                handle.close()
                throw failure
            }
            guard H5Fflush(id, H5F_SCOPE_GLOBAL) >= 0 else {
                let error = H5Library.error(file: path, object: "/", "cannot write the file to disk")
                handle.close()
                H5Eclear2(h5s_E_DEFAULT())
                throw error
            }
            try H5Library.check(handle.close(), file: path, object: "/", "cannot close the file")
        }
    }

    // MARK: Paths and groups

    /// `name` as an absolute object path.
    static func absolute(_ name: String) -> String {
        name.hasPrefix("/") ? name : "/" + name
    }

    /// Whether an object (group or dataset) exists at `name`, checking each parent in turn.
    public func exists(_ name: String) -> Bool {
        H5Library.locked {
            var prefix = ""
            for component in Self.absolute(name).split(separator: "/") {
                prefix += "/" + component
                guard H5Lexists(id, prefix, h5s_P_DEFAULT()) > 0 else {
                    H5Eclear2(h5s_E_DEFAULT())
                    return false
                }
            }
            return true
        }
    }

    /// Whether `name` exists and is a group.
    public func isGroup(_ name: String) -> Bool { objectType(name) == H5I_GROUP }

    /// Whether `name` exists and is a dataset.
    public func isDataset(_ name: String) -> Bool { objectType(name) == H5I_DATASET }

    /// The kind of object at `name`, or nil if there is none.
    func objectType(_ name: String) -> H5I_type_t? {
        guard exists(name) else { return nil }
        return H5Library.locked {
            let object = H5Oopen(id, Self.absolute(name), h5s_P_DEFAULT())
            guard object >= 0 else { H5Eclear2(h5s_E_DEFAULT()); return nil }
            defer { H5Oclose(object) }
            return H5Iget_type(object)
        }
    }

    /// A link-creation property list that creates missing parent groups.
    func intermediateGroupsPropertyList() throws -> H5Handle {
        let plist = try H5Library.check(H5Pcreate(h5s_P_LINK_CREATE()), file: path, object: "/",
                                        "cannot create a property list")
        let handle = H5Handle(plist) { H5Pclose($0) }
        try H5Library.check(H5Pset_create_intermediate_group(plist, 1), file: path, object: "/",
                            "cannot set intermediate group creation")
        return handle
    }

    /// Creates a group (and its parents); an existing group is left as it is.
    public func createGroup(_ name: String) throws {
        guard !isGroup(name) else { return }
        try H5Library.locked {
            let object = Self.absolute(name)
            let lcpl = try intermediateGroupsPropertyList()
            let group = try H5Library.check(H5Gcreate2(id, object, lcpl.id, h5s_P_DEFAULT(), h5s_P_DEFAULT()),
                                            file: path, object: object, "cannot create the group")
            H5Gclose(group)
        }
    }

    /// Names of the direct children of a group, in name order.
    public func childNames(_ group: String = "/") throws -> [String] {
        try H5Library.locked {
            let object = Self.absolute(group)
            let gid = try H5Library.check(H5Gopen2(id, object, h5s_P_DEFAULT()), file: path, object: object,
                                          "cannot open the group")
            defer { H5Gclose(gid) }
            var info = H5G_info_t()
            try H5Library.check(H5Gget_info(gid, &info), file: path, object: object, "cannot read the group")
            return try names(count: info.nlinks, object: object, "cannot list the group") { index, buffer, size in
                H5Lget_name_by_idx(gid, ".", H5_INDEX_NAME, H5_ITER_INC, index, buffer, size, h5s_P_DEFAULT())
            }
        }
    }

    /// Collects `count` names from an HDF5 "name by index" call, which returns a name's
    /// length when given no buffer and fills the buffer otherwise.
    func names(count: hsize_t, object: String, _ what: String,
               nameAt: (hsize_t, UnsafeMutablePointer<CChar>?, Int) -> Int) throws -> [String] {
        try (0..<count).map { index in
            let length = nameAt(index, nil, 0)
            guard length >= 0 else { throw H5Library.error(file: path, object: object, what) }
            var buffer = [CChar](repeating: 0, count: length + 1)
            _ = nameAt(index, &buffer, buffer.count)
            return String(cString: buffer)
        }
    }

    /// Removes the link to an object (the space is reclaimed only by repacking).
    public func remove(_ name: String) throws {
        try H5Library.locked {
            let object = Self.absolute(name)
            try H5Library.check(H5Ldelete(id, object, h5s_P_DEFAULT()), file: path, object: object, "cannot remove")
        }
    }
}
