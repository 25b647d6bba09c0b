import Foundation
import Tensors

/// engine-bench --profile: where one pass of a phase spends its wall time, per operation and
/// shape, from `KernelProfile`'s timers, with what the timers did not see ("other": tensor
/// allocation and glue between layers) as its own row.
struct ProfileTable {
    var rows: [KernelProfile.Entry]
    var passes: Int
    /// Wall seconds of all profiled passes.
    var total: Double

    /// Runs `body` `passes` times with the timers on.
    static func measure(passes: Int, _ body: () throws -> Void) throws -> ProfileTable {
        KernelProfile.reset()
        KernelProfile.isEnabled = true
        defer { KernelProfile.isEnabled = false }
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<passes { try body() }
        let total = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return ProfileTable(rows: KernelProfile.snapshot(), passes: passes, total: total)
    }

    /// The table, slowest operations first.
    func render(title: String) -> String {
        let perPass = total / Double(passes)
        var lines = ["profile: \(title), \(String(format: "%.2f", perPass * 1e3)) ms per pass (mean of \(passes))",
                     pad("operation", 52, left: true) + pad("calls", 6) + pad("ms/pass", 9) + pad("share", 7) + pad("GFLOP/s", 9)]
        let sorted = rows.sorted { $0.seconds > $1.seconds }
        for row in sorted {
            let ms = row.seconds / Double(passes) * 1e3
            let rate = row.flops > 0 ? String(format: "%.1f", row.flops * Double(row.calls) / row.seconds / 1e9) : ""
            lines.append(pad(row.name, 52, left: true) + pad("\(row.calls / passes)", 6) + pad(String(format: "%.2f", ms), 9)
                         + pad(String(format: "%.1f%%", 100 * row.seconds / total), 7) + pad(rate, 9))
        }
        let seen = rows.reduce(0) { $0 + $1.seconds }
        lines.append(pad("other (allocation, glue, untimed layers)", 52, left: true) + pad("", 6)
                     + pad(String(format: "%.2f", max(0, total - seen) / Double(passes) * 1e3), 9)
                     + pad(String(format: "%.1f%%", 100 * max(0, total - seen) / total), 7) + pad("", 9))
        return lines.joined(separator: "\n")
    }

    private func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
        let padding = String(repeating: " ", count: max(0, width - text.count))
        return left ? text + padding : padding + text
    }
}
