import ArgumentParser
import Foundation
import PipelineKit
import ReportKit
import Verdicts

/// The report stage: HTML pages with the paper's figures and explanation panels.
@main
struct Report: StageCommand {
    static let configuration = CommandConfiguration(
        abstract: "Writes the self-contained HTML report of one dataset, or the page across datasets.",
        discussion: """
            `report dataset --dataset-dir D` reads D/metrics.h5 and D/metrics.json (quantify), D/grounding/*.h5
            (ground; optional unless --require-grounding), D/images.h5, D/adv/*.h5 and D/features/standard-adv-eps<e>.h5,
            and writes D/report/index.html with figures/ (SVG + CSV) and panels/ (PNG).
            `report overview --data DATA --datasets A B` writes DATA/report/index.html comparing the datasets.
            `report seeds --folder DIR` writes DIR/report/index.html from DIR/metrics.json (quantify --aggregate):
            every claim over the seeds, each seed's value drawn as a dot beside the interval.
            Pages open from the file system: no server, no network, nothing external.
            """,
        subcommands: [DatasetCommand.self, OverviewCommand.self, SeedsCommand.self])

    /// A bare `report` is a usage error (exit 64), not a successful run that wrote nothing.
    func run() throws {
        throw ValidationError("give a subcommand: dataset (one dataset's report), overview (the page across datasets) "
                              + "or seeds (a folder of runs over seeds)")
    }
}

/// Image numbers for --images: rows of images.h5, comma separated.
struct ImageList: ExpressibleByArgument {
    let rows: [Int64]
    init?(argument: String) {
        let parts = argument.split(separator: ",").map { Int64($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil && $0! >= 0 }) else { return nil }
        rows = parts.map { $0! }
    }
}

struct DatasetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dataset", abstract: "The report of one dataset: D/report/index.html.")

    @Option(help: "The dataset's artifact directory (e.g. data/synth-fine).")
    var datasetDir: String
    @Option(help: "Show these test images (rows of images.h5, e.g. 12,40,41) instead of the default selection.")
    var images: ImageList?
    @Option(help: "Per eps, how many of the standard model's most confident misclassifications to show.")
    var confident = 3
    @Option(help: "How many seeded random test images to show besides (the same for every eps).")
    var random = 2
    @Option(help: "Nearest-neighbour enlargement of the panel images (default: to about 192 px).")
    var scale: Int?
    @Flag(help: "Fail when the grounding files are missing (default: the report says grounding was not run).")
    var requireGrounding = false
    @Option(help: "attack-summary's JSON (D/attacks/summary.json): the page then shows accuracy and R per attack (each other attack's chain under D/attacks/<method>/), the worst case, the gradient-masking count and a minimal-norm attack's closest class pairs.")
    var attacks: String?
    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard confident >= 0, random >= 0 else { throw ValidationError("--confident and --random must be at least 0") }
        if let scale, scale < 1 || scale > 32 { throw ValidationError("--scale must be in 1...32") }
    }

    func run() throws {
        Log.isVerbose = common.verbose
        let metrics = try DatasetMetrics.read(directory: datasetDir)
        let grounding = try DatasetGrounding.read(layout: metrics.layout, eps: metrics.eps, required: requireGrounding)
        let report = DatasetReport(metrics: metrics, grounding: grounding,
                                   selection: PanelSelection(confident: confident, random: random, requested: images?.rows, seed: common.seed),
                                   scale: scale, command: CommandLine.arguments.joined(separator: " "),
                                   attacks: try attacks.map { try AttackSummaryInput.read($0, datasetDir: datasetDir) })
        let index = try report.write()
        let bytes = ReportDirectory.size(of: metrics.layout.reportFolder)
        Log.info("report: \(index) (\(bytes / 1024) KiB)")
        print(index)
    }
}

struct OverviewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "overview", abstract: "The page across datasets: DATA/report/index.html.")

    @Option(help: "The artifact root holding one folder per dataset (e.g. data).")
    var data: String
    @Option(parsing: .upToNextOption, help: "Datasets to compare, in page order (fine-grained first); each needs its metrics.")
    var datasets: [String]
    @Option(parsing: .upToNextOption, help: "Datasets added when their metrics exist.")
    var optionalDatasets: [String] = ["cub", "awa2", "lad"]
    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard !datasets.isEmpty else { throw ValidationError("give at least one --datasets") }
    }

    func run() throws {
        Log.isVerbose = common.verbose
        var names = datasets
        let layout = DataLayout(root: data)
        for name in optionalDatasets where !names.contains(name) && FileManager.default.fileExists(atPath: layout.dataset(name).metrics) {
            names.append(name)
        }
        let metrics = try names.map { try DatasetMetrics.read(directory: layout.dataset($0).root) }
        let path = layout.findings
        let findings: [Finding]?
        do {
            findings = FileManager.default.fileExists(atPath: path) ? try FindingsDocument.read(path).findings : nil
        } catch {
            throw StageError("\(error)")
        }
        let index = try OverviewReport(dataRoot: data, datasets: metrics, findings: findings,
                                       command: CommandLine.arguments.joined(separator: " ")).write()
        Log.info("report: \(index)")
        print(index)
    }
}

struct SeedsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "seeds", abstract: "The page of a multi-seed run: DIR/report/index.html.")

    @Option(help: "The aggregate's folder (e.g. data/seeds), holding quantify --aggregate's metrics.json.")
    var folder: String
    @OptionGroup var common: CommonOptions

    func run() throws {
        Log.isVerbose = common.verbose
        let aggregate: SeedsAggregate
        do { aggregate = try SeedsAggregate.read(SeedsLayout(root: folder).metricsJSON) } catch { throw StageError("\(error)") }
        let index = try SeedsReport(folder: folder, aggregate: aggregate, command: CommandLine.arguments.joined(separator: " ")).write()
        Log.info("report: \(index)")
        print(index)
    }
}
