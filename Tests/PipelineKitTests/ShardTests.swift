import PipelineKit
import XCTest

final class ShardRangeTests: XCTestCase {
    /// Parts in index order tile 0..<total exactly, start on batch boundaries and are
    /// balanced to within one batch.
    func testPartsTileTheRowsAtBatchBoundaries() {
        for total in [0, 1, 2, 7, 100, 5794] {
            for count in [1, 2, 3, 8, 13] {
                for batch in [1, 4, 128] {
                    let ranges = (0..<count).map { Shard(index: $0, count: count).rows(of: total, batch: batch) }
                    XCTAssertEqual(ranges.first?.lowerBound, 0)
                    XCTAssertEqual(ranges.last?.upperBound, total)
                    for (a, b) in zip(ranges, ranges.dropFirst()) { XCTAssertEqual(a.upperBound, b.lowerBound) }
                    for range in ranges where !range.isEmpty { XCTAssertEqual(range.lowerBound % batch, 0) }
                    let sizes = ranges.map(\.count)
                    XCTAssertLessThanOrEqual(sizes.max()! - sizes.min()!, batch, "total \(total), \(count) parts: \(sizes)")
                }
            }
        }
        XCTAssertEqual((0..<3).map { Shard(index: $0, count: 3).rows(of: 10) }, [0..<3, 3..<6, 6..<10])
        XCTAssertEqual((0..<2).map { Shard(index: $0, count: 2).rows(of: 10, batch: 4) }, [0..<4, 4..<10])
    }

    func testParsing() throws {
        XCTAssertEqual(try Shard(parsing: "0/1"), Shard(index: 0, count: 1))
        XCTAssertEqual(try Shard(parsing: "3/4").description, "3/4")
        for bad in ["4/4", "-1/4", "0/0", "1", "x/2", "1/2/3", "", "/", "1/"] {
            XCTAssertThrowsError(try Shard(parsing: bad), bad)
        }
    }
}
