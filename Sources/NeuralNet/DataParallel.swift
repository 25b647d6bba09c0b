import Dispatch
import Tensors

/// The other replicas of a data-parallel run (MPI ranks), as far as the engine needs them:
/// element-wise sums across replicas. Every replica makes the same calls in the same order
/// with arrays of the same length; a sum returns only when every replica has contributed.
public protocol ReplicaGroup: AnyObject {
    /// Number of replicas (1: a single process).
    var replicaCount: Int { get }
    /// Replaces `values` by their element-wise sum over every replica.
    func sum(_ values: inout [Double])
    /// Replaces `values` by their element-wise sum over every replica.
    func sum(_ values: inout [Float])
}

/// Synchronised batch norm and gradient reduction for data-parallel training (PyTorch's
/// SyncBatchNorm and DistributedDataParallel), attached to a model as `dataParallel`.
///
/// Each replica holds a disjoint slice of the global batch and a `localShare` = its
/// images / the global batch's. Its loss is the mean over its slice, so the global mean
/// loss is Σ share·(local loss): gradients are scaled by the share and summed. Train-mode
/// batch norms use the statistics of the whole global batch: the forward sums Σx and
/// Σ(x − mean)² and the backward sums Σg and Σg·(x − mean) are summed across replicas
/// (the backward's at the share's scale). With one replica every result equals the
/// single-process engine's up to the order of floating-point sums.
public final class DataParallel {
    public let group: ReplicaGroup
    /// This replica's images / the global batch's images, set before every step (> 0).
    public var localShare: Double = 1
    /// Wall time spent inside the group's sums (communication plus waiting for the slowest
    /// replica), for the log's communication share.
    public private(set) var communicationSeconds = 0.0

    public init(group: ReplicaGroup) { self.group = group }

    private func timed(_ body: () -> Void) {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        communicationSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
    }

    /// Mean and biased variance (C) of x (N, C, H, W) over the global batch, and the
    /// global number of values per channel.
    func statistics(_ x: Tensor) -> (mean: [Float], variance: [Float], count: Int) {
        let (n, c, p) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        var sums = [Double](repeating: 0, count: c + 1)
        x.withPointer { BatchNormKernels.channelTotals(x: $0, batch: n, channels: c, plane: p, center: nil, totals: &sums) }
        sums[c] = Double(n * p)
        timed { group.sum(&sums) }
        let m = sums[c]
        let mean = (0..<c).map { Float(sums[$0] / m) }
        var squares = [Double](repeating: 0, count: c)
        x.withPointer { xp in mean.withUnsafeBufferPointer {
            BatchNormKernels.channelTotals(x: xp, batch: n, channels: c, plane: p, center: $0.baseAddress, totals: &squares)
        } }
        timed { group.sum(&squares) }
        return (mean, squares.map { Float($0 / m) }, Int(m))
    }

    /// Training-mode batch-norm backward over the global batch (see
    /// `BatchNormKernels.trainBackward`): dx from the summed Σg and Σg·(x − mean); dγ and
    /// dβ from this replica's sums only (the gradient reduction adds the others').
    func batchNormBackward(_ dy: Tensor, reluOutput: Tensor?, cache: BatchNorm2d.Cache, gamma: [Float])
        -> (dx: Tensor, dgamma: [Float], dbeta: [Float]) {
        let x = cache.input
        let (n, c, p) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        var sumG = [Float](repeating: 0, count: c), sumGX = sumG
        dy.withPointer { dyp in x.withPointer { xp in withOptionalPointer(reluOutput) { mp in
            BatchNormKernels.channelSums(dy: dyp, mask: mp, x: xp, center: cache.mean, batch: n, channels: c, plane: p,
                                         sum: &sumG, sumCentered: &sumGX)
        } } }
        var totals = (sumG + sumGX).map { Double($0) * localShare }
        totals.append(Double(n * p))
        timed { group.sum(&totals) }
        let m = totals[2 * c]
        let globalG = (0..<c).map { Float(totals[$0] / localShare) }
        let globalGX = (0..<c).map { Float(totals[c + $0] / localShare) }
        let dx = Tensor(shape: x.shape) { out in
            dy.withPointer { dyp in x.withPointer { xp in withOptionalPointer(reluOutput) { mp in
                BatchNormKernels.trainBackwardInput(dy: dyp, reluOutput: mp, x: xp, mean: cache.mean, invstd: cache.invstd,
                                                    gamma: gamma, sumG: globalG, sumGX: globalGX, count: Float(m),
                                                    batch: n, channels: c, plane: p, dx: out)
            } } }
        }
        return (dx, (0..<c).map { sumGX[$0] * cache.invstd[$0] }, sumG)
    }

    /// Replaces every gradient by Σ over replicas of share · gradient (keys in sorted order,
    /// one reduction for all of them).
    public func reduce(_ gradients: inout Gradients) {
        let keys = gradients.tensors.keys.sorted()
        var flat = [Float]()
        flat.reserveCapacity(keys.reduce(0) { $0 + gradients.tensors[$1]!.count })
        let share = Float(localShare)
        for key in keys { flat += gradients.tensors[key]!.data.map { $0 * share } }
        timed { group.sum(&flat) }
        var offset = 0
        for key in keys {
            let shape = gradients.tensors[key]!.shape, count = gradients.tensors[key]!.count
            gradients.tensors[key] = Tensor(shape: shape, data: Array(flat[offset..<offset + count]))
            offset += count
        }
    }
}
