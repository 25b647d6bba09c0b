import Foundation

/// Which parts each attribute lives on: an [A, m] table of part indices (into
/// `part_names`), −1 padded; a row of −1 marks an attribute that is not localisable
/// (size, shape, primary colour).
public struct AttributeParts: Sendable, Equatable {
    /// Parts of each attribute.
    public var parts: [[Int]]

    public init(parts: [[Int]]) { self.parts = parts }

    /// Attributes covered.
    public var count: Int { parts.count }
    /// Row width of the padded table (at least 1).
    public var width: Int { max(1, parts.map(\.count).max() ?? 1) }

    /// The padded [A, width] table as stored in HDF5.
    public var padded: [Int32] {
        let w = width
        return parts.flatMap { row in row.map(Int32.init) + [Int32](repeating: -1, count: w - row.count) }
    }

    /// Reads a padded table (rows of part ids, −1 padded) back.
    public init(padded: [Int32], width: Int) {
        parts = stride(from: 0, to: padded.count, by: max(1, width)).map { start in
            padded[start..<min(padded.count, start + width)].filter { $0 >= 0 }.map(Int.init)
        }
    }

    /// The attribute group of a dataset attribute name: CUB's `has_bill_color::black` →
    /// `has_bill_color`; a name without `::` is its own group.
    public static func group(of attributeName: String) -> String {
        attributeName.range(of: "::").map { String(attributeName[..<$0.lowerBound]) } ?? attributeName
    }

    /// Builds the table for `attributeNames` from a group → part-names map (see
    /// `readGroupTable`); groups missing from the map are not localisable. Throws when
    /// the map names a part that is not in `partNames`.
    public init(attributeNames: [String], partNames: [String], groups: [String: [String]], source: String) throws {
        let partIndex = Dictionary(uniqueKeysWithValues: partNames.enumerated().map { ($1, $0) })
        parts = try attributeNames.map { name in
            try (groups[Self.group(of: name)] ?? []).map { part in
                guard let p = partIndex[part] else {
                    throw GroundingError("\(source): part '\(part)' (for \(Self.group(of: name))) is not one of the dataset's part_names \(partNames)")
                }
                return p
            }
        }
    }

    /// Reads a group → parts table: one line per attribute group, `group<TAB>part,part`
    /// (part names as in `part_names`), `-` for a group that no part localises; `#`
    /// starts a comment line. Errors name the file and the line.
    public static func readGroupTable(_ path: String) throws -> [String: [String]] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw GroundingError("\(path): cannot read the attribute → parts table (\(error.localizedDescription))")
        }
        var table: [String: [String]] = [:]
        for (number, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count == 2, !fields[0].isEmpty, !fields[1].isEmpty else {
                throw GroundingError("\(path):\(number + 1): expected 'group<TAB>part,part' or 'group<TAB>-', found '\(line)'")
            }
            guard table[fields[0]] == nil else { throw GroundingError("\(path):\(number + 1): group \(fields[0]) listed twice") }
            table[fields[0]] = fields[1] == "-" ? [] : fields[1].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }
        return table
    }
}

/// A grounding failure the user can act on; the message names the file and object.
public struct GroundingError: Error, CustomStringConvertible, LocalizedError {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
    public var errorDescription: String? { message }
}
