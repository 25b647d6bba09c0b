import Foundation

/// One non-blank line of a text annotation file, with its 1-based line number.
struct TextLine {
    let path: String
    let number: Int
    let text: String

    /// Whitespace-separated fields.
    var fields: [Substring] { text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }) }

    func error(_ reason: String) -> DatasetError { .malformed(path: path, line: number, reason: reason) }

    /// The fields, checking that there are exactly `count`.
    func fields(count: Int) throws(DatasetError) -> [Substring] {
        let f = fields
        guard f.count == count else { throw error("expected \(count) columns, found \(f.count)") }
        return f
    }

    func int(_ field: Substring, _ what: String) throws(DatasetError) -> Int {
        guard let v = Int(field) else { throw error("\(what) '\(field)' is not an integer") }
        return v
    }

    func double(_ field: Substring, _ what: String) throws(DatasetError) -> Double {
        guard let v = Double(field), v.isFinite else { throw error("\(what) '\(field)' is not a number") }
        return v
    }

    /// A 1-based id that must lie in 1...count.
    func id(_ field: Substring, _ what: String, count: Int) throws(DatasetError) -> Int {
        let v = try int(field, what)
        guard (1...max(count, 1)).contains(v) && count > 0 else { throw error("\(what) \(v) out of range 1...\(count)") }
        return v
    }
}

/// Reads a UTF-8 text file as its non-blank lines; a missing file is a DatasetError naming it.
func readLines(_ path: String, what: String) throws(DatasetError) -> [TextLine] {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw FileManager.default.fileExists(atPath: path)
            ? .invalid(path: path, reason: "cannot read (\(what))") : .missingFile(path: path, what: what)
    }
    var out: [TextLine] = []
    var number = 0
    // "\r\n" is a single Character in Swift, so both line ends are named explicitly.
    for raw in String(decoding: data, as: UTF8.self).split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
        number += 1
        let text = String(raw)
        if text.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
        out.append(TextLine(path: path, number: number, text: text))
    }
    return out
}

/// Parses `id name` lines whose ids must run 1, 2, 3, … in order (CUB's classes.txt,
/// attributes.txt, parts/parts.txt; AwA2's classes.txt and predicates.txt). Names may
/// contain spaces (CUB's part "left eye").
func readNumberedNames(_ path: String, what: String) throws(DatasetError) -> [String] {
    var names: [String] = []
    for line in try readLines(path, what: what) {
        let trimmed = line.text.drop { $0 == " " || $0 == "\t" }
        guard let split = trimmed.firstIndex(where: { $0 == " " || $0 == "\t" }) else {
            throw line.error("expected 'id name', found one column")
        }
        let id = try line.int(trimmed[..<split], "id")
        guard id == names.count + 1 else { throw line.error("id \(id) out of sequence (expected \(names.count + 1))") }
        let name = trimmed[split...].trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty else { throw line.error("empty name") }
        if let first = names.firstIndex(of: name) { throw line.error("name '\(name)' repeats id \(first + 1)'s; names must differ") }
        names.append(name)
    }
    guard !names.isEmpty else { throw .invalid(path: path, reason: "no entries (\(what))") }
    return names
}

/// Parses a whitespace-separated numeric matrix with exactly `rows` × `columns` values.
func readMatrix(_ path: String, rows: Int, columns: Int, what: String) throws(DatasetError) -> [Double] {
    let lines = try readLines(path, what: what)
    guard lines.count == rows else {
        throw .invalid(path: path, reason: "expected \(rows) rows (\(what)), found \(lines.count)")
    }
    var out: [Double] = []
    out.reserveCapacity(rows * columns)
    for line in lines {
        let fields = try line.fields(count: columns)
        for f in fields { out.append(try line.double(f, "value")) }
    }
    return out
}
