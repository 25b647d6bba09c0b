import Foundation
import NeuralNet
import Randomness
import TestSupport
import XCTest

/// An in-process replica group: `count` threads, each a replica, sum their arrays in rank
/// order at a barrier (what MPI does across processes).
final class ThreadGroup: @unchecked Sendable {
    let count: Int
    private let condition = NSCondition()
    private var pending: [[Double]?]
    private var result: [Double] = []
    private var generation = 0
    private var arrived = 0

    init(count: Int) { self.count = count; pending = Array(repeating: nil, count: count) }

    func sum(rank: Int, _ values: [Double]) -> [Double] {
        condition.lock()
        defer { condition.unlock() }
        let myGeneration = generation
        pending[rank] = values
        arrived += 1
        if arrived == count {
            result = pending.dropFirst().reduce(pending[0]!) { total, next in zip(total, next!).map { $0 + $1 } }
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            while generation == myGeneration { condition.wait() }
        }
        return result
    }

    /// One replica's view.
    final class Member: ReplicaGroup {
        let group: ThreadGroup, rank: Int
        init(_ group: ThreadGroup, rank: Int) { self.group = group; self.rank = rank }
        var replicaCount: Int { group.count }
        func sum(_ values: inout [Double]) { values = group.sum(rank: rank, values) }
        func sum(_ values: inout [Float]) { values = group.sum(rank: rank, values.map(Double.init)).map(Float.init) }
    }
}

/// Each replica thread's reduced gradients.
final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var gradients: [Gradients?]
    init(count: Int) { gradients = Array(repeating: nil, count: count) }
    func set(_ rank: Int, _ value: Gradients) { lock.lock(); gradients[rank] = value; lock.unlock() }
}

/// Synchronised batch norm and gradient reduction: replicas on slices of a batch give the
/// single-process gradients and statistics of the whole batch.
final class DataParallelTests: XCTestCase {
    func makeModel() throws -> ResNet { ResNet(config: try .named("cifar-resnet8", numClasses: 3, width: 4, inputSize: 8), seed: 7) }

    func batch(_ n: Int) -> (Tensor, [Int]) {
        var rng = SplitMix(seed: 3)
        return (Tensor(shape: [n, 3, 8, 8], data: (0..<n * 192).map { _ in Float(rng.uniform()) }), (0..<n).map { $0 % 3 })
    }

    func runningStatistics(_ model: ResNet) -> [String: [Float]] {
        Dictionary(uniqueKeysWithValues: model.stateDict().filter { $0.key.contains("running") }.map { ($0.key, $0.value.data) })
    }

    func testReplicasMatchTheWholeBatch() throws {
        Engine.configure(threads: 1)
        let (x, labels) = batch(6)
        let reference = try makeModel()
        let (_, _, expected) = try reference.lossAndGradients(x, labels: labels, mode: .train)

        for count in [1, 2, 3] {
            let group = ThreadGroup(count: count)
            let models = try (0..<count).map { _ in try makeModel() }
            let results = Results(count: count)
            // One thread per replica (concurrentPerform would run fewer at once than there are replicas).
            let done = DispatchGroup()
            for rank in 0..<count {
                done.enter()
                Thread {
                    defer { done.leave() }
                    let model = models[rank]
                    let parallel = DataParallel(group: ThreadGroup.Member(group, rank: rank))
                    model.dataParallel = parallel
                    let lo = rank * 6 / count, hi = (rank + 1) * 6 / count
                    parallel.localShare = Double(hi - lo) / 6
                    let slice = Tensor(shape: [hi - lo, 3, 8, 8], data: Array(x.data[(lo * 192)..<(hi * 192)]))
                    var (_, _, gradients) = try! model.lossAndGradients(slice, labels: Array(labels[lo..<hi]), mode: .train)
                    parallel.reduce(&gradients)
                    results.set(rank, gradients)
                }.start()
            }
            done.wait()
            for rank in 0..<count {
                for (key, g) in expected.tensors {
                    assertClose(results.gradients[rank]![key]!.data, g.data, tolerance: 1e-5, "\(count) replicas, rank \(rank): \(key)")
                }
                for (key, value) in runningStatistics(reference) {
                    assertClose(runningStatistics(models[rank])[key]!, value, tolerance: 1e-6, "\(count) replicas: \(key)")
                }
            }
        }
    }
}
