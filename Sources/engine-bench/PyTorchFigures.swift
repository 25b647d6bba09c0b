import Foundation

/// PyTorch's figures from `pytorch_bench.py --json FILE`, measured on this machine: engine-bench
/// prints them beside its own. Schema: {"torch_version": str, "threads": int, "created": ISO 8601
/// UTC, "results": [{"workload", "phase", "batch", "images_per_second", "mean_images_per_second",
/// "cpu_images_per_second"}]}.
struct PyTorchFigures: Decodable {
    struct Figure: Decodable {
        let workload: String
        let phase: String
        let batch: Int
        let imagesPerSecond: Double

        enum CodingKeys: String, CodingKey {
            case workload, phase, batch
            case imagesPerSecond = "images_per_second"
        }
    }

    let torchVersion: String
    let threads: Int
    let created: String
    let results: [Figure]
    /// "fp32" or "bf16" (autocast); files from before the option have none: fp32.
    let precision: String?

    var measuredPrecision: String { precision ?? "fp32" }

    enum CodingKeys: String, CodingKey {
        case torchVersion = "torch_version", threads, created, results, precision
    }

    struct ReadError: Error, CustomStringConvertible {
        let description: String
    }

    /// Reads and checks the file; the error names the file and what was expected.
    static func read(_ path: String) throws -> PyTorchFigures {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ReadError(description: "\(path): cannot read the PyTorch figures (\(error.localizedDescription))")
        }
        let figures: PyTorchFigures
        do { figures = try JSONDecoder().decode(PyTorchFigures.self, from: data) } catch {
            throw ReadError(description: "\(path): not the JSON that pytorch_bench.py --json writes (\(error))")
        }
        for figure in figures.results where !(figure.imagesPerSecond.isFinite && figure.imagesPerSecond > 0) {
            throw ReadError(description: "\(path): \(figure.workload) \(figure.phase): images_per_second must be a positive number")
        }
        return figures
    }

    func figure(workload: String, phase: String) -> Figure? {
        results.first { $0.workload == workload && $0.phase == phase }
    }

    /// One line saying where the figures come from, and a warning when they were measured
    /// with other threads or long ago (a ratio only means something side by side).
    func describe(engineThreads: Int, now: Date = Date()) -> String {
        var text = "PyTorch \(torchVersion), \(threads) threads, \(measuredPrecision), measured \(created)"
        if let date = ISO8601DateFormatter().date(from: created) {
            let minutes = Int(now.timeIntervalSince(date) / 60)
            text += " (\(minutes) min ago)"
            if minutes > 60 { text += "\nwarning: PyTorch's figures are over an hour old; the machine may have changed since: rerun pytorch_bench.py now" }
        }
        if threads != engineThreads { text += "\nwarning: PyTorch ran on \(threads) threads, the engine on \(engineThreads): the ratios compare unlike runs" }
        return text
    }
}
