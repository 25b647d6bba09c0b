import AttributeSpace
import Foundation
import HDF5Store
import PipelineKit

/// The paper's findings in quantify's outputs: (2)–(6) per dataset, added to metrics.json
/// as `"findings"`, and (1) across a fine and a coarse dataset (`--compare`).
enum QuantifyFindings {
    /// Adds `"findings"` to the metrics.json object `json`; grounding summaries come from
    /// `<dir>/grounding/<model>-eps<e>.h5` when the ground stage wrote them.
    static func add(to json: Data, layout: DatasetLayout, eps: [Epsilon]) throws -> (Data, [Finding]) {
        guard var object = try JSONSerialization.jsonObject(with: json) as? [String: Any] else {
            throw StageError("quantify: metrics.json is not an object")
        }
        var metrics = try FindingMetrics(json: object)
        metrics.grounding = try readGrounding(layout: layout, eps: eps)
        let findings = Findings.evaluate(metrics)
        object["findings"] = findings.map(\.record)
        return (try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]), findings)
    }

    /// The grounding files' summary attributes, or nil when none exists.
    static func readGrounding(layout: DatasetLayout, eps: [Epsilon]) throws -> [FindingMetrics.Grounding]? {
        var result: [FindingMetrics.Grounding] = []
        for e in eps {
            for role in [GroundingRole.standard, .robust] {
                let model = layout.model(of: role, at: e), path = layout.grounding(role, eps: e)
                guard FileManager.default.fileExists(atPath: path) else { continue }
                let file = try H5File.open(path)
                defer { file.close() }
                func value(_ name: String) throws -> Double {
                    guard let v = try file.attribute(name).doubleValue else {
                        throw StageError("\(path): root attribute \(name) is not a number")
                    }
                    return v
                }
                result.append(.init(model: model, eps: e.text, pointingClean: try value("pointing_accuracy_clean"),
                                    pointingAdversarial: try value("pointing_accuracy_adversarial"),
                                    groundedClean: try value("grounded_fraction_clean"),
                                    groundedAdversarial: try value("grounded_fraction_adversarial")))
            }
        }
        return result.isEmpty ? nil : result
    }

    /// Reads two metrics.json files (fine, coarse), writes the cross-dataset findings to
    /// `output` as `{"fine", "coarse", "findings"}` and returns them.
    static func compare(fine finePath: String, coarse coarsePath: String, output: String) throws -> [Finding] {
        func read(_ path: String) throws -> FindingMetrics {
            guard let data = FileManager.default.contents(atPath: path) else { throw StageError("\(path): missing (a quantify metrics.json)") }
            guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw StageError("\(path): not a JSON object (a quantify metrics.json was expected)")
            }
            do { return try FindingMetrics(json: object) } catch { throw StageError("\(path): \(error)") }
        }
        let (fine, coarse) = (try read(finePath), try read(coarsePath))
        let findings = Findings.compare(fine: fine, coarse: coarse)
        let object: [String: Any] = ["fine": finePath, "coarse": coarsePath, "findings": findings.map(\.record)]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        try AtomicOutput.write(to: output) { try data.write(to: URL(fileURLWithPath: $0)) }
        return findings
    }
}
