import AttributeSpace
import Foundation
import HDF5Store
import PipelineKit

/// Turns per-eps metrics into metrics.h5, metrics.json, CSV tables and the printed summary.
struct MetricsReport {
    let title: String
    let dataset: ClassAttributeTable
    let metrics: [EpsMetrics]
    let topFraction: Double
    /// Which robust model each eps was evaluated with (recorded so that the report finds its files).
    let robust: RobustModels

    static let classifiers = ["general", "attribute"]
    static let sets = ["standard_clean", "standard_adversarial", "robust_clean", "robust_adversarial", "robust_transfer"]

    // MARK: metrics.h5

    /// Per-eps groups `eps<e>/` (scalar attributes, distance arrays, explanations) and
    /// root arrays `summary/<classifier>/<metric>` over eps for plotting; the root attribute
    /// `robust_eps` names the one robust model's eps (`--robust-eps`), empty for one model per eps.
    func write(to file: H5File) throws {
        try file.writeStrings("eps", metrics.map(\.eps.text))
        if case .one(let trainedAt) = robust { try file.setAttribute("robust_eps", .string(trainedAt.text)) }
        else { try file.setAttribute("robust_eps", .string("")) }
        for classifier in Self.classifiers {
            for set in Self.sets {
                try file.write("summary/\(classifier)/accuracy_\(set)", metrics.map { $0.accuracy[classifier]![set]! },
                               shape: [metrics.count])
            }
            try file.write("summary/\(classifier)/robust_ratio", metrics.map { $0.ratio[classifier]!.ratio }, shape: [metrics.count])
            try file.write("summary/\(classifier)/recovered_fraction", metrics.map { $0.ratio[classifier]!.recoveredFraction },
                           shape: [metrics.count])
            try file.write("summary/\(classifier)/transfer_robust_ratio", metrics.map { $0.transferRatio[classifier]!.ratio },
                           shape: [metrics.count])
        }
        for m in metrics {
            let group = m.eps.fileTag
            try file.createGroup(group)
            for classifier in Self.classifiers {
                for (set, value) in m.accuracy[classifier]! {
                    try file.setAttribute("\(classifier)_accuracy_\(set)", .double(value), on: group)
                }
                let r = m.ratio[classifier]!, t = m.transferRatio[classifier]!
                try file.setAttribute("\(classifier)_robust_ratio", .double(r.ratio), on: group)
                try file.setAttribute("\(classifier)_recovered_fraction", .double(r.recoveredFraction), on: group)
                try file.setAttribute("\(classifier)_loss_robust", .double(r.robustLoss), on: group)
                try file.setAttribute("\(classifier)_loss_standard", .double(r.standardLoss), on: group)
                try file.setAttribute("\(classifier)_transfer_robust_ratio", .double(t.ratio), on: group)
            }
            for (name, study) in [("standard_attack", m.standardAttack), ("robust_recovery", m.robustRecovery)] {
                let path = "\(group)/distances/\(name)"
                try file.write("\(path)/row", study.rows.map(Int64.init), shape: [study.count])
                try file.write("\(path)/d1", study.d1, shape: [study.count])
                try file.write("\(path)/d2", study.d2, shape: [study.count])
                try file.setAttribute("mean_d1", .double(study.meanD1), on: path)
                try file.setAttribute("mean_d2", .double(study.meanD2), on: path)
                try file.setAttribute("median_d1", .double(study.medianD1), on: path)
                try file.setAttribute("median_d2", .double(study.medianD2), on: path)
                try file.setAttribute("fraction_d1_below_d2", .double(study.fractionD1BelowD2), on: path)
            }
            let e = m.explanations
            let k = e.first?.rose.count ?? 0
            try file.write("\(group)/explanations/index", e.map { Int64($0.index) }, shape: [e.count])
            try file.write("\(group)/explanations/true_class", e.map { Int32($0.trueClass) }, shape: [e.count])
            try file.write("\(group)/explanations/wrong_class", e.map { Int32($0.wrongClass) }, shape: [e.count])
            try file.write("\(group)/explanations/rose", e.flatMap { $0.rose.map(Int32.init) }, shape: [e.count, k])
            try file.write("\(group)/explanations/fell", e.flatMap { $0.fell.map(Int32.init) }, shape: [e.count, k])
        }
        try file.writeStrings("class_names", dataset.classNames)
        try file.writeStrings("attribute_names", dataset.attributeNames)
        try file.setAttribute("top_fraction", .double(topFraction))
    }

    // MARK: metrics.json

    func json() throws -> Data {
        func number(_ x: Double) -> Any { x.isFinite ? x : NSNull() }
        let perEps: [[String: Any]] = metrics.map { m in
            var accuracy: [String: Any] = [:], ratios: [String: Any] = [:]
            for classifier in Self.classifiers {
                accuracy[classifier] = m.accuracy[classifier]!.mapValues(number)
                let r = m.ratio[classifier]!, t = m.transferRatio[classifier]!
                ratios[classifier] = ["robust_ratio": number(r.ratio), "recovered_fraction": number(r.recoveredFraction),
                                      "loss_robust": number(r.robustLoss), "loss_standard": number(r.standardLoss),
                                      "transfer_robust_ratio": number(t.ratio),
                                      "transfer_recovered_fraction": number(t.recoveredFraction)]
            }
            func study(_ s: DistanceStudy) -> [String: Any] {
                ["images": s.count, "mean_d1": number(s.meanD1), "mean_d2": number(s.meanD2), "median_d1": number(s.medianD1),
                 "median_d2": number(s.medianD2), "fraction_d1_below_d2": number(s.fractionD1BelowD2)]
            }
            return ["eps": m.eps.text, "accuracy": accuracy, "robust_ratio": ratios,
                    "distances": ["standard_attack": study(m.standardAttack), "robust_recovery": study(m.robustRecovery)],
                    "explanations_count": m.explanations.count,
                    "explanations_sample": m.explanations.prefix(20).map(explanationRecord)]
        }
        let object: [String: Any] = ["dataset": title, "top_fraction": topFraction, "eps": metrics.map(\.eps.text), "per_eps": perEps]
        return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    }

    /// One explanation with names and values, for people.
    func explanationRecord(_ e: Explanation) -> [String: Any] {
        ["image": e.index, "true_class": dataset.classNames[e.trueClass], "wrong_class": dataset.classNames[e.wrongClass],
         "rose": e.rose.map { attributeRecord($0, e) }, "fell": e.fell.map { attributeRecord($0, e) }]
    }

    func attributeRecord(_ i: Int, _ e: Explanation) -> [String: Any] {
        let a = dataset.attributeCount
        return ["attribute": dataset.attributeNames[i],
                "true_class_value": Double(dataset.values[e.trueClass * a + i]),
                "wrong_class_value": Double(dataset.values[e.wrongClass * a + i])]
    }

    // MARK: CSV

    func tables() -> [(String, String)] {
        var accuracy = "eps,classifier," + Self.sets.joined(separator: ",") + "\n"
        var ratio = "eps,classifier,loss_robust,loss_standard,robust_ratio,recovered_fraction,transfer_robust_ratio,transfer_recovered_fraction\n"
        var distances = "eps,study,images,mean_d1,mean_d2,median_d1,median_d2,fraction_d1_below_d2\n"
        var result: [(String, String)] = []
        for m in metrics {
            for classifier in Self.classifiers {
                accuracy += "\(m.eps.text),\(classifier)," + Self.sets.map { format(m.accuracy[classifier]![$0]!) }.joined(separator: ",") + "\n"
                let r = m.ratio[classifier]!, t = m.transferRatio[classifier]!
                ratio += "\(m.eps.text),\(classifier),\(format(r.robustLoss)),\(format(r.standardLoss)),\(format(r.ratio)),"
                    + "\(format(r.recoveredFraction)),\(format(t.ratio)),\(format(t.recoveredFraction))\n"
            }
            for (name, s) in [("standard_attack", m.standardAttack), ("robust_recovery", m.robustRecovery)] {
                distances += "\(m.eps.text),\(name),\(s.count),\(format(s.meanD1)),\(format(s.meanD2)),\(format(s.medianD1)),"
                    + "\(format(s.medianD2)),\(format(s.fractionD1BelowD2))\n"
            }
            var explanations = "image,true_class,wrong_class,direction,rank,attribute,true_class_value,wrong_class_value\n"
            let a = dataset.attributeCount
            for e in m.explanations {
                for (direction, list) in [("rose", e.rose), ("fell", e.fell)] {
                    for (rank, i) in list.enumerated() {
                        explanations += "\(e.index),\(csv(dataset.classNames[e.trueClass])),\(csv(dataset.classNames[e.wrongClass])),"
                            + "\(direction),\(rank + 1),\(csv(dataset.attributeNames[i])),"
                            + "\(format(Double(dataset.values[e.trueClass * a + i]))),\(format(Double(dataset.values[e.wrongClass * a + i])))\n"
                    }
                }
            }
            result.append(("explanations-\(m.eps.fileTag)", explanations))
        }
        return [("accuracy", accuracy), ("robust_ratio", ratio), ("distances", distances)] + result
    }

    /// `text` right-aligned in `width` columns.
    func pad(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }

    func format(_ x: Double) -> String { x.isFinite ? String(format: "%.4f", x) : "" }
    func csv(_ text: String) -> String { text.contains(",") || text.contains("\"") ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text }

    // MARK: Summary

    /// Aligned text: accuracies of f and F (standard clean / standard adv / robust adv) and R per eps,
    /// then the distance study.
    func summary() -> String {
        func pct(_ x: Double) -> String { x.isFinite ? String(format: "%6.1f", 100 * x) : "     –" }
        func num(_ x: Double) -> String { x.isFinite ? String(format: "%6.2f", x) : "     –" }
        var lines = ["\(title): accuracy % (clean = standard model on clean test images; adv = standard model under attack;",
                     "robust = robust-eps<e> model under its own white-box attack); R = L_R/L_S, recovered = 1 − R",
                     "",
                     "   eps |  f clean  f adv f robust      R recov |  F clean  F adv F robust      R recov"]
        lines.append(String(repeating: "-", count: lines[3].count))
        for m in metrics {
            var line = pad(m.eps.text, 6) + " |"
            for classifier in Self.classifiers {
                let acc = m.accuracy[classifier]!, r = m.ratio[classifier]!
                line += "   " + [pct(acc["standard_clean"]!), pct(acc["standard_adversarial"]!), " " + pct(acc["robust_adversarial"]!),
                                 num(r.ratio), num(r.recoveredFraction)].joined(separator: " ") + (classifier == "general" ? " |" : "")
            }
            lines.append(line)
        }
        lines += ["", "distances over the top \(Int(topFraction * 100))% discriminative attributes (d1: predicted attributes, d2: class attributes)",
                  "   eps | study            images  mean d1  mean d2  d1<d2"]
        for m in metrics {
            for (name, s) in [("standard attack", m.standardAttack), ("robust recovery", m.robustRecovery)] {
                lines.append(pad(m.eps.text, 6) + " | " + name.padding(toLength: 16, withPad: " ", startingAt: 0)
                             + String(format: " %6d   ", s.count) + num(s.meanD1) + "   " + num(s.meanD2) + "  " + pct(s.fractionD1BelowD2))
            }
        }
        return lines.joined(separator: "\n")
    }
}
