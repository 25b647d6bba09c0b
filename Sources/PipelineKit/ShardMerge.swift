import Foundation
import HDF5Store

/// Joins the part files of a sharded run (`--shard i/n`) into the artifact the unsharded
/// run writes: row datasets are concatenated in part order as stored bytes, every other
/// dataset and attribute must agree between parts and is copied once, and per-part
/// summaries are combined by the rules each part records (or recomputed from the merged
/// datasets by the stage's code). The result's datasets are
/// byte-identical to an unsharded run's; its provenance is the parts' (same stage,
/// parameters, seed and inputs) with this command, plus `merged_from`: the parts' paths,
/// SHA-256 and commands.
public enum ShardMerge {
    /// Root attributes that describe a run rather than its results.
    static let provenanceAttributes: Set<String> = ["stage", "version", "command", "params", "inputs", "seed", "created"]

    /// One part file listed in the merged artifact's `merged_from` attribute.
    public struct MergedPart: Codable, Equatable {
        public var path: String
        public var sha256: String
        public var command: String
    }

    struct Part {
        let path: String
        let file: H5File
        let description: ShardPart
        let provenance: Provenance
    }

    /// Checks that `paths` are all the parts of one run and writes the merged artifact to
    /// `output` atomically. `recompute` holds, per stage, the code that writes its
    /// `.recomputed` root attributes from the merged datasets. Returns the merged row count.
    @discardableResult
    public static func merge(parts paths: [String], output: String, arguments: [String] = CommandLine.arguments,
                             recompute: [String: (H5File) throws -> Void] = [:]) throws -> Int {
        guard !paths.isEmpty else { throw StageError("merge-shards: no part files given") }
        // Before any part is opened or anything written: `./p0.h5` or a link is still a part.
        try StageRun.checkOutputIsNotAnInput(output, inputs: paths)
        let parts = try paths.map { path in
            let file = try H5File.open(path)
            return Part(path: path, file: file, description: try ShardPart.read(from: file), provenance: try Provenance.read(from: file))
        }
        defer { parts.forEach { $0.file.close() } }
        let ordered = try check(parts)
        let first = ordered[0]
        let total = first.description.total
        let recomputed = first.description.combine.filter { $0.value == .recomputed }.keys.sorted()
        let summaries = recompute[first.provenance.stage]
        if !recomputed.isEmpty && summaries == nil {
            throw StageError("merge-shards: \(first.path)'s root attributes \(recomputed.joined(separator: ", ")) are computed over "
                             + "all rows by \(first.provenance.stage), which merge-shards does not know how to recompute")
        }

        var provenance = first.provenance
        provenance.command = arguments.map(shellQuoted).joined(separator: " ")
        provenance.created = ISO8601DateFormatter().string(from: Date())
        let listing = try ordered.map { MergedPart(path: $0.path, sha256: try SHA256.hex(ofFile: $0.path), command: $0.provenance.command) }

        try StageRun(output: output, provenance: provenance).run { file in
            let rowDatasets = Set(first.description.rowDatasets.map(absolute))
            // The largest part is the layout template, so chunks never exceed what it held.
            let template = ordered.max { $0.description.range.count < $1.description.range.count }!
            for (object, isGroup) in try first.file.objects() {
                if isGroup {
                    try file.createGroup(object)
                } else if rowDatasets.contains(object) {
                    try file.createDataset(object, like: template.file, rows: total)
                    for part in ordered {
                        try file.copyRows(object, from: part.file, to: part.description.range.lowerBound)
                    }
                } else {
                    for part in ordered.dropFirst() where try !part.file.sameContents(object, in: first.file) {
                        throw StageError("\(part.path): \(object) differs from \(first.path)'s; "
                                         + "a dataset that is not split into rows must be the same in every part")
                    }
                    try file.copyObject(object, from: first.file)
                    continue  // H5Ocopy brought its attributes along.
                }
                try copyAttributes(of: object, from: ordered, into: file)
            }
            try copyRootAttributes(from: ordered, into: file, provenance: provenance)
            if let summaries, !recomputed.isEmpty {
                try summaries(file)
                if let missing = recomputed.first(where: { !file.hasAttribute($0) }) {
                    throw StageError("merge-shards: \(first.provenance.stage)'s summaries did not write root attribute '\(missing)'")
                }
            }
            try file.setAttribute("merged_from", .string(String(decoding: try JSONEncoder.sorted.encode(listing), as: UTF8.self)))
        }
        return total
    }

    /// The parts in index order, once they are shown to be every part of one run.
    static func check(_ parts: [Part]) throws -> [Part] {
        let first = parts[0]
        let expected = first.description
        for part in parts.dropFirst() {
            let other = part.description
            if part.provenance.stage != first.provenance.stage {
                throw StageError("\(part.path): written by \(part.provenance.stage), but \(first.path) by \(first.provenance.stage)")
            }
            if other.fingerprint != expected.fingerprint {
                throw StageError("\(part.path) and \(first.path) come from different runs (other parameters, seed or input files: "
                                 + "fingerprints \(other.fingerprint.prefix(12))… and \(expected.fingerprint.prefix(12))…); "
                                 + "params \(part.provenance.parameters) vs \(first.provenance.parameters), "
                                 + "seed \(part.provenance.seed) vs \(first.provenance.seed)")
            }
            if other.count != expected.count || other.total != expected.total || other.batch != expected.batch {
                throw StageError("\(part.path) is part \(other.index)/\(other.count) of \(other.total) rows, but \(first.path) is "
                                 + "part \(expected.index)/\(expected.count) of \(expected.total) rows")
            }
            if other.rowDatasets != expected.rowDatasets || other.combine != expected.combine {
                throw StageError("\(part.path) and \(first.path) describe their datasets differently (written by different versions?)")
            }
        }
        var byIndex: [Int: Part] = [:]
        for part in parts {
            if let earlier = byIndex[part.description.index] {
                throw StageError("\(earlier.path) and \(part.path) are both part \(part.description.index)/\(expected.count): "
                                 + "their rows overlap")
            }
            byIndex[part.description.index] = part
        }
        let missing = (0..<expected.count).filter { byIndex[$0] == nil }
        guard missing.isEmpty else {
            let described = missing.map { i in
                "\(i)/\(expected.count) (rows \(Shard(index: i, count: expected.count).rows(of: expected.total, batch: expected.batch)))"
            }
            throw StageError("merge-shards: missing part\(missing.count == 1 ? "" : "s") \(described.joined(separator: ", ")) "
                             + "of \(first.provenance.stage)'s run; given \(parts.map(\.path).joined(separator: ", "))")
        }
        let ordered = (0..<expected.count).map { byIndex[$0]! }
        for part in ordered {
            let range = Shard(index: part.description.index, count: expected.count).rows(of: expected.total, batch: expected.batch)
            guard part.description.range == range else {
                throw StageError("\(part.path): part \(part.description.index)/\(expected.count) records rows \(part.description.range), "
                                 + "expected \(range) of \(expected.total)")
            }
            for name in expected.rowDatasets {
                guard part.file.isDataset(name) else { throw StageError("\(part.path): row dataset \(absolute(name)) is missing") }
                let rows = try part.file.shape(name).first
                guard rows == range.count else {
                    throw StageError("\(part.path): \(absolute(name)) has \(rows.map(String.init) ?? "no") rows, expected \(range.count)")
                }
            }
            let names = Set(try part.file.objects().map(\.path)), expectedNames = Set(try first.file.objects().map(\.path))
            if names != expectedNames {
                throw StageError("\(part.path) holds \(names.symmetricDifference(expectedNames).sorted()) "
                                 + "where \(first.path) does not, or the reverse")
            }
        }
        return ordered
    }

    /// Copies an object's attributes, which must agree in every part.
    static func copyAttributes(of object: String, from parts: [Part], into file: H5File) throws {
        for name in try parts[0].file.attributeNames(of: object) {
            let value = try parts[0].file.attribute(name, of: object)
            for part in parts.dropFirst() where try part.file.attribute(name, of: object) != value {
                throw StageError("\(part.path): \(object) @\(name) differs from \(parts[0].path)'s")
            }
            try file.setAttribute(name, value, on: object)
        }
    }

    /// Root attributes: provenance comes from `provenance`; per-part summaries are combined
    /// by their rule; everything else must agree.
    static func copyRootAttributes(from parts: [Part], into file: H5File, provenance: Provenance) throws {
        let rules = parts[0].description.combine
        let total = parts[0].description.total
        var names = Set<String>()
        for part in parts { names.formUnion(try part.file.attributeNames()) }
        names.subtract(provenanceAttributes)
        names.remove(ShardPart.attributeName)
        var merged: [String: H5AttributeValue] = [:]
        func value(_ name: String) throws -> H5AttributeValue {
            if let known = merged[name] { return known }
            let values = try parts.map { part -> H5AttributeValue in
                guard part.file.hasAttribute(name) else { throw StageError("\(part.path): root attribute '\(name)' is missing") }
                return try part.file.attribute(name)
            }
            let result: H5AttributeValue
            switch rules[name] {
            case nil:
                // The same value in every part; a NaN (an undefined rate, e.g. a precision with
                // nothing found) agrees with a NaN.
                func same(_ a: H5AttributeValue, _ b: H5AttributeValue) -> Bool {
                    if a == b { return true }
                    if case .double(let x) = a, case .double(let y) = b { return x.isNaN && y.isNaN }
                    return false
                }
                if let index = values.firstIndex(where: { !same($0, values[0]) }) {
                    throw StageError("\(parts[index].path): root attribute '\(name)' is \(values[index]), but \(values[0]) in "
                                     + "\(parts[0].path); parts of one run must agree")
                }
                result = values[0]
            case .sum?:
                result = try combineNumbers(values, name: name, ints: { $0.reduce(0, +) }, doubles: { $0.reduce(0, +) })
            case .max?:
                result = try combineNumbers(values, name: name, ints: { $0.max()! }, doubles: { $0.max()! })
            case .min?:
                result = try combineNumbers(values, name: name, ints: { $0.min()! }, doubles: { $0.min()! })
            case .perRow(let numerator)?:
                guard let count = try value(numerator).doubleValue else {
                    throw StageError("\(parts[0].path): root attribute '\(numerator)' (for '\(name)') is not a number")
                }
                result = .double(count / Double(total))
            case .runFingerprint?:
                result = .string(StageRun.fingerprint(of: provenance))
            case .recomputed?:
                throw StageError("root attribute '\(name)' is recomputed after the merge; no other attribute can be derived from it")
            }
            merged[name] = result
            return result
        }
        for name in names.sorted() where rules[name] != .recomputed { try file.setAttribute(name, try value(name)) }
    }

    static func combineNumbers(_ values: [H5AttributeValue], name: String, ints: ([Int64]) -> Int64,
                               doubles: ([Double]) -> Double) throws -> H5AttributeValue {
        let integers = values.compactMap { value -> Int64? in if case .int(let v) = value { v } else { nil } }
        if integers.count == values.count { return .int(ints(integers)) }
        let reals = values.compactMap { value -> Double? in if case .double(let v) = value { v } else { nil } }
        if reals.count == values.count { return .double(doubles(reals)) }
        throw StageError("root attribute '\(name)' is not a number of one type in every part: \(values)")
    }

    static func absolute(_ name: String) -> String { name.hasPrefix("/") ? name : "/" + name }
}
