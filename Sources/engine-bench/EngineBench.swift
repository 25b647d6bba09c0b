import Randomness
import ArgumentParser
import Foundation
import NeuralNet

/// Throughput of the engine on the reference workloads, compared with PyTorch's figures
/// measured on the same kind of machine (2 threads, reference-notes.md).
@main
struct EngineBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine-bench",
        abstract: "Images/s for inference, an attack step (forward + input gradient) and an SGD step, with GFLOP/s and ratios to PyTorch.")

    enum Workload: String, ExpressibleByArgument, CaseIterable {
        case cifar20 = "resnet20-32", r18small = "resnet18-64", r18 = "resnet18-224", r50 = "resnet50-224"

        var arch: String {
            switch self { case .cifar20: "cifar-resnet20"; case .r18small, .r18: "resnet18"; case .r50: "resnet50" }
        }
        var size: Int { switch self { case .cifar20: 32; case .r18small: 64; case .r18, .r50: 224 } }
        var batch: Int { switch self { case .cifar20: 128; case .r18small: 64; case .r18: 16; case .r50: 8 } }
        var classes: Int { self == .cifar20 ? 10 : 1000 }
        /// PyTorch 2.15 CPU, 2 threads: inference, attack step, training step (img/s).
        var pytorch: [Double] {
            switch self {
            case .cifar20: [746, 489, 343]; case .r18small: [617, 216, 140]
            case .r18: [42.5, 17.6, 14.4]; case .r50: [19.4, 8.3, 4.6]
            }
        }
    }

    enum Phase: String, ExpressibleByArgument, CaseIterable { case inference, attack, train }

    @Option(name: .customLong("workload"), help: "Workloads to run (repeatable): \(Workload.allCases.map(\.rawValue).joined(separator: ", ")). Default: the first three.")
    var workloads: [Workload] = [.cifar20, .r18small, .r18]

    @Option(name: .customLong("phase"), help: "Phases to run (repeatable): inference, attack, train. Default: all.")
    var phases: [Phase] = Phase.allCases

    @Option(help: "Timed repetitions per phase (the best is reported, the mean shown beside it).")
    var iterations: Int = 3

    @Option(help: "Untimed warm-up repetitions per phase.")
    var warmup: Int = 1

    @Option(help: "Threads for the kernels.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Also measure raw sgemm GFLOP/s (1024³, one thread and split across the threads).")
    var gemm = false

    func run() throws {
        Engine.configure(threads: threads)
        if gemm { measureGemm() }
        print("engine-bench: \(Engine.threadCount) threads, best of \(iterations) (mean in brackets)")
        print("workload      phase        img/s (mean)   GFLOP/s   PyTorch   ratio   img/s from CPU time")
        for w in workloads {
            let config = try ResNetConfig.named(w.arch, numClasses: w.classes, inputSize: w.size)
            let model = ResNet(config: config, seed: 1)
            var rng = SplitMix(seed: 2)
            let x = Tensor(shape: [w.batch, 3, w.size, w.size], data: (0..<w.batch * 3 * w.size * w.size).map { _ in Float.random(in: 0..<1, using: &rng) })
            let labels = (0..<w.batch).map { _ in Int.random(in: 0..<w.classes, using: &rng) }
            let macs = Double(try model.forwardMACs(batch: w.batch, height: w.size, width: w.size))
            let sgd = try SGD(learningRate: 0.01, momentum: 0.9, weightDecay: 5e-4)
            for phase in phases {
                // FLOPs per pass: forward 2·MAC; input gradient adds the data-gradient GEMMs (≈ forward);
                // training adds the weight-gradient GEMMs too (≈ 3× forward).
                let (flops, index): (Double, Int) = switch phase {
                case .inference: (2 * macs, 0)
                case .attack: (4 * macs, 1)
                case .train: (6 * macs, 2)
                }
                let body: () throws -> Void = {
                    switch phase {
                    case .inference: _ = try model.logits(x, mode: .eval)
                    case .attack: _ = try model.lossAndInputGradient(x, labels: labels)
                    case .train: try model.trainStep(x, labels: labels, optimizer: sgd)
                    }
                }
                for _ in 0..<warmup { try body() }
                var times: [Double] = [], cpuTimes: [Double] = []
                for _ in 0..<max(1, iterations) {
                    let start = DispatchTime.now().uptimeNanoseconds, cpuStart = cpuSeconds()
                    try body()
                    times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                    cpuTimes.append(cpuSeconds() - cpuStart)
                }
                let best = times.min()!, mean = times.reduce(0, +) / Double(times.count)
                let rate = Double(w.batch) / best
                // CPU seconds spread over the threads: what the wall time would be with the cores to
                // ourselves (other processes on a shared machine inflate wall time, not CPU time).
                let cpuRate = Double(w.batch) * Double(Engine.threadCount) / cpuTimes.min()!
                let line = String(format: "%-13@ %-10@ %7.1f (%7.1f)  %6.1f   %7.1f   %5.2f×   %7.1f",
                                  w.rawValue as NSString, phase.rawValue as NSString, rate, Double(w.batch) / mean,
                                  flops / best / 1e9, w.pytorch[index], rate / w.pytorch[index], cpuRate)
                print(line)
                fflush(stdout)
            }
        }
        print("peak resident memory: \(String(format: "%.2f", peakResidentGB())) GB (VmHWM)")
        print("PyTorch column: reference-notes.md, measured where sgemm reached ~190 GFLOP/s on 2 threads (--gemm shows this machine's);")
        print("for a same-machine ratio run Sources/engine-bench/pytorch_bench.py with PyTorch installed.")
    }

    /// Raw sgemm throughput: the ceiling the convolutions work against.
    func measureGemm() {
        let n = 1024
        let a = [Float](repeating: 0.5, count: n * n), b = a
        var c = [Float](repeating: 0, count: n * n)
        for (label, split) in [("1 thread", false), ("\(Engine.threadCount) threads (split)", true)] {
            var best = Double.infinity
            for _ in 0..<4 {
                let start = DispatchTime.now().uptimeNanoseconds
                a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                    if split {
                        Gemm.parallel(m: n, n: n, k: n, a: ap.baseAddress!, lda: n, b: bp.baseAddress!, ldb: n, c: cp.baseAddress!, ldc: n)
                    } else {
                        BLAS.sgemm(m: n, n: n, k: n, a: ap.baseAddress!, lda: n, b: bp.baseAddress!, ldb: n, c: cp.baseAddress!, ldc: n)
                    }
                } } }
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            print(String(format: "sgemm 1024³, %@: %.1f GFLOP/s", label as NSString, 2 * Double(n * n * n) / best / 1e9))
        }
    }

    /// User + system CPU seconds of this process so far.
    func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    /// Peak resident set size of this process, from /proc/self/status.
    func peakResidentGB() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return .nan }
        return kb / 1_048_576
    }
}
