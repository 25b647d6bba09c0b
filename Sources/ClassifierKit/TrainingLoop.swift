import Foundation
import HDF5Store
import NeuralNet
import PipelineKit

/// Settings shared by `train` and `adv-train`.
public struct TrainingSettings: Sendable {
    public var epochs: Int
    public var batchSize: Int
    public var learningRate: Float
    public var momentum: Float
    public var weightDecay: Float
    public var nesterov: Bool
    public var schedule: LRSchedule
    public var augmentation: Augmentation?
    public var seed: UInt64

    public init(epochs: Int, batchSize: Int, learningRate: Float, momentum: Float, weightDecay: Float, nesterov: Bool,
                schedule: LRSchedule, augmentation: Augmentation?, seed: UInt64) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        self.schedule = schedule
        self.augmentation = augmentation
        self.seed = seed
    }
}

/// One batch handed to a training step.
public struct TrainingBatch {
    /// Augmented images (N, 3, H, W) in [0, 1].
    public var images: Tensor
    public var labels: [Int]
    /// Rows of the images in images.h5 (keys for per-image random streams).
    public var imageIndices: [Int]
    /// 0-based epoch.
    public var epoch: Int
}

/// What one training step reports, summed over an epoch for the log.
public struct StepReport {
    public var loss: Float
    /// Correct predictions per named metric in this batch (e.g. "train_accuracy", "train_adv_accuracy").
    public var correct: [String: Int]
    public init(loss: Float, correct: [String: Int]) { self.loss = loss; self.correct = correct }
}

/// The per-epoch log of a training run: one column per metric, one row per epoch.
public struct TrainingLog: Sendable {
    public var columns: [String: [Double]] = [:]
    public var epochs: Int { columns["epoch"]?.count ?? 0 }

    public mutating func append(_ row: [String: Double]) {
        let count = epochs
        for (key, value) in row {
            var column = columns[key] ?? [Double](repeating: .nan, count: count)
            column.append(value)
            columns[key] = column
        }
        for key in columns.keys where columns[key]!.count == count { columns[key]!.append(.nan) }
    }

    /// Writes each column as `training/<name>` float64 [epochs].
    public func write(to file: H5File, group: String = "training") throws {
        for (key, values) in columns.sorted(by: { $0.key < $1.key }) {
            try file.write("\(group)/\(key)", values, shape: [values.count])
        }
    }

    /// Reads the columns under `group`.
    public static func read(from file: H5File, group: String = "training") throws -> TrainingLog {
        var log = TrainingLog()
        guard file.isGroup(group) else { return log }
        for name in try file.childNames(group) where file.isDataset("\(group)/\(name)") {
            log.columns[name] = try file.read("\(group)/\(name)", as: Double.self).data
        }
        return log
    }
}

/// The epoch loop of `train` and `adv-train`: shuffled batches of augmented images, SGD
/// with a learning-rate schedule, validation accuracy each epoch, and a checkpoint after
/// every epoch from which an interrupted run resumes to the same final weights (every
/// random draw is keyed by seed, epoch and image, not by the draws before it).
public final class TrainingLoop {
    public let model: ResNet
    public let optimizer: SGD
    public let settings: TrainingSettings
    public let images: ImageSet
    public let trainIndices: [Int]
    public let valIndices: [Int]
    public let checkpointPath: String
    /// Identifies the run's settings and inputs; a checkpoint with another fingerprint is ignored.
    public let fingerprint: String
    public private(set) var log = TrainingLog()
    /// Trained values outside the model (an auxiliary head's parameters: `train --apn-aux`) by
    /// key, kept with every checkpoint and restored on resume (empty when starting afresh).
    public var auxiliary: [String: [Float]] = [:]
    /// The ranks of a data-parallel run (nil: one process). Each rank trains on its slice
    /// of every global batch; only rank 0 writes checkpoints (and, in the stages, models).
    public let communicator: Communicator?
    private var firstEpoch = 0
    private let trainRaw: [UInt8]

    /// Prepares the loop; with `resume`, continues from a matching checkpoint if one exists.
    /// With a `communicator` the model is attached to it (synchronised batch norm and
    /// gradients) and every global batch must give each rank at least one image.
    public init(model: ResNet, images: ImageSet, settings: TrainingSettings, checkpointPath: String,
                fingerprint: String, resume: Bool, communicator: Communicator? = nil) throws {
        self.images = images
        self.communicator = communicator
        self.settings = settings
        self.checkpointPath = checkpointPath
        self.fingerprint = fingerprint
        trainIndices = images.indices(of: .train)
        valIndices = images.indices(of: .val)
        guard !trainIndices.isEmpty else { throw StageError("\(images.path): the train split is empty") }
        if let communicator {
            let ranks = communicator.replicaCount, last = trainIndices.count % settings.batchSize
            guard settings.batchSize >= ranks, last == 0 || last >= ranks else {
                throw StageError("\(ranks) ranks need at least one image each in every batch: batch size \(settings.batchSize), "
                                 + "\(trainIndices.count) training images (last batch \(last == 0 ? settings.batchSize : last)); "
                                 + "choose another --batch-size or fewer ranks")
            }
            model.dataParallel = DataParallel(group: communicator)
        }
        optimizer = try SGD(learningRate: settings.learningRate, momentum: settings.momentum,
                            weightDecay: settings.weightDecay, nesterov: settings.nesterov)
        // Checked before the first epoch: the checkpoint is written after each one, and a
        // directory (or FIFO) in its place would fail every run only then.
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: checkpointPath, isDirectory: &isDirectory) {
            var status = stat()
            guard !isDirectory.boolValue, lstat(checkpointPath, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
                throw StageError("\(checkpointPath): the checkpoint path is taken by something that is not a file "
                                 + "(a directory?); training writes its checkpoint there after every epoch: move it away")
            }
        }
        var model = model
        if resume, FileManager.default.fileExists(atPath: checkpointPath) {
            do {
                let state = try Self.readCheckpoint(checkpointPath, fingerprint: fingerprint, epochs: settings.epochs)
                state.model.frozenUntil = model.frozenUntil
                state.model.dataParallel = model.dataParallel
                model = state.model
                optimizer.restoreBuffers(state.buffers)
                auxiliary = state.auxiliary
                log = state.log
                firstEpoch = state.completedEpochs
                Log.info("resuming from \(checkpointPath) after epoch \(firstEpoch) of \(settings.epochs)")
            } catch {
                // A checkpoint is only ever replaced whole, but it may still be damaged (a
                // disk error) or belong to other settings: never let it block the run.
                Log.warning("\(checkpointPath) cannot be resumed (\(error)); starting afresh")
            }
        }
        self.model = model
        trainRaw = try images.loadRaw(trainIndices)
        noteResumePoint()
    }

    /// Runs the remaining epochs. `step` does one update on a batch and reports its loss
    /// and correct counts; `evaluate` adds per-epoch metrics (beyond clean validation
    /// accuracy, which the loop measures itself).
    public func run(stage: String, step: (TrainingBatch) throws -> StepReport,
                    evaluate: ((Int) throws -> [String: Double])? = nil) throws {
        let size = images.imageSize
        let pixels = size * size * 3
        for epoch in firstEpoch..<settings.epochs {
            let start = Date()
            let communicationBefore = model.dataParallel?.communicationSeconds ?? 0
            optimizer.learningRate = settings.schedule.rate(base: settings.learningRate, epoch: epoch)
            var rng = SampleRandom.generator(seed: settings.seed, .shuffle, epoch)
            let order = rng.permutation(trainIndices.count)
            let progress = Progress("\(stage) epoch \(epoch + 1)/\(settings.epochs)", total: order.count)
            var lossSum = 0.0
            var correct: [String: Int] = [:]
            let stepsPerEpoch = (order.count + settings.batchSize - 1) / settings.batchSize
            for batchStart in stride(from: 0, to: order.count, by: settings.batchSize) {
                if settings.schedule.isPerStep {
                    optimizer.learningRate = settings.schedule.rate(base: settings.learningRate, epoch: epoch,
                                                                    step: batchStart / settings.batchSize,
                                                                    stepsPerEpoch: stepsPerEpoch)
                }
                let global = order[batchStart..<min(batchStart + settings.batchSize, order.count)]
                let positions: [Int]
                if let communicator {
                    // This rank's slice of the global batch; its loss is weighted by its share.
                    let slice = communicator.slice(of: global.count)
                    positions = Array(global.dropFirst(slice.lowerBound).prefix(slice.count))
                    model.dataParallel?.localShare = Double(slice.count) / Double(global.count)
                } else {
                    positions = Array(global)
                }
                let indices = positions.map { trainIndices[$0] }
                var raw = [UInt8](repeating: 0, count: positions.count * pixels)
                for (row, position) in positions.enumerated() {
                    raw.replaceSubrange((row * pixels)..<((row + 1) * pixels),
                                        with: trainRaw[(position * pixels)..<((position + 1) * pixels)])
                }
                let x = settings.augmentation.map {
                    $0.apply(raw[...], count: positions.count, size: size, imageIndices: indices, epoch: epoch, seed: settings.seed)
                } ?? ImageLayout.tensor(fromNHWC: raw, count: positions.count, size: size)
                let labels = indices.map { Int(images.labels[$0]) }
                let report = try step(TrainingBatch(images: x, labels: labels, imageIndices: indices, epoch: epoch))
                guard report.loss.isFinite else {
                    throw StageError("\(stage): training diverged: the loss is \(report.loss) at epoch \(epoch + 1), step "
                                     + "\(batchStart / settings.batchSize + 1) of \((order.count + settings.batchSize - 1) / settings.batchSize) "
                                     + "(learning rate \(optimizer.learningRate)); no model written — try a lower --learning-rate")
                }
                lossSum += Double(report.loss) * Double(positions.count)
                for (key, value) in report.correct { correct[key, default: 0] += value }
                progress.advance(by: global.count)
            }
            progress.finish()
            let trainSeconds = Date().timeIntervalSince(start)
            if let (key, _) = model.stateDict().first(where: { !$0.value.data.allSatisfy(\.isFinite) }) {
                throw StageError("\(stage): training diverged: parameter '\(key)' is not finite after epoch \(epoch + 1); "
                                 + "no model written — try a lower --learning-rate")
            }
            if let communicator {   // loss and counts over every rank's images
                let keys = correct.keys.sorted()
                var totals = [lossSum] + keys.map { Double(correct[$0]!) }
                communicator.sum(&totals)
                lossSum = totals[0]
                for (i, key) in keys.enumerated() { correct[key] = Int(totals[i + 1]) }
            }
            var row: [String: Double] = [
                "epoch": Double(epoch + 1), "learning_rate": Double(optimizer.learningRate),
                "train_loss": lossSum / Double(order.count),
                "val_accuracy": try accuracy(of: valIndices),
            ]
            for (key, value) in correct { row[key] = Double(value) / Double(order.count) }
            if let evaluate { row.merge(try evaluate(epoch)) { $1 } }
            row["seconds"] = Date().timeIntervalSince(start)
            if let parallel = model.dataParallel {   // this rank's time in allreduces, this epoch
                row["communication_seconds"] = parallel.communicationSeconds - communicationBefore
                row["train_seconds"] = trainSeconds
            }
            log.append(row)
            Log.info("\(stage) epoch \(epoch + 1): " + row.filter { $0.key != "epoch" }.sorted { $0.key < $1.key }
                .map { String(format: "%@ %.4g", $0.key, $0.value) }.joined(separator: ", "))
            try saveCheckpoint(completedEpochs: epoch + 1)
        }
    }

    /// Clean eval-mode accuracy of the current model on `indices` (0 when empty).
    /// In a data-parallel run every rank must call it: each evaluates its slice.
    public func accuracy(of indices: [Int], batchSize: Int = 256) throws -> Double {
        guard !indices.isEmpty else { return 0 }
        let correct = try countAcrossRanks(indices) { mine in
            var correct = 0
            for start in stride(from: 0, to: mine.count, by: batchSize) {
                let batch = Array(mine[start..<min(start + batchSize, mine.count)])
                let predictions = try model.predict(try images.batch(batch))
                correct += zip(predictions, batch).filter { $0 == Int(images.labels[$1]) }.count
            }
            return correct
        }
        return Double(correct) / Double(indices.count)
    }

    /// Reads a checkpoint written by `saveCheckpoint`, throwing if it cannot be resumed:
    /// unreadable, written under another fingerprint (settings, inputs or seed), or with an
    /// epoch count or log that does not fit this run.
    static func readCheckpoint(_ path: String, fingerprint: String, epochs: Int)
        throws -> (model: ResNet, buffers: [String: [Float]], auxiliary: [String: [Float]], log: TrainingLog, completedEpochs: Int) {
        let file = try H5File.open(path)
        defer { file.close() }
        guard (try? file.attribute("fingerprint").stringValue) == fingerprint else {
            throw StageError("it was made with other settings, inputs or seed")
        }
        let model = try ResNet.load(from: file)
        var buffers: [String: [Float]] = [:]
        if file.isGroup("optimizer") {
            for key in try file.childNames("optimizer") {
                buffers[key] = try file.read("optimizer/\(key)", as: Float.self).data
            }
        }
        var auxiliary: [String: [Float]] = [:]
        if file.isGroup("auxiliary") {
            for key in try file.childNames("auxiliary") {
                auxiliary[key] = try file.read("auxiliary/\(key)", as: Float.self).data
            }
        }
        let log = try TrainingLog.read(from: file)
        let completed = Int(try file.attribute("completed_epochs").intValue ?? -1)
        guard (1...epochs).contains(completed), log.epochs == completed else {
            throw StageError("\(path): completed_epochs \(completed) and a log of \(log.epochs) epoch(s) do not fit a run of \(epochs)")
        }
        return (model, buffers, auxiliary, log, completed)
    }

    /// Σ over ranks of `count` applied to each rank's contiguous slice of `indices` (all of
    /// them in a single process). Every rank must call it, in the same order.
    public func countAcrossRanks(_ indices: [Int], _ count: ([Int]) throws -> Int) rethrows -> Int {
        guard let communicator else { return try count(indices) }
        let slice = communicator.slice(of: indices.count)
        var total = [Double(slice.isEmpty ? 0 : try count(Array(indices[slice])))]
        communicator.sum(&total)
        return Int(total[0])
    }

    /// Whether this process writes files: always, except on the non-zero ranks of a data-parallel run.
    public var isWriter: Bool { (communicator?.rank ?? 0) == 0 }

    /// Writes the checkpoint atomically: model, optimizer buffers, log, epochs done.
    func saveCheckpoint(completedEpochs: Int) throws {
        guard isWriter else { return }
        try AtomicOutput.write(to: checkpointPath) { temporary in
            let file = try H5File.create(temporary)
            defer { file.close() }
            try model.save(to: file)
            for (key, buffer) in optimizer.buffers { try file.write("optimizer/\(key)", buffer, shape: [buffer.count]) }
            for (key, values) in auxiliary { try file.write("auxiliary/\(key)", values, shape: [values.count]) }
            try log.write(to: file)
            try file.setAttribute("fingerprint", .string(fingerprint))
            try file.setAttribute("completed_epochs", .int(Int64(completedEpochs)))
            try file.flushAndClose()
        }
        noteResumePoint(completedEpochs)
    }

    /// On rank 0 of a data-parallel run, what an interruption (the launcher stopping the job
    /// after another rank died) prints: no model, and where --resume continues.
    func noteResumePoint(_ completedEpochs: Int? = nil) {
        guard let communicator, communicator.rank == 0, communicator.replicaCount > 1 else { return }
        let epochs = completedEpochs ?? firstEpoch
        let resume = epochs > 0 ? "Rerun with --resume to continue from \(checkpointPath) (after epoch \(epochs)) with any number of ranks."
                                : "No epoch was finished, so there is no checkpoint yet: rerun to start again."
        InterruptionNote.set("rank 0 of \(communicator.replicaCount): the job was stopped, most likely because another rank died "
                             + "(see the launcher's message); no model was written. " + resume)
    }

    /// Removes the checkpoint once the final model is in place.
    public func removeCheckpoint() {
        guard isWriter else { return }
        try? FileManager.default.removeItem(atPath: checkpointPath)
    }
}
