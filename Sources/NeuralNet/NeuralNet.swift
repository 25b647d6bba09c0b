/// # NeuralNet: ResNets for attacks, training and feature extraction
///
/// Float32 NCHW tensors (`Tensor`, module `Tensors`), images in [0, 1]; each model
/// normalises its input itself, so attack budgets are in pixel units.
///
/// ```swift
/// Engine.configure(threads: common.threads)                 // once, from --threads
/// let model = try ResNet.load(from: "models/standard.h5")   // model file (docs/design.md § Artifact schemas)
/// let logits = try model.logits(x, mode: .eval)             // x: (N, 3, H, W) → (N, K)
/// let feats = try model.features(x)                         // (N, D), after global average pooling
/// let (loss, dx, _) = try model.lossAndInputGradient(x, labels: y)   // attack step, no weight grads
/// let sgd = try SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 5e-4)
/// try model.trainStep(x, labels: y, optimizer: sgd)         // train mode, one update
/// var (l, _, g) = try model.lossAndGradients(x, labels: y)  // custom mixes: g.add(g2, scale:), sgd.step(model, gradients:)
/// try model.save(to: file)                                  // into an open H5File
/// let fresh = ResNet(config: try .named("cifar-resnet20", numClasses: 10), seed: 1)
/// let imported = try ResNet.importSafetensors(path: "resnet18.safetensors")
/// ```
///
/// Layers (`Conv2d`, `BatchNorm2d`, `ReLU`, `MaxPool2d`, `GlobalAvgPool`, `Linear`,
/// `ResidualAdd`, `CrossEntropy`, `Normalize`) each have a forward returning a cache and a
/// backward taking it, returning the input gradient always and parameter gradients when
/// asked. Train or eval is always an argument (`Mode`). Models use the fused `ConvBN` unit.
/// Learning-rate schedules: `LRSchedule`. Errors for bad input: `TensorError`,
/// `StateDictMismatch`, `SafetensorsError`, `ModelFileError`.
///
/// Threads and speed: `Engine.configure(threads:)` sets the worker count for every kernel;
/// OpenBLAS itself runs single-threaded and the engine splits GEMMs by image groups (its
/// idle workers would otherwise spin on the cores the other kernels need). Convolutions are
/// im2col + sgemm with several images per GEMM on small maps, 1×1 stride-1 convolutions as
/// plain GEMMs, stride-1 input gradients as convolutions with the flipped kernel; eval mode
/// folds batch norm into the convolutions and applies bias, residual and ReLU as the GEMM
/// result is written. A model instance is not for concurrent use from several threads.
public enum NeuralNetModule {
    /// Version of the model-file layout written by `ResNet.save`.
    public static let modelFileVersion = 1
}
@_exported import Tensors
