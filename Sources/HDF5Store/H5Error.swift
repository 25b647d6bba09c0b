import Foundation

/// An error from the HDF5 library or from a schema check, naming the file and the object.
///
/// `message` says what was attempted or expected; `hdf5Stack` carries HDF5's own error
/// stack (innermost first) when the library reported one.
public struct H5Error: Error, CustomStringConvertible, Equatable {
    /// Path of the HDF5 file involved.
    public let file: String
    /// Path of the object inside the file (`/` for the file itself).
    public let object: String
    /// What went wrong, in words a user can act on.
    public let message: String
    /// HDF5's own error stack, innermost message first; empty for schema errors.
    public let hdf5Stack: [String]

    public init(file: String, object: String, message: String, hdf5Stack: [String] = []) {
        self.file = file
        self.object = object
        self.message = message
        self.hdf5Stack = hdf5Stack
    }

    public var description: String {
        var text = "\(file): \(object): \(message)"
        if !hdf5Stack.isEmpty { text += " (HDF5: \(hdf5Stack.joined(separator: "; ")))" }
        return text
    }
}

extension H5Error: LocalizedError {
    public var errorDescription: String? { description }
}
