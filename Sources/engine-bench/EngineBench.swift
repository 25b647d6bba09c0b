import Randomness
import ArgumentParser
import Foundation
import Grounding
import NeuralNet

/// Throughput of the engine on the reference workloads. PyTorch's figures are never built
/// in (they vary with the machine and the day): run the PyTorch twin, pytorch_bench.py,
/// minutes apart on the same machine and pass its JSON with --pytorch for one table with
/// ratios (docs/operations.md § Engine speed).
@main
struct EngineBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine-bench",
        abstract: "Images/s for inference, an attack step (forward + input gradient) and an SGD step, with GFLOP/s; with --pytorch, beside PyTorch's figures from the same machine.",
        discussion: """
            For a comparison with PyTorch, run the twin script in a throwaway virtual environment
            outside the repository, right before or after this command, with the same threads:
              python3 -m venv /tmp/torch-venv && /tmp/torch-venv/bin/pip install torch
              /tmp/torch-venv/bin/python Sources/engine-bench/pytorch_bench.py --threads 2 --json /tmp/pytorch.json
              .build/release/engine-bench --threads 2 --pytorch /tmp/pytorch.json
            """)

    enum Workload: String, ExpressibleByArgument, CaseIterable {
        /// `resnet8-32`: the default profile's own network (CIFAR ResNet-8, width 16, 32 px, 10 classes).
        /// `detector-32`: the default profile's attribute detector (train-detector's network: five
        /// 3 × 3 convolutions of widths 24, 32, 32, 32, 32 and a 1 × 1 head of 15 + 1 + 208 outputs,
        /// 32 px, batch 16); it has no attack phase (the detector is never attacked).
        case cifar8 = "resnet8-32", cifar20 = "resnet20-32", r18small = "resnet18-64", r18 = "resnet18-224", r50 = "resnet50-224",
             r152 = "resnet152-224", detector = "detector-32"

        var arch: String {
            switch self {
            case .cifar8: "cifar-resnet8"; case .cifar20: "cifar-resnet20"; case .r18small, .r18: "resnet18"; case .r50: "resnet50"
            case .r152: "resnet152"; case .detector: "detector"
            }
        }
        var size: Int { switch self { case .cifar8, .cifar20, .detector: 32; case .r18small: 64; case .r18, .r50, .r152: 224 } }
        var batch: Int {
            switch self { case .cifar8, .cifar20: 128; case .r18small: 64; case .r18: 16; case .r50, .r152: 8; case .detector: 16 }
        }
        var classes: Int { self == .cifar8 || self == .cifar20 ? 10 : 1000 }
    }

    enum Phase: String, ExpressibleByArgument, CaseIterable { case inference, attack, train }

    @Option(name: .customLong("workload"), help: "Workloads to run (repeatable): \(Workload.allCases.map(\.rawValue).joined(separator: ", ")). Default: resnet8-32 (the default profile's network), resnet20-32, resnet18-64, resnet18-224, detector-32 (its attribute detector).")
    var workloads: [Workload] = [.cifar8, .cifar20, .r18small, .r18, .detector]

    @Option(name: .customLong("phase"), help: "Phases to run (repeatable): inference, attack, train. Default: all.")
    var phases: [Phase] = Phase.allCases

    @Option(help: "Timed repetitions per phase (the best is reported, the mean shown beside it).")
    var iterations: Int = 3

    @Option(help: "Untimed warm-up repetitions per phase.")
    var warmup: Int = 1

    @Option(help: "Threads for the kernels.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "What runs the convolutions: onednn (oneDNN's primitives, when built in) or reference (the engine's own im2col + GEMM kernels). Default: ATTRIB_BACKEND, else oneDNN when built in.")
    var backend: Backend = Engine.backend

    @Option(help: "Number format of the convolutions: fp32, or bf16 (bf16 inputs and weights, fp32 accumulation; oneDNN only).")
    var precision: Precision = .fp32

    @Option(help: "Winograd's algorithm for fp32 3×3 convolutions of 32 to 128 channels on oneDNN, where it measured faster: on or off (the direct algorithm everywhere). Default: ATTRIB_WINOGRAD, else on.")
    var winograd: Switch = Engine.winograd ? .on : .off

    /// An on / off option value.
    enum Switch: String, ExpressibleByArgument, CaseIterable { case on, off }

    @Option(help: "Layout of the feature maps: nhwc (channels last) or nchw. Default: the engine's (channels last on oneDNN, NCHW on the reference kernels).")
    var layout: ActivationLayout?

    @Flag(help: "Also measure raw sgemm GFLOP/s (1024³, one thread and split across the threads).")
    var gemm = false

    @Option(help: "Images per batch instead of each workload's own (PyTorch's figures are then for another batch: no ratio is shown).")
    var batch: Int?

    @Option(help: "JSON written by pytorch_bench.py --json on this machine: its figures are shown beside the engine's, with ratios.")
    var pytorch: String?

    @Flag(help: "After each phase's timing, run it again with per-layer timers and print where a pass spends its time (operation, shape, ms per pass, share, GFLOP/s). The timers cost a little, so the throughput table is measured without them.")
    var profile = false

    func validate() throws {
        guard iterations >= 1 else { throw ValidationError("--iterations must be at least 1") }
        guard warmup >= 0 else { throw ValidationError("--warmup must not be negative") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        if let batch, batch < 1 { throw ValidationError("--batch must be at least 1") }
        guard Engine.availableBackends.contains(backend) else {
            throw ValidationError("--backend \(backend.rawValue): this build has no oneDNN (install libdnnl-dev and rebuild)")
        }
        if precision == .bf16 && backend != .onednn {
            throw ValidationError("--precision bf16 needs the oneDNN backend (docs/engine.md)")
        }
    }

    func run() throws {
        let reference = try pytorch.map { try PyTorchFigures.read($0) }
        Engine.configure(threads: threads)
        Engine.backend = backend
        try Engine.setPrecision(precision)
        Engine.winograd = winograd == .on
        if precision == .bf16 && !Engine.hasNativeBF16 {
            print("note: this CPU has no native bf16 dot products; oneDNN emulates them")
        }
        if gemm { measureGemm() }
        let chosenLayout = layout ?? Engine.activationLayout
        print("engine-bench: \(Engine.backendDescription), feature maps \(chosenLayout == .nhwc ? "channels last" : "NCHW"), best of \(iterations) (mean in brackets)")
        if let reference {
            print(reference.describe(engineThreads: Engine.threadCount))
            if reference.measuredPrecision != precision.rawValue {
                print("warning: PyTorch's figures are \(reference.measuredPrecision), the engine runs \(precision.rawValue): no ratios")
            }
        }
        var header = [Column.workload.cell("workload"), Column.phase.cell("phase"), Column.rate.cell("img/s (mean)"),
                      Column.gflops.cell("GFLOP/s"), Column.cpuRate.cell("img/s from CPU time")]
        if reference != nil { header += [Column.pytorch.cell("PyTorch img/s"), Column.ratio.cell("ratio")] }
        print(header.joined(separator: "  "))
        try Engine.withActivationLayout(chosenLayout) { try measure(reference) }
        print("peak resident memory: \(String(format: "%.2f", peakResidentGB())) GB (VmHWM)")
        if reference != nil { print("ratio = engine img/s ÷ PyTorch img/s (best of each); above 1 the engine is faster.") }
    }

    /// Every workload and phase: one line each, and the profile when asked.
    func measure(_ reference: PyTorchFigures?) throws {
        for w in workloads {
            let batchSize = batch ?? w.batch
            var rng = SplitMix(seed: 2)
            let x = Tensor(shape: [batchSize, 3, w.size, w.size], data: (0..<batchSize * 3 * w.size * w.size).map { _ in Float.random(in: 0..<1, using: &rng) })
            let workload: any BenchWorkload = if w == .detector { DetectorWorkload(batch: batchSize, x: x) }
                else { try ResNetWorkload(w, batch: batchSize, x: x, rng: &rng) }
            for phase in phases {
                guard let body = workload.body(phase) else { continue }
                // FLOPs per pass: forward 2·MAC; input gradient adds the data-gradient GEMMs (≈ forward);
                // training adds the weight-gradient GEMMs too (≈ 3× forward).
                let flops: Double = switch phase {
                case .inference: 2 * workload.macs
                case .attack: 4 * workload.macs
                case .train: 6 * workload.macs
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
                let rate = Double(batchSize) / best
                // CPU seconds spread over the threads: what the wall time would be with the cores to
                // ourselves (other processes on a shared machine inflate wall time, not CPU time).
                let cpuRate = Double(batchSize) * Double(Engine.threadCount) / cpuTimes.min()!
                var cells = [Column.workload.cell(w.rawValue), Column.phase.cell(phase.rawValue),
                             Column.rate.cell(String(format: "%.1f (%.1f)", rate, Double(batchSize) / mean)),
                             Column.gflops.cell(String(format: "%.1f", flops / best / 1e9)),
                             Column.cpuRate.cell(String(format: "%.1f", cpuRate))]
                if let reference {
                    if let theirs = reference.figure(workload: w.rawValue, phase: phase.rawValue), theirs.batch == batchSize,
                       reference.measuredPrecision == precision.rawValue {
                        cells += [Column.pytorch.cell(String(format: "%.1f", theirs.imagesPerSecond)),
                                  Column.ratio.cell(String(format: "%.2f×", rate / theirs.imagesPerSecond))]
                    } else {
                        cells += [Column.pytorch.cell("–"), Column.ratio.cell("–")]
                    }
                }
                let line = cells.joined(separator: "  ")
                print(line)
                fflush(stdout)
                if profile {
                    let table = try ProfileTable.measure(passes: max(1, iterations), body)
                    print(table.render(title: "\(w.rawValue) \(phase.rawValue), batch \(batchSize)"))
                    fflush(stdout)
                }
            }
        }
    }

    /// The table's columns: width and alignment (text left, numbers right).
    enum Column {
        case workload, phase, rate, gflops, cpuRate, pytorch, ratio

        func cell(_ text: String) -> String {
            let (width, left): (Int, Bool) = switch self {
            case .workload: (13, true); case .phase: (9, true); case .rate: (17, false); case .gflops: (7, false)
            case .cpuRate: (19, false); case .pytorch: (13, false); case .ratio: (6, false)
            }
            let padding = String(repeating: " ", count: max(0, width - text.count))
            return left ? text + padding : padding + text
        }
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

extension Backend: ExpressibleByArgument {}
extension ActivationLayout: ExpressibleByArgument {}

