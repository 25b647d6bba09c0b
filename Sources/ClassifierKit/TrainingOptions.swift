import ArgumentParser
import Foundation
import NeuralNet
import PipelineKit

/// Learning-rate schedules selectable on the command line.
public enum ScheduleKind: String, ExpressibleByArgument, CaseIterable, Sendable {
    case constant, step, cosine
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
    @Option(help: "Learning-rate schedule: constant, step (×gamma every --step-size epochs) or cosine (to 0 at the last epoch).")
    public var schedule = ScheduleKind.cosine
    @Option(help: "Epochs between learning-rate drops (step schedule).")
    public var stepSize = 10
    @Option(help: "Learning-rate factor at each drop (step schedule).")
    public var gamma: Float = 0.1
    @Flag(help: "Train without random-crop and flip augmentation.")
    public var noAugment = false
    @Flag(help: "Continue from the checkpoint (<output>.checkpoint) if it matches these settings and inputs.")
    public var resume = false

    public init() {}

    public func validate() throws {
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        guard learningRate > 0 else { throw ValidationError("--learning-rate must be positive, got \(learningRate)") }
        guard momentum >= 0, weightDecay >= 0 else { throw ValidationError("--momentum and --weight-decay must be non-negative") }
        guard stepSize >= 1 else { throw ValidationError("--step-size must be at least 1, got \(stepSize)") }
    }

    /// The settings for a dataset of `imageSize`-pixel images.
    public func settings(imageSize: Int, seed: UInt64) -> TrainingSettings {
        let lrSchedule: LRSchedule = switch schedule {
        case .constant: .constant
        case .step: .step(size: stepSize, gamma: gamma)
        case .cosine: .cosine(total: epochs, minimum: 0)
        }
        return TrainingSettings(epochs: epochs, batchSize: batchSize, learningRate: learningRate, momentum: momentum,
                                weightDecay: weightDecay, nesterov: nesterov, schedule: lrSchedule,
                                augmentation: noAugment ? nil : .standard(imageSize: imageSize), seed: seed)
    }

    /// The options as provenance parameters.
    public var parameters: [String: Any] {
        ["epochs": epochs, "batch_size": batchSize, "learning_rate": Double(learningRate), "momentum": Double(momentum),
         "weight_decay": Double(weightDecay), "nesterov": nesterov, "schedule": schedule.rawValue,
         "step_size": stepSize, "gamma": Double(gamma), "augment": !noAugment]
    }
}
