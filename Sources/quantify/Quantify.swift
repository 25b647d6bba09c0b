import ArgumentParser
import AttributeSpace
import Foundation
import HDF5Store
import PipelineKit
import Tensors
import Verdicts

/// The paper's quantitative analysis for one dataset.
@main
struct Quantify: StageCommand {
    static let configuration = CommandConfiguration(
        abstract: "Accuracies of f and F, robust ratios, the d1/d2 distance study and per-image explanations, per eps.",
        discussion: """
            Reads, under --dataset-dir D, by the pipeline's naming: images.h5, sje/standard.h5, and for
            each eps e: features/ and attributes/ files of model 'standard' on sets test and adv-eps<e>,
            and of model robust-eps<e> on test, adv-eps<e> (its own white-box adversarials) and
            transfer-eps<e> (the standard model's adversarials). Writes D/metrics.h5, D/metrics.json
            and D/tables/*.csv, and prints one summary table.

            Robust ratio (eqs. 9–11): R = L_R / L_S with L_R = acc(f, clean) − acc(fʳ, adv) and
            L_S = acc(f, clean) − acc(f, adv); 'recovered' is 1 − R, the fraction of lost accuracy the
            robust model gets back. Distances (eqs. 12–15) use, per image, the union of the top
            --top-fraction attributes by eq. 7 and by eq. 8. Study (a): test images right when clean
            and wrong when attacked on the standard model, d1 = ‖A − Â‖. Study (b): the standard
            model's adversarial images that it gets wrong and the robust model gets right,
            d1 = ‖Âʳ − Â‖. d2 = ‖φ(yₙ) − φ(y)‖ in both, φ as the SJE uses it.

            With --robust-eps E, one robust model, robust-eps<E>, is evaluated at every eps (the
            authors' set-up): its sets are then named adv-eps<e> and transfer-eps<e> as before.

            metrics.json is the metrics document (Verdicts' MetricsDocument): the numbers above,
            the per-image outcomes (each set's predictions, each study image's distances, each
            grounding file's items per image) and "findings": the paper's claims of
            docs/claims.md for this dataset's kind (--kind), each with its quote, criterion,
            estimate, 95% bootstrap interval over the test images (--bootstrap-resamples,
            --bootstrap-seed) and verdict reproduced / contradicted / undetermined.

            quantify --compare FINE/metrics.json COARSE/metrics.json --output findings.json writes
            the claims comparing a fine-grained with a coarse dataset instead.
            quantify --aggregate RUN1 RUN2 … --datasets A B --output DIR reads RUNi/<ds>/metrics.json
            (one run folder per seed) and writes DIR/metrics.json and DIR/summary.txt: every claim
            over the seeds (mean, per-seed values and sd, a bootstrap over seeds and images).
            """)

    @Option(help: "The dataset's artifact directory (e.g. data/synth-fine).")
    var datasetDir: String?
    @Option(parsing: .upToNextOption, help: "The eps values, written as in the file names (e.g. 0.01 0.06 0.12).",
            transform: Epsilon.parse)
    var eps: [Epsilon] = []
    @Option(help: "Evaluate the one robust model robust-eps<this> at every eps (default: robust-eps<e> at eps e).",
            transform: Epsilon.parse)
    var robustEps: Epsilon?
    @Option(parsing: .upToNextOption, help: "Two metrics.json files, fine-grained then coarse: write the cross-dataset findings to --output.")
    var compare: [String] = []
    @Option(help: "Output of --compare (e.g. data/findings.json) or folder of --aggregate (e.g. data/seeds).")
    var output: String?
    @Option(parsing: .upToNextOption, help: "Run folders, one per seed (each holding <ds>/metrics.json): aggregate over them.")
    var aggregate: [String] = []
    @Option(parsing: .upToNextOption, help: "With --aggregate: the datasets to aggregate (fine-grained and coarse pair across).")
    var datasets: [String] = []
    @Option(help: "fine or coarse: which of the paper's claims concern this dataset (default: from the directory name).")
    var kind: DatasetKind?
    @Option(help: "Bootstrap resamples for every interval.")
    var bootstrapResamples = 2000
    @Option(help: "Seed of the bootstrap resamples (the same resamples for every claim).")
    var bootstrapSeed: UInt64 = 20
    @Option(help: "Name shown in the summary (default: the directory's name).")
    var name: String?
    @Option(help: "Share of the most discriminative attributes used for the distances.")
    var topFraction = 0.2
    @Option(help: "Attributes listed as rising and as falling per explanation.")
    var explain = 5
    @Flag(help: "Only print the grounding table from grounding/*.h5 (ground's output) and write tables/grounding.csv.")
    var groundingOnly = false
    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard bootstrapResamples >= 100 else { throw ValidationError("--bootstrap-resamples must be at least 100") }
        if !aggregate.isEmpty {
            guard !datasets.isEmpty, output != nil else { throw ValidationError("--aggregate needs --datasets and --output") }
            return
        }
        if !compare.isEmpty {
            guard compare.count == 2, output != nil else {
                throw ValidationError("--compare takes two metrics.json files (fine, coarse) and needs --output")
            }
            guard datasetDir == nil, eps.isEmpty, robustEps == nil, !groundingOnly else {
                throw ValidationError("--compare reads only the two metrics.json files given: --dataset-dir, --eps, --robust-eps "
                                      + "and --grounding-only do not apply (give the files' paths, e.g. DIR/metrics.json)")
            }
            return
        }
        guard output == nil else { throw ValidationError("--output is for --compare and --aggregate; quantify writes into --dataset-dir") }
        guard datasetDir != nil else { throw ValidationError("give --dataset-dir (or --compare)") }
        guard !eps.isEmpty else { throw ValidationError("give at least one --eps") }
        if let twice = eps.first(where: { e in eps.filter { $0 == e }.count > 1 }) {
            throw ValidationError("--eps \(twice.text) is given twice; give each eps once")
        }
        guard topFraction > 0 && topFraction <= 1 else { throw ValidationError("--top-fraction must be in (0, 1]") }
        guard explain >= 1 else { throw ValidationError("--explain must be at least 1") }
    }

    func run() throws {
        if let datasetDir {
            // Grounding files feed the grounding claims, the summary and the grounding table:
            // each must sit in its slot, like the features and attributes files below.
            try ProvenanceChain().requireGroundingInSlots(eps: eps, layout: DatasetLayout(root: datasetDir,
                                                                                          robust: RobustModels(robustEps: robustEps)))
        }
        if groundingOnly, let datasetDir {
            return try GroundingTable.report(layout: DatasetLayout(root: datasetDir, robust: RobustModels(robustEps: robustEps)),
                                             eps: eps, settings: BootstrapSettings(resamples: bootstrapResamples, seed: bootstrapSeed))
        }
        Engine.configure(threads: common.threads)
        Log.verbose("quantify: \(Engine.threadCount) thread(s)")
        let settings = BootstrapSettings(resamples: bootstrapResamples, seed: bootstrapSeed)
        if !aggregate.isEmpty, let output {
            print(try QuantifyFindings.aggregate(runs: aggregate, datasets: datasets, output: output, settings: settings),
                  terminator: "")
            return
        }
        if !compare.isEmpty, let output {
            try StageRun.checkOutputIsNotAnInput(output, inputs: compare)
            let document = try QuantifyFindings.compare(fine: [compare[0]], coarse: [compare[1]], output: output, settings: settings)
            print((["the paper's claims across datasets (fine: \(compare[0]), coarse: \(compare[1])): "
                    + Finding.tally(document.findings)] + Finding.lines(document.findings)).joined(separator: "\n"))
            return
        }
        guard let datasetDir else { return }
        let layout = DatasetLayout(root: datasetDir, robust: RobustModels(robustEps: robustEps))
        let dataset = try ClassAttributeTable.read(layout.images)
        let sjeFile = try H5File.open(layout.sje(DatasetLayout.standard))
        let phi = try sjeFile.read("class_embeddings", as: Float.self,
                                   expectingShape: [dataset.classCount, dataset.attributeCount]).data
        try NumberCheck.requireFinite(phi, rowWidth: dataset.attributeCount, file: sjeFile.path, object: "/class_embeddings")
        sjeFile.close()
        let inputs = try eps.map { try EpsInputs.read(eps: $0, layout: layout, dataset: dataset) }
        let chain = ProvenanceChain()
        for e in eps { try EpsInputs.checkChain(eps: e, layout: layout, chain: chain) }
        let metrics = inputs.map { EpsMetrics($0, phi: phi, attributeCount: dataset.attributeCount, fraction: topFraction, k: explain) }
        let title = name ?? (datasetDir as NSString).lastPathComponent

        let report = MetricsReport(title: title, dataset: dataset, metrics: metrics, topFraction: topFraction,
                                   robust: layout.robust)
        // Everything is computed before anything is written, so a failure leaves no half output.
        let directoryName = (datasetDir as NSString).lastPathComponent
        let grounding = try QuantifyFindings.groundingRecords(layout: layout, eps: eps,
                                                              testIndex: inputs.first?.standardClean.f.index ?? [])
        var document = report.document(name: directoryName, kind: kind ?? DatasetKind(datasetName: directoryName), seed: Int(common.seed),
                                       grounding: grounding)
        document.findings = ClaimCatalog.evaluate(dataset: [document], settings: settings)
        let run = try StageRun(stage: "quantify", output: layout.metrics, seed: common.seed,
                               parameters: ["eps": eps.map(\.text), "top_fraction": topFraction, "explain": explain]
                                   .merging(robustEps.map { ["robust_eps": $0.text] } ?? [:]) { $1 },
                               inputs: [layout.images, layout.sje(DatasetLayout.standard)] + inputs.flatMap(\.paths))
        // metrics.h5, metrics.json and the tables are published as one set (docs/design.md §
        // Make contract): all written first, metrics.h5 renamed last; metrics.json records
        // metrics.h5's SHA-256, so `report` refuses a pair from two runs.
        let metricsOutput = try AtomicOutput(target: layout.metrics)
        try run.write(to: metricsOutput.temporaryPath) { file in try report.write(to: file) }
        document.metricsH5Sha256 = try SHA256.hex(ofFile: metricsOutput.temporaryPath)
        let outputs = OutputSet()
        try outputs.add(layout.metricsJSON) { try JSONFiles.write(document, to: $0) }
        for (name, text) in report.tables() {
            try outputs.add(layout.table(name)) { try text.write(toFile: $0, atomically: false, encoding: .utf8) }
        }
        outputs.add(metricsOutput)
        try outputs.commit()
        print(report.summary())
        print((["", "the paper's claims on these metrics (docs/claims.md; \(document.kind?.rawValue ?? "kind unknown") dataset, seed "
                + "\(common.seed), one seed: 95% intervals over the \(document.testImages) test images only): "
                + Finding.tally(document.findings)] + Finding.lines(document.findings)).joined(separator: "\n"))
    }
}

extension DatasetKind: ExpressibleByArgument {}
