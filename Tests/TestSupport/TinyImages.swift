import Foundation
import HDF5Store

/// Writes a tiny images.h5 (docs/design.md § Artifact schemas) for stage tests: `classes` classes whose
/// images differ in mean colour plus seeded noise, so a model can learn them quickly.
/// Splits cycle through `splitCycle` within each class (default train, train, train, val, test).
public func makeTinyImages(at path: String, classes: Int = 3, perClass: Int = 10, size: Int = 16, seed: UInt64 = 1,
                           splitCycle: [UInt8] = [0, 0, 0, 1, 2]) throws {
    var state = seed &+ 0x9E37_79B9_7F4A_7C15
    func next() -> UInt8 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return UInt8(truncatingIfNeeded: state >> 56)
    }
    var pixels: [UInt8] = [], labels: [Int32] = [], splits: [UInt8] = []
    for c in 0..<classes {
        for i in 0..<perClass {
            for _ in 0..<(size * size) {
                for channel in 0..<3 {
                    let base = channel == c % 3 ? 170 : 60
                    pixels.append(UInt8(clamping: base + Int(next() % 64) - 32))
                }
            }
            labels.append(Int32(c))
            splits.append(splitCycle[i % splitCycle.count])
        }
    }
    let attributes = 4
    let file = try H5File.create(path)
    defer { file.close() }
    let n = labels.count
    try file.write("images", pixels, shape: [n, size, size, 3], compress: true)
    try file.write("labels", labels, shape: [n])
    try file.write("split", splits, shape: [n])
    try file.writeStrings("class_names", (0..<classes).map { "class_\($0)" })
    try file.writeStrings("attribute_names", (0..<attributes).map { "has_primary_color::c\($0)" })
    try file.write("class_attributes", (0..<(classes * attributes)).map { Float(($0 * 7) % 5) / 4 }, shape: [classes, attributes])
}
