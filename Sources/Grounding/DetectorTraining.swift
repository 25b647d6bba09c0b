import ClassifierKit
import Foundation
import NeuralNet
import PipelineKit
import Randomness
import Tensors

/// Trains the attribute detector on a dataset's part truth: Adam over shuffled
/// batches of the training split (seeded), a cosine learning-rate decay, and the loss of
/// `DetectorLoss`. Then measures it on the clean test images (`DetectorAccuracy`).
public struct DetectorTraining {
    public var widths: [Int]
    public var epochs: Int
    public var batchSize: Int
    public var learningRate: Float
    public var seed: UInt64

    public init(widths: [Int], epochs: Int, batchSize: Int, learningRate: Float, seed: UInt64) {
        self.widths = widths; self.epochs = epochs; self.batchSize = batchSize; self.learningRate = learningRate
        self.seed = seed
    }

    /// The trained detector. `log(epoch, part loss, attribute loss)` after every epoch,
    /// `progress(images)` after every batch.
    public func train(images: ImageSet, truth: DatasetTruth, parts: AttributeParts, log: (Int, Double, Double) -> Void,
                      progress: (Int) -> Void) throws -> AttributeDetector {
        guard let present = truth.imageAttributes, truth.hasMasks else {
            throw StageError("\(truth.path): no part truth (part_masks and image_attributes): detector route unavailable")
        }
        let a = truth.attributeNames.count
        var detector = AttributeDetector(widths: widths, partCount: truth.partNames.count, attributeCount: a, seed: seed)
        var optimizer = Adam(learningRate: learningRate)
        let train = images.indices(of: .train)
        guard !train.isEmpty else { throw StageError("\(images.path): no training images") }
        let stepsPerEpoch = (train.count + batchSize - 1) / batchSize
        // The training split stays in memory (1 byte per pixel, as the classifier's training
        // loop keeps it), images and masks: each epoch visits it in a new order, and reading 16
        // shuffled rows per batch decompressed whole 1 MB chunks of images.h5 again and again
        // (about half of train-detector's time, measured with perf).
        let pixels = truth.imageSize * truth.imageSize
        let rawImages = try images.loadRaw(train), trainMasks = try truth.masks(train)
        let slot = Dictionary(uniqueKeysWithValues: train.enumerated().map { ($1, $0) })
        var rng = SplitMix(seed: seed, stream: 1)
        for epoch in 0..<epochs {
            let order = rng.permutation(train.count).map { train[$0] }
            var partSum = 0.0, attributeSum = 0.0
            for (step, start) in stride(from: 0, to: order.count, by: batchSize).enumerated() {
                // Rows in file order within a batch: one read per run of consecutive rows.
                let rows = order[start..<min(start + batchSize, order.count)].sorted()
                var raw = [UInt8](); raw.reserveCapacity(rows.count * pixels * 3)
                for row in rows { raw += rawImages[(slot[row]! * pixels * 3)..<((slot[row]! + 1) * pixels * 3)] }
                let x = ImageLayout.tensor(fromNHWC: raw, count: rows.count, size: truth.imageSize)
                let masks = rows.map { trainMasks[slot[$0]!] }
                var targets = [Float](repeating: 0, count: rows.count * a)
                for (i, row) in rows.enumerated() {
                    for j in 0..<a { targets[i * a + j] = present[row * a + j] >= 0.5 ? 1 : 0 }
                }
                let (logits, trace) = try detector.forwardInLayout(x)
                let loss = DetectorLoss.lossAndGradient(logits: logits, masks: masks, present: targets, partCount: detector.partCount,
                                                        attributeParts: parts, layout: trace.layout)
                partSum += loss.part; attributeSum += loss.attribute
                let grads = detector.backward(loss.gradient, trace: trace, inLayout: true)
                let progressFraction = Float(epoch * stepsPerEpoch + step) / Float(epochs * stepsPerEpoch)
                optimizer.learningRate = learningRate * 0.5 * (1 + cosf(Float.pi * progressFraction))
                detector.update(with: grads, optimizer: &optimizer)
                progress(rows.count)
            }
            log(epoch + 1, partSum / Double(stepsPerEpoch), attributeSum / Double(stepsPerEpoch))
        }
        return detector
    }

    /// The detector's accuracy on the clean images of `split`, in batches.
    public static func accuracy(_ detector: AttributeDetector, images: ImageSet, truth: DatasetTruth, parts: AttributeParts,
                                split: DataSplit = .test, batchSize: Int = 128) throws -> DetectorAccuracy {
        var accuracy = DetectorAccuracy()
        guard let present = truth.imageAttributes, truth.hasMasks else { return accuracy }
        let rows = images.indices(of: split)
        let a = truth.attributeNames.count
        for start in stride(from: 0, to: rows.count, by: batchSize) {
            let batch = Array(rows[start..<min(start + batchSize, rows.count)])
            let detections = try detector.detect(try images.batch(batch), attributeParts: parts)
            let masks = try truth.masks(batch)
            for (i, row) in batch.enumerated() {
                accuracy.add(detections[i], mask: masks[i], size: truth.imageSize, present: present[(row * a)..<((row + 1) * a)],
                             attributeParts: parts, attributeNames: truth.attributeNames)
            }
        }
        return accuracy
    }
}

/// Adam (Kingma & Ba), PyTorch's defaults (β 0.9, 0.999, ε 1e-8), per named parameter: the
/// detector's few thousand steps need it (plain SGD left it predicting background); so do the
/// attribute prototypes (`fit-apn`, `train --apn-aux`).
public struct Adam {
    public var learningRate: Float
    public let beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8
    /// First and second moments and step count per parameter key (a checkpoint keeps them).
    public var moments: [String: (m: [Float], v: [Float], t: Int)] = [:]

    public init(learningRate: Float) { self.learningRate = learningRate }

    public mutating func update(_ p: inout [Float], gradient g: [Float], key: String) {
        var (m, v, t) = moments.removeValue(forKey: key) ?? ([Float](repeating: 0, count: p.count), [Float](repeating: 0, count: p.count), 0)
        t += 1
        let c1 = 1 - powf(beta1, Float(t)), c2 = 1 - powf(beta2, Float(t))
        for i in p.indices {
            m[i] = beta1 * m[i] + (1 - beta1) * g[i]
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
            p[i] -= learningRate * (m[i] / c1) / ((v[i] / c2).squareRoot() + epsilon)
        }
        moments[key] = (m, v, t)
    }
}

extension AttributeDetector {
    /// One optimiser step with `grads` in the `parameters` order.
    mutating func update(with grads: [Tensor], optimizer: inout Adam) {
        var index = 0
        func step(_ t: inout Tensor, _ key: String) {
            var values = t.data
            optimizer.update(&values, gradient: grads[index].data, key: key)
            t = Tensor(shape: t.shape, data: values)
            index += 1
        }
        for i in convs.indices {
            step(&convs[i].weight, "conv\(i).weight")
            var bias = convs[i].bias!
            step(&bias, "conv\(i).bias")
            convs[i].bias = bias
        }
        step(&head.weight, "head.weight")
        var bias = head.bias!
        step(&bias, "head.bias")
        head.bias = bias
    }
}
