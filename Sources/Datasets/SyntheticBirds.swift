import Dispatch
import HDF5Store
import ImageIO
import Randomness

/// A rendered-birds dataset: `imagesPerClass` images of each profile, image i of class
/// i mod C (classes interleave, so any prefix is balanced). Image i is rendered from its
/// own generator `SplitMix(seed:stream: i)`, so the bytes depend only on the seed and the
/// options, never on threads or batch size.
public struct SyntheticBirds: Sendable {
    public let profiles: [ClassProfile]
    public let renderer: BirdRenderer
    public let imagesPerClass: Int
    public let seed: UInt64
    /// Split of every image, stratified per class.
    public let splits: [Split]

    /// - Parameters: fractions of each class's images for train and val (test gets the rest).
    public init(profiles: [ClassProfile], size: Int, imagesPerClass: Int, seed: UInt64,
                trainFraction: Double = 0.7, valFraction: Double = 0.1, birdScale: Double = 1) {
        precondition(!profiles.isEmpty && imagesPerClass > 0)
        self.profiles = profiles
        self.renderer = BirdRenderer(size: size, birdScale: birdScale)
        self.imagesPerClass = imagesPerClass
        self.seed = seed
        let c = profiles.count
        var splits = [Split](repeating: .train, count: c * imagesPerClass)
        for k in 0..<c {
            var rng = SplitMix(seed: seed, stream: RandomStreams.birdSplits(classIndex: k))
            for (j, s) in SplitAssignment.stratified(count: imagesPerClass, train: trainFraction, val: valFraction, rng: &rng).enumerated() {
                splits[j * c + k] = s
            }
        }
        self.splits = splits
    }

    public var count: Int { profiles.count * imagesPerClass }

    public var header: DatasetHeader {
        DatasetHeader(classNames: profiles.map(\.name), attributeNames: BirdGroup.attributeNames, partNames: cubPartNames,
                      imageSize: renderer.size, hasImageAttributes: true, hasBoxes: true,
                      hasPartMasks: true, attributeParts: BirdGroup.attributeParts)
    }

    /// Renders image `index` (with its part map when asked, for tests).
    public func render(_ index: Int, partMap: Bool = false) -> (sample: DatasetSample, attributes: BirdAttributes, bird: RenderedBird) {
        let label = index % profiles.count
        var rng = SplitMix(seed: seed, stream: RandomStreams.birdImage(index))
        let attributes = profiles[label].sample(&rng)
        let bird = renderer.render(attributes, rng: &rng, partMap: partMap)
        let sample = DatasetSample(image: bird.image, label: label, split: splits[index], attributes: attributes.vector,
                                   keypoints: bird.keypoints, box: bird.box, partMask: bird.partMask)
        return (sample, attributes, bird)
    }

    /// Renders images `range` on `threads` threads, in index order.
    public func renderBatch(_ range: Range<Int>, threads: Int) -> [DatasetSample] {
        let n = range.count
        var out = [DatasetSample?](repeating: nil, count: n)
        out.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            let workers = max(1, min(threads, n))
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                for j in stride(from: w, to: n, by: workers) {
                    (base + j).pointee = render(range.lowerBound + j).sample
                }
            }
        }
        return out.map { $0! }
    }

    /// Writes the whole dataset to images.h5 in batches (memory stays bounded by the batch
    /// and the small per-image arrays); `progress` is called with each batch's size.
    public func write(to file: H5File, threads: Int, batchSize: Int = 512, progress: (Int) -> Void = { _ in }) throws {
        let writer = try ImagesWriter(file: file, header: header)
        // Render batch k + 1 while batch k is compressed and written: the two take about
        // as long as each other, so overlapping them nearly halves the wall time.
        let batches = stride(from: 0, to: count, by: batchSize).map { $0..<min(count, $0 + batchSize) }
        var current = renderBatch(batches[0], threads: threads)
        for (k, batch) in batches.enumerated() {
            let group = DispatchGroup()
            nonisolated(unsafe) var next: [DatasetSample] = []
            if k + 1 < batches.count {
                DispatchQueue.global().async(group: group) { next = self.renderBatch(batches[k + 1], threads: threads) }
            }
            try writer.append(current)
            group.wait()
            progress(batch.count)
            current = next
        }
        try writer.finish(classAttributes: nil)
    }

    /// A contact sheet of the first `count` images with class names and breast/wing colours.
    public func preview(count: Int = 64, threads: Int) -> RGBImage {
        let n = min(count, self.count)
        var tiles = [(image: RGBImage, caption: [String])?](repeating: nil, count: n)
        tiles.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            let workers = max(1, min(threads, n))
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                for i in stride(from: w, to: n, by: workers) {
                    let (sample, a, _) = render(i)
                    func value(_ g: BirdGroup) -> String { g.group.values[a[g]] }
                    (base + i).pointee = (sample.image, [profiles[sample.label].name,
                                                         "\(value(.breastColor)) breast \(value(.wingColor)) wing"])
                }
            }
        }
        return ContactSheet.make(tiles.map { $0! }, columns: 8, minTile: 96, maxLines: 4)
    }
}
