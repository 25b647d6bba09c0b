import AttributeSpace
import Foundation
import HDF5Store
import PipelineKit
import Verdicts

/// Turns per-eps metrics into metrics.h5, metrics.json, CSV tables and the printed summary.
struct MetricsReport {
    let title: String
    let dataset: ClassAttributeTable
    let metrics: [EpsMetrics]
    let topFraction: Double
    /// Which robust model each eps was evaluated with (recorded so that the report finds its files).
    let robust: RobustModels

    static let classifiers = ClassifierName.allCases
    static let sets = AccuracySetName.allCases

    // MARK: metrics.h5

    /// Per-eps groups `eps<e>/` (scalar attributes, distance arrays, explanations) and
    /// root arrays `summary/<classifier>/<metric>` over eps for plotting; the root attribute
    /// `robust_eps` names the one robust model's eps (`--robust-eps`), empty for one model per eps.
    func write(to file: H5File) throws {
        try file.writeStrings("eps", metrics.map(\.eps.text))
        if case .one(let trainedAt) = robust { try file.setAttribute("robust_eps", .string(trainedAt.text)) }
        else { try file.setAttribute("robust_eps", .string("")) }
        for c in Self.classifiers {
            let classifier = c.rawValue
            for set in Self.sets {
                try file.write("summary/\(classifier)/accuracy_\(set.rawValue)", metrics.map { $0.accuracy[c][set] }, shape: [metrics.count])
            }
            try file.write("summary/\(classifier)/robust_ratio", metrics.map { $0.ratio[c].ratio }, shape: [metrics.count])
            try file.write("summary/\(classifier)/recovered_fraction", metrics.map { $0.ratio[c].recoveredFraction },
                           shape: [metrics.count])
            try file.write("summary/\(classifier)/transfer_robust_ratio", metrics.map { $0.transferRatio[c].ratio },
                           shape: [metrics.count])
        }
        for m in metrics {
            let group = m.eps.fileTag
            try file.createGroup(group)
            for c in Self.classifiers {
                let classifier = c.rawValue
                for set in Self.sets {
                    try file.setAttribute("\(classifier)_accuracy_\(set.rawValue)", .double(m.accuracy[c][set]), on: group)
                }
                let r = m.ratio[c], t = m.transferRatio[c]
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

    /// The metrics document (metrics.json) without findings; `grounding` holds each eps's
    /// grounding records (empty when ground did not run).
    func document(name: String, kind: DatasetKind?, seed: Int, grounding: [String: [GroundingRecord]]) -> MetricsDocument {
        let perEps = metrics.map { m in
            func summary(_ s: DistanceStudy) -> StudySummary {
                StudySummary(images: s.count, meanD1: s.meanD1, meanD2: s.meanD2, medianD1: s.medianD1, medianD2: s.medianD2,
                             fractionD1BelowD2: s.fractionD1BelowD2)
            }
            let attack = m.standardAttack.rows.indices.map { j in
                StudyImage(image: m.standardAttack.rows[j], d1: m.standardAttack.d1[j], d2: m.standardAttack.d2[j],
                           nearerTrueClass: m.attackNearerTrue[j], adversarialNearerWrongClass: m.attackAdversarialNearerWrong[j])
            }
            let recovery = m.robustRecovery.rows.indices.map { j in
                StudyImage(image: m.robustRecovery.rows[j], d1: m.robustRecovery.d1[j], d2: m.robustRecovery.d2[j],
                           nearerTrueClass: m.recoveryNearerTrue[j])
            }
            let ratios = PerClassifier { c in
                RatioRecord(robustRatio: m.ratio[c].ratio, recoveredFraction: m.ratio[c].recoveredFraction,
                            lossRobust: m.ratio[c].robustLoss, lossStandard: m.ratio[c].standardLoss,
                            transferRobustRatio: m.transferRatio[c].ratio, transferRecoveredFraction: m.transferRatio[c].recoveredFraction)
            }
            return EpsRecord(eps: m.eps.text, accuracy: m.accuracy, robustRatio: ratios,
                             distances: .init(standardAttack: summary(m.standardAttack), robustRecovery: summary(m.robustRecovery),
                                              standardAttackImages: attack, robustRecoveryImages: recovery),
                             outcomes: m.outcomes, grounding: grounding[m.eps.text] ?? [], explanationsCount: m.explanations.count,
                             explanationsSample: m.explanations.prefix(20).map(explanationRecord))
        }
        return MetricsDocument(name: name, dataset: title, kind: kind, seed: seed, classCount: dataset.classCount,
                               attributeCount: dataset.attributeCount, testImages: metrics.first?.outcomes.labels.count ?? 0,
                               topFraction: topFraction, perEps: perEps)
    }

    /// One explanation with names and values, for people.
    func explanationRecord(_ e: Explanation) -> ExplanationRecord {
        let a = dataset.attributeCount
        func attribute(_ i: Int) -> ExplanationRecord.Attribute {
            .init(attribute: dataset.attributeNames[i], trueClassValue: Double(dataset.values[e.trueClass * a + i]),
                  wrongClassValue: Double(dataset.values[e.wrongClass * a + i]))
        }
        return ExplanationRecord(image: e.index, trueClass: dataset.classNames[e.trueClass], wrongClass: dataset.classNames[e.wrongClass],
                                 rose: e.rose.map(attribute), fell: e.fell.map(attribute))
    }

    // MARK: CSV

    func tables() -> [(String, String)] {
        var accuracy = "eps,classifier," + Self.sets.map(\.rawValue).joined(separator: ",") + "\n"
        var ratio = "eps,classifier,loss_robust,loss_standard,robust_ratio,recovered_fraction,transfer_robust_ratio,transfer_recovered_fraction\n"
        var distances = "eps,study,images,mean_d1,mean_d2,median_d1,median_d2,fraction_d1_below_d2\n"
        var result: [(String, String)] = []
        for m in metrics {
            for c in Self.classifiers {
                let classifier = c.rawValue
                accuracy += "\(m.eps.text),\(classifier)," + Self.sets.map { format(m.accuracy[c][$0]) }.joined(separator: ",") + "\n"
                let r = m.ratio[c], t = m.transferRatio[c]
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
                     "eps: L∞ budget in [0, 1] pixel units (paper: the authors' [−1, 1] input units, twice the number)",
                     "",
                     "     eps (paper) |  f clean  f adv f robust      R recov |  F clean  F adv F robust      R recov"]
        lines.append(String(repeating: "-", count: lines[4].count))
        for m in metrics {
            var line = pad(m.eps.text, 7) + pad("(\(EpsText.paper(m.eps.text)))", 9) + " |"
            for c in Self.classifiers {
                let acc = m.accuracy[c], r = m.ratio[c]
                line += "   " + [pct(acc.standardClean), pct(acc.standardAdversarial), " " + pct(acc.robustAdversarial),
                                 num(r.ratio), num(r.recoveredFraction)].joined(separator: " ") + (c == .general ? " |" : "")
            }
            lines.append(line)
        }
        lines += ["", "distances over the top \(Int(topFraction * 100))% discriminative attributes (d1: predicted attributes, d2: class attributes)",
                  "     eps (paper) | study            images  mean d1  mean d2  d1<d2"]
        for m in metrics {
            for (name, s) in [("standard attack", m.standardAttack), ("robust recovery", m.robustRecovery)] {
                lines.append(pad(m.eps.text, 7) + pad("(\(EpsText.paper(m.eps.text)))", 9) + " | " + name.padding(toLength: 16, withPad: " ", startingAt: 0)
                             + String(format: " %6d   ", s.count) + num(s.meanD1) + "   " + num(s.meanD2) + "  " + pct(s.fractionD1BelowD2))
            }
        }
        return lines.joined(separator: "\n")
    }
}
