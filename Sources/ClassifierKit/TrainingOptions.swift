import ArgumentParser
import Foundation
import NeuralNet
import PipelineKit

/// Learning-rate schedules selectable on the command line.
public enum ScheduleKind: String, ExpressibleByArgument, CaseIterable, Sendable {
    case constant, step, cosine
    case oneCycle = "one-cycle"
}

/// The optimisation options `train` and `adv-train` share.
public struct TrainingOptions: ParsableArguments {
    @Option(help: "Epochs to train.")
    public var epochs = 30
    @Option(help: "Images per SGD step.")
    public var batchSize = 128
    @Option(help: "Base learning rate.")
    public var learningRate: Float = 0.1
    @Option(help: "SGD momentum.")
    public var momentum: Float = 0.9
    @Option(help: "L2 weight decay.")
    public var weightDecay: Float = 5e-4
    @Flag(help: "Use Nesterov momentum.")
    public var nesterov = false
    @Option(help: "Learning-rate schedule: constant, step (×gamma every --step-size epochs), cosine (to 0 at the last epoch) or one-cycle (PyTorch's OneCycleLR, per batch, peak = --learning-rate).")
    public var schedule = ScheduleKind.cosine
    @Option(help: "Epochs between learning-rate drops (step schedule).")
    public var stepSize = 10
    @Option(help: "Learning-rate factor at each drop (step schedule).")
    public var gamma: Float = 0.1
    @Option(help: "Fraction of the steps warming up (one-cycle schedule).")
    public var warmup: Float = 0.15
    @Option(help: "Start rate = peak / this factor (one-cycle schedule).")
    public var divFactor: Float = 25
    @Option(help: "Final rate = start rate / this factor (one-cycle schedule).")
    public var finalDivFactor: Float = 1e4
    @Option(help: "Padding of the random crops: reflect (mirror the border, like PyTorch's padding_mode='reflect') or zero.")
    public var padMode = PadMode.reflect
    @Flag(help: "Train without random-crop and flip augmentation.")
    public var noAugment = false
    @Flag(help: "Augment with a random resized crop (area 8–100 %, aspect 3/4–4/3, as torchvision) + flip instead of the padded crop: the ImageNet fine-tuning recipe.")
    public var resizedCrop = false
    @Flag(help: "Continue from the checkpoint (<output>.checkpoint) if it matches these settings and inputs.")
    public var resume = false

    public init() {}

    public func validate() throws {
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        guard (1...65536).contains(batchSize) else { throw ValidationError("--batch-size must be in 1...65536, got \(batchSize)") }
        guard learningRate > 0 && learningRate.isFinite else {
            throw ValidationError("--learning-rate must be a finite positive number, got \(learningRate)")
        }
        guard momentum >= 0 && momentum.isFinite, weightDecay >= 0 && weightDecay.isFinite else {
            throw ValidationError("--momentum and --weight-decay must be finite and non-negative, got \(momentum) and \(weightDecay)")
        }
        guard gamma > 0 && gamma.isFinite else { throw ValidationError("--gamma must be a finite positive number, got \(gamma)") }
        guard stepSize >= 1 else { throw ValidationError("--step-size must be at least 1, got \(stepSize)") }
        guard warmup > 0, warmup < 1 else { throw ValidationError("--warmup must be in (0, 1), got \(warmup)") }
        guard divFactor >= 1, finalDivFactor >= 1 else {
            throw ValidationError("--div-factor and --final-div-factor must be at least 1")
        }
    }

    /// The settings for a dataset of `imageSize`-pixel images.
    public func settings(imageSize: Int, seed: UInt64) -> TrainingSettings {
        let lrSchedule: LRSchedule = switch schedule {
        case .constant: .constant
        case .step: .step(size: stepSize, gamma: gamma)
        case .cosine: .cosine(total: epochs, minimum: 0)
        case .oneCycle: .oneCycle(epochs: epochs, warmup: warmup, divFactor: divFactor, finalDivFactor: finalDivFactor)
        }
        return TrainingSettings(epochs: epochs, batchSize: batchSize, learningRate: learningRate, momentum: momentum,
                                weightDecay: weightDecay, nesterov: nesterov, schedule: lrSchedule,
                                augmentation: noAugment ? nil : augmentation(imageSize: imageSize), seed: seed)
    }

    func augmentation(imageSize: Int) -> Augmentation {
        var augmentation = Augmentation.standard(imageSize: imageSize, mode: padMode)
        if resizedCrop { augmentation.resizedCrop = .imagenet }
        return augmentation
    }

    /// The options as provenance parameters.
    public var parameters: [String: Any] {
        ["epochs": epochs, "batch_size": batchSize, "learning_rate": Double(learningRate), "momentum": Double(momentum),
         "weight_decay": Double(weightDecay), "nesterov": nesterov, "schedule": schedule.rawValue,
         "step_size": stepSize, "gamma": Double(gamma), "augment": !noAugment]
            .merging(schedule == .oneCycle ? ["warmup": Double(warmup), "div_factor": Double(divFactor),
                                               "final_div_factor": Double(finalDivFactor)] : [:]) { $1 }
            .merging(noAugment ? [:] : ["pad_mode": padMode.rawValue]) { $1 }
            .merging(resizedCrop ? ["resized_crop": true] : [:]) { $1 }
    }
}
