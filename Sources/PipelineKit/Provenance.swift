import Foundation
import HDF5Store

/// The version written into every artifact.
public enum ToolVersion {
    public static let current = "0.1.0"
}

/// Where an artifact came from: stored as root attributes of every HDF5 file the
/// pipeline writes (`stage`, `version`, `command`, `params`, `inputs`, `seed`, `created`).
public struct Provenance: Equatable {
    /// An input file and its SHA-256 at the time the stage read it.
    public struct Input: Codable, Equatable {
        public var path: String
        public var sha256: String
        public init(path: String, sha256: String) { self.path = path; self.sha256 = sha256 }
    }

    public var stage: String
    public var version: String
    /// The full command line, shell-quoted where needed.
    public var command: String
    /// The stage's parameters as a JSON object with sorted keys.
    public var parameters: String
    public var inputs: [Input]
    public var seed: UInt64
    /// ISO 8601 time of the run.
    public var created: String

    /// Describes a run of `stage`, hashing each input file now.
    public static func make(stage: String, parameters: [String: Any], inputs: [String], seed: UInt64,
                            arguments: [String] = CommandLine.arguments) throws -> Provenance {
        guard JSONSerialization.isValidJSONObject(parameters) else {
            throw StageError("\(stage): parameters are not JSON-representable: \(parameters)")
        }
        let json = try JSONSerialization.data(withJSONObject: parameters, options: [.sortedKeys])
        let hashed = try inputs.map { Input(path: $0, sha256: try FileDigests.shared.sha256($0)) }
        return Provenance(stage: stage, version: ToolVersion.current, command: arguments.map(shellQuoted).joined(separator: " "),
                          parameters: String(decoding: json, as: UTF8.self), inputs: hashed, seed: seed,
                          created: ISO8601DateFormatter().string(from: Date()))
    }

    /// Writes the provenance attributes on the file's root.
    public func write(to file: H5File) throws {
        let inputsJSON = try JSONEncoder.sorted.encode(inputs)
        try file.setAttribute("stage", .string(stage))
        try file.setAttribute("version", .string(version))
        try file.setAttribute("command", .string(command))
        try file.setAttribute("params", .string(parameters))
        try file.setAttribute("inputs", .string(String(decoding: inputsJSON, as: UTF8.self)))
        try file.setAttribute("seed", .int(Int64(bitPattern: seed)))
        try file.setAttribute("created", .string(created))
    }

    /// Reads the provenance attributes of an artifact; a file without them is an error.
    public static func read(from file: H5File) throws -> Provenance {
        func text(_ name: String) throws -> String {
            guard let value = try file.attribute(name).stringValue else {
                throw StageError("\(file.path): root attribute '\(name)' is not a string")
            }
            return value
        }
        let inputsText = try text("inputs")
        guard let inputs = try? JSONDecoder().decode([Input].self, from: Data(inputsText.utf8)) else {
            throw StageError("\(file.path): root attribute 'inputs' is not a JSON list of {path, sha256}")
        }
        guard let seed = try file.attribute("seed").intValue else {
            throw StageError("\(file.path): root attribute 'seed' is not an integer")
        }
        return Provenance(stage: try text("stage"), version: try text("version"), command: try text("command"),
                          parameters: try text("params"), inputs: inputs, seed: UInt64(bitPattern: seed),
                          created: try text("created"))
    }
}

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

/// Quotes a command-line word for a POSIX shell when it needs it.
func shellQuoted(_ word: String) -> String {
    let safe = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%")
    if !word.isEmpty && word.unicodeScalars.allSatisfy({ safe.contains($0) }) { return word }
    return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
