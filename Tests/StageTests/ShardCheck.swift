import Foundation
import HDF5Store
import PipelineKit
import TestSupport
import XCTest

/// The checks every sharded stage's tests share (ShardTests, GroundStageTests): a run
/// split into parts and merged equals the unsharded run.
enum ShardCheck {
    /// Runs a stage and fails the test (with its stderr) unless it succeeds.
    @discardableResult
    static func succeed(_ stage: String, _ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
        let result = try runStage(stage, arguments)
        XCTAssertEqual(result.status, 0, "\(stage) \(arguments.joined(separator: " ")): \(result.stderr)", file: file, line: line)
        return result
    }

    /// Runs `stage` unsharded into `directory`/`name`.h5 and as `parts` shards merged into
    /// `name`-merged.h5 (parts given to merge-shards in reverse order), and checks the two
    /// artifacts hold the same datasets and result attributes, and the merge's provenance.
    static func shardedEqualsUnsharded(_ stage: String, _ arguments: [String], name: String, parts: Int, in directory: URL,
                                       file: StaticString = #filePath, line: UInt = #line) throws {
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let whole = path("\(name).h5"), merged = path("\(name)-merged.h5")
        try succeed(stage, arguments + ["--output", whole], file: file, line: line)
        let partPaths = (0..<parts).map { path("parts/\(name).part\($0)of\(parts).h5") }
        for (i, part) in partPaths.enumerated() {
            try succeed(stage, arguments + ["--shard", "\(i)/\(parts)", "--output", part], file: file, line: line)
        }
        try succeed("merge-shards", ["--parts"] + partPaths.reversed() + ["--output", merged], file: file, line: line)
        try assertSameArtifact(merged, whole, file: file, line: line)

        let provenance = try Provenance.read(from: try H5File.open(merged)), reference = try Provenance.read(from: try H5File.open(whole))
        XCTAssertEqual(provenance.stage, stage, file: file, line: line)
        XCTAssertEqual(provenance.parameters, reference.parameters, file: file, line: line)
        XCTAssertEqual(provenance.inputs, reference.inputs, file: file, line: line)
        XCTAssertEqual(provenance.seed, reference.seed, file: file, line: line)
        XCTAssertTrue(provenance.command.contains("merge-shards"), file: file, line: line)
        let listing = try XCTUnwrap(try H5File.open(merged).attribute("merged_from").stringValue)
        let listed = try JSONDecoder().decode([ShardMerge.MergedPart].self, from: Data(listing.utf8))
        XCTAssertEqual(listed.map(\.path), partPaths, "parts listed in shard order", file: file, line: line)
        XCTAssertEqual(listed.map(\.sha256), try partPaths.map { try SHA256.hex(ofFile: $0) }, file: file, line: line)
        XCTAssertTrue(listed.allSatisfy { $0.command.contains("--shard") }, file: file, line: line)
    }

    /// Same objects, every dataset with the same type, shape and stored bytes, and the same
    /// attributes (NaN equal to NaN) apart from the run's own provenance (command, time) and
    /// the merge listing.
    static func assertSameArtifact(_ actualPath: String, _ expectedPath: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let actual = try H5File.open(actualPath), expected = try H5File.open(expectedPath)
        defer { actual.close(); expected.close() }
        let objects = try expected.objects()
        XCTAssertEqual(try actual.objects().map(\.path), objects.map(\.path), file: file, line: line)
        for (object, isGroup) in objects {
            if !isGroup {
                XCTAssertTrue(try actual.sameContents(object, in: expected), "\(object) differs", file: file, line: line)
            }
            XCTAssertEqual(try actual.attributeNames(of: object), try expected.attributeNames(of: object), object, file: file, line: line)
            for name in try expected.attributeNames(of: object) {
                try assertSame(try actual.attribute(name, of: object), try expected.attribute(name, of: object), "\(object) @\(name)",
                               file: file, line: line)
            }
        }
        let runSpecific: Set<String> = ["command", "created", "merged_from"]
        let names = try expected.attributeNames().filter { !runSpecific.contains($0) }
        XCTAssertEqual(try actual.attributeNames().filter { !runSpecific.contains($0) }, names, file: file, line: line)
        for name in names {
            try assertSame(try actual.attribute(name), try expected.attribute(name), "root @\(name)", file: file, line: line)
        }
    }

    /// Equal attribute values, a NaN summary (nothing to score) counting as equal to NaN.
    static func assertSame(_ actual: H5AttributeValue, _ expected: H5AttributeValue, _ message: String,
                           file: StaticString = #filePath, line: UInt = #line) throws {
        if case .double(let a) = actual, case .double(let b) = expected, a.isNaN && b.isNaN { return }
        XCTAssertEqual(actual, expected, message, file: file, line: line)
    }
}
