import Foundation
import HDF5Store
import TestSupport
import XCTest

/// The make contract (docs/design.md § Make contract), checked by driving the real Makefile
/// with the built debug stages on the smoke profile of synth-fine, in a temporary data root:
/// `make DATA_ROOT=<tmp> PROFILE=smoke BIN=<products> SKIP_BUILD=1 DATASET=synth-fine`.
/// The pipeline runs once (about a minute); the other checks read make's plan (`make -n`,
/// `-q`, `-W`) or rerun only a few cheap stages. quantify waits for the grounding files (its
/// findings include grounding), so they are in every plan; report/ is outside these checks,
/// except one test that builds the report pages.
final class MakeContractTests: XCTestCase {
    static let dataset = "synth-fine"
    /// The smoke profile's eps list (pipelines/common.mk).
    static let smokeEpsilons = ["0.03", "0.06"]
    nonisolated(unsafe) static var root: URL?
    nonisolated(unsafe) static var setupFailure: String?

    var root: URL { Self.root! }
    var data: URL { root.appendingPathComponent("smoke") }
    var datasetDir: URL { data.appendingPathComponent(Self.dataset) }
    var metrics: String { datasetDir.appendingPathComponent("metrics.h5").path }

    override class func setUp() {
        super.setUp()
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/make") else {
            setupFailure = "make is not installed"
            return
        }
        do {
            let root = try TestPaths.temporaryDirectory("make-contract")
            Self.root = root
            let metrics = root.appendingPathComponent("smoke/\(dataset)/metrics.h5").path
            // Fail fast (instead of running a long profile) if the Makefile has no smoke profile.
            let plan = try make(["-n", metrics], root: root)
            guard plan.status == 0, plan.stdout.contains("--size 16") else {
                setupFailure = "the smoke profile's plan does not render 16 px images:\n\(plan.stdout.prefix(2000))\(plan.stderr)"
                return
            }
            let run = try make(["-j2", metrics], root: root)
            if run.status != 0 { setupFailure = "the smoke pipeline failed:\n\(run.stdout.suffix(3000))\n\(run.stderr.suffix(3000))" }
        } catch {
            setupFailure = "\(error)"
        }
    }

    override class func tearDown() {
        if let root { try? FileManager.default.removeItem(at: root) }
        super.tearDown()
    }

    override func setUpWithError() throws {
        if let failure = Self.setupFailure {
            if failure == "make is not installed" { throw XCTSkip(failure) }
            XCTFail(failure)
            throw XCTSkip("no smoke run to check")
        }
    }

    // MARK: Driving make

    /// Runs make in the repository on the smoke profile under `root`, with the debug stages.
    @discardableResult
    static func make(_ arguments: [String], root: URL, profile: String = "smoke") throws -> ProcessResult {
        let arguments = ["-C", TestPaths.repositoryRoot.path, "DATA_ROOT=\(root.path)", "PROFILE=\(profile)",
                         "BIN=\(TestPaths.productsDirectory.path)", "SKIP_BUILD=1", "DATASET=\(dataset)"] + arguments
        // An outer make (`make test`) must not pass its flags or job server down.
        var environment = ProcessInfo.processInfo.environment
        for name in ["MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"] { environment[name] = nil }
        return try runProcess(URL(fileURLWithPath: "/usr/bin/make"), arguments, environment: environment)
    }

    func make(_ arguments: [String], profile: String = "smoke") throws -> ProcessResult {
        try Self.make(arguments, root: root, profile: profile)
    }

    /// The files that the stage commands in make's output write, relative to `base`: each
    /// command line starting with the products directory names its file after --output
    /// (quantify: --dataset-dir D writes D/metrics.h5).
    func stageOutputs(_ output: String, relativeTo base: URL) -> Set<String> {
        let bin = TestPaths.productsDirectory.path + "/"
        var files = Set<String>()
        for line in output.split(separator: "\n") {
            let words = line.split(separator: " ").map(String.init)
            guard let first = words.first, first.hasPrefix(bin) else { continue }
            if let i = words.firstIndex(of: "--output"), i + 1 < words.count {
                files.insert(words[i + 1])
            } else if let i = words.firstIndex(of: "--dataset-dir"), i + 1 < words.count {
                files.insert(words[i + 1] + "/metrics.h5")
            } else {
                files.insert(line.description)  // an unexpected command: shown in the failure
            }
        }
        let prefix = base.path + "/"
        return Set(files.map { $0.hasPrefix(prefix) ? String($0.dropFirst(prefix.count)) : $0 })
    }

    /// The plan of `make -n ARGUMENTS metrics.h5`, as files relative to the dataset folder.
    func plannedFiles(_ arguments: [String], profile: String = "smoke", target: String? = nil, base: URL? = nil) throws -> Set<String> {
        let result = try make(["-n"] + arguments + [target ?? metrics], profile: profile)
        XCTAssertEqual(result.status, 0, result.stderr)
        return stageOutputs(result.stdout, relativeTo: base ?? datasetDir)
    }

    /// Every .h5 artifact under the dataset folder with its inode and modification time.
    func snapshot() throws -> [String: String] {
        var files: [String: String] = [:]
        let enumerator = FileManager.default.enumerator(at: datasetDir, includingPropertiesForKeys: nil)!
        for case let url as URL in enumerator where url.pathExtension == "h5" {
            let relative = String(url.path.dropFirst(datasetDir.path.count + 1))
            if relative.hasPrefix(".settings/") || relative.hasPrefix("report/") { continue }
            var info = stat()
            XCTAssertEqual(stat(url.path, &info), 0)
            files[relative] = "\(info.st_ino) \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
        }
        return files
    }

    func changedFiles(from before: [String: String], to after: [String: String]) -> Set<String> {
        Set(after.keys.filter { before[$0] != after[$0] }).union(before.keys.filter { after[$0] == nil })
    }

    /// The grounding files of one eps (white-box standard and robust, transfer).
    func groundingFiles(_ e: String) -> Set<String> {
        ["grounding/standard-eps\(e).h5", "grounding/robust-eps\(e)-eps\(e).h5", "grounding/robust-eps\(e)-transfer-eps\(e).h5"]
    }

    /// Every file of one eps's chain (its robust model and its concept probe, attacks, features, SJE, attributes, grounding).
    func epsChain(_ e: String) -> Set<String> {
        let robust = "robust-eps\(e)"
        var files: Set<String> = ["models/\(robust).h5", "probe/\(robust).h5", "sje/\(robust).h5", "adv/standard-eps\(e).h5",
                                  "adv/\(robust)-eps\(e).h5"]
        files.formUnion(groundingFiles(e))
        for split in ["train", "val", "test"] { files.insert("features/\(robust)-\(split).h5") }
        files.insert("attributes/\(robust)-test.h5")
        for set in ["standard-adv-eps\(e)", "\(robust)-adv-eps\(e)", "\(robust)-transfer-eps\(e)"] {
            files.insert("features/\(set).h5")
            files.insert("attributes/\(set).h5")
        }
        return files
    }

    // MARK: The contract

    /// `ATTACKS="ifgsm apgd-ce"` (pipelines/attacks.mk): the default ATTACKS plans nothing new;
    /// apgd-ce gets its own chain under attacks/apgd-ce/ (attacks, features, attributes,
    /// grounding, metrics, report; the clean files are links), then attacks/summary.json holds
    /// each attack's robust accuracy and the per-image worst case, which is at most each; after
    /// the run nothing is planned; an L2 attack in ATTACKS is an error. The chain is removed at
    /// the end, so the other tests see the plain run.
    func testAttacksRunOneChainPerAttack() throws {
        let attacks = datasetDir.appendingPathComponent("attacks")
        defer { try? FileManager.default.removeItem(at: attacks) }
        XCTAssertEqual(try plannedFiles(["ATTACKS=ifgsm"]), [])
        let summary = attacks.appendingPathComponent("summary.json").path
        let report = attacks.appendingPathComponent("apgd-ce/report/index.html").path
        let chainMetrics = attacks.appendingPathComponent("apgd-ce/metrics.h5").path
        let plan = try make(["-n", "ATTACKS=ifgsm apgd-ce", summary, chainMetrics])
        XCTAssertEqual(plan.status, 0, plan.stderr)
        let planned = stageOutputs(plan.stdout, relativeTo: datasetDir)
        XCTAssertTrue(planned.allSatisfy { $0.hasPrefix("attacks/") }, "outside the attack's chain: \(planned)")
        var expected: Set<String> = ["attacks/summary.json", "attacks/apgd-ce/metrics.h5"]
        for e in Self.smokeEpsilons {
            let robust = "robust-eps\(e)"
            expected.formUnion(["attacks/apgd-ce/adv/standard-eps\(e).h5", "attacks/apgd-ce/adv/\(robust)-eps\(e).h5"])
            expected.formUnion(groundingFiles(e).map { "attacks/apgd-ce/\($0)" })
            for set in ["standard-adv-eps\(e)", "\(robust)-adv-eps\(e)", "\(robust)-transfer-eps\(e)"] {
                expected.formUnion(["attacks/apgd-ce/features/\(set).h5", "attacks/apgd-ce/attributes/\(set).h5"])
            }
        }
        XCTAssertEqual(planned, expected)

        // MINIMAL=deepfool (the default profile's) adds the minimal-norm attack on the standard
        // model, its features and predicted attributes, which attack-summary reads.
        let minimalPlan = try make(["-n", "ATTACKS=ifgsm apgd-ce", "MINIMAL=deepfool", summary, chainMetrics])
        XCTAssertEqual(stageOutputs(minimalPlan.stdout, relativeTo: datasetDir),
                       expected.union(["adv", "features", "attributes"].map { "attacks/deepfool/\($0)/standard.h5" }))

        let page = datasetDir.appendingPathComponent("report/index.html").path
        let run = try make(["ATTACKS=ifgsm apgd-ce", "MINIMAL=deepfool", summary, report, page])
        XCTAssertEqual(run.status, 0, "\(run.stdout.suffix(2000))\n\(run.stderr.suffix(2000))")
        XCTAssertTrue(FileManager.default.fileExists(atPath: report))
        // The dataset's page shows every attack (linking the chain's page) and the closest pairs.
        let html = try String(contentsOfFile: page, encoding: .utf8)
        XCTAssertTrue(html.contains("id=\"attacks\"") && html.contains("href=\"../attacks/apgd-ce/report/index.html\""), page)
        XCTAssertTrue(html.contains("worst case"), page)
        XCTAssertEqual(try make(["-q", "ATTACKS=ifgsm apgd-ce", "MINIMAL=deepfool", page]).status, 0, "the page is stale after the run")
        XCTAssertEqual(try make(["-q", "ATTACKS=ifgsm", page]).status, 1, "the page does not follow ATTACKS")
        let adversarial = try H5File.open(attacks.appendingPathComponent("apgd-ce/adv/standard-eps0.03.h5").path)
        XCTAssertEqual(try adversarial.attribute("method").stringValue, "apgd-ce")
        adversarial.close()
        let document = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: summary))) as! [String: Any]
        let groups = document["groups"] as! [[String: Any]]
        XCTAssertEqual(groups.count, 2 * Self.smokeEpsilons.count, "standard and robust model at every eps")
        for group in groups {
            let perAttack = group["robust_accuracy"] as! [String: Double]
            XCTAssertEqual(Set(perAttack.keys), ["ifgsm", "apgd-ce"])
            XCTAssertLessThanOrEqual(group["worst_case_robust_accuracy"] as! Double, perAttack.values.min()!)
        }
        let minimal = (document["closest_pairs"] as! [[String: Any]]).first
        XCTAssertEqual(minimal?["method"] as? String, "deepfool")
        if let pair = (minimal?["pairs"] as? [[String: Any]])?.first {
            XCTAssertEqual((pair["moved_attributes"] as? [[String: Any]])?.count, 3, "\(pair)")
            XCTAssertTrue(html.contains("attributes that moved"), page)
        }
        XCTAssertEqual(try plannedFiles(["ATTACKS=ifgsm apgd-ce", "MINIMAL=deepfool"], target: summary), [])
        let l2 = try make(["-n", "ATTACKS=ifgsm cw-l2", metrics])
        XCTAssertNotEqual(l2.status, 0)
        XCTAssertTrue(l2.stderr.contains("cw-l2"), l2.stderr)
    }

    /// After a complete run make plans nothing, and `-q` agrees.
    func testCompleteRunPlansNothing() throws {
        XCTAssertEqual(try plannedFiles([]), [])
        XCTAssertEqual(try make(["-q", metrics]).status, 0, "make -q says something is stale")
        XCTAssertTrue(FileManager.default.fileExists(atPath: datasetDir.appendingPathComponent("summary.txt").path))
    }

    /// The report pages (per dataset, then across datasets) build from the finished run,
    /// `all`'s final line names the report, and afterwards make has nothing left to do for them.
    func testReportPagesFollowTheMetrics() throws {
        let page = datasetDir.appendingPathComponent("report/index.html").path
        let overview = data.appendingPathComponent("report/index.html").path
        let run = try make(["all"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("dataset --dataset-dir \(datasetDir.path)") && run.stdout.contains("overview --data \(data.path)"),
                      run.stdout)
        let lines = run.stdout.split(separator: "\n").filter { !$0.hasPrefix("make:") && !$0.isEmpty }
        XCTAssertTrue(lines.last?.hasPrefix("report: \(overview)") ?? false, "all ends by printing the report's path:\n\(run.stdout.suffix(500))")
        XCTAssertTrue(FileManager.default.fileExists(atPath: page) && FileManager.default.fileExists(atPath: overview))
        XCTAssertEqual(try make(["-q", page, overview]).status, 0, "make -q says a report page is stale")
    }

    /// After a complete run `make -q` (the goal `all`) answers 0, and a deleted side output
    /// (metrics.json, a table, summary.txt, a report figure, the grounding table) is rebuilt
    /// by the stage that writes it; then make is done again.
    func testSideOutputsAreRebuiltAndCompleteRunIsUpToDate() throws {
        XCTAssertEqual(try make(["all"]).status, 0)
        XCTAssertEqual(try make(["-q"]).status, 0, "make -q says something is stale after a complete run")
        let figures = datasetDir.appendingPathComponent("report/figures")
        let figure = try XCTUnwrap(FileManager.default.contentsOfDirectory(atPath: figures.path).sorted().first { $0.hasSuffix(".svg") })
        for side in ["metrics.json", "tables/accuracy.csv", "tables/explanations-eps\(Self.smokeEpsilons[1]).csv", "summary.txt",
                     "tables/grounding.csv", "report/figures/" + figure] {
            let file = datasetDir.appendingPathComponent(side).path
            try FileManager.default.removeItem(atPath: file)
            XCTAssertEqual(try make(["-q"]).status, 1, "make -q does not see \(side) missing")
            let run = try make(["all"])
            XCTAssertEqual(run.status, 0, run.stderr)
            XCTAssertTrue(FileManager.default.fileExists(atPath: file), "\(side) is not rebuilt")
            XCTAssertEqual(try make(["-q"]).status, 0, "make -q after rebuilding \(side)")
        }
    }

    /// A second make on the same data folder (here a process holding its lock) stops at
    /// once with a clear message instead of racing on the settings stamps.
    func testSecondMakeOnOneFolderFailsOnTheLock() throws {
        let lock = data.appendingPathComponent(".make.lock").path
        let holder = Process()
        // One process that holds the lock (exec: no child keeps it after terminate()).
        holder.executableURL = URL(fileURLWithPath: "/bin/bash")
        holder.arguments = ["-c", "exec 9>>'\(lock)' && flock 9 && exec sleep 60"]
        try holder.run()
        defer { holder.terminate(); holder.waitUntilExit() }
        usleep(300_000)
        let start = Date()
        let second = try make([metrics])
        XCTAssertEqual(second.status, 2, second.stderr)
        XCTAssertTrue(second.stderr.contains("is in use by another make") && second.stderr.contains(lock), second.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(start), 30)
        XCTAssertEqual(try make(["-n", metrics]).status, 0, "make -n takes no lock")
        holder.terminate()
        holder.waitUntilExit()
        XCTAssertEqual(try make([metrics]).status, 0, "the lock goes with its holder")
    }

    /// Values make cannot quote (spaces, shell characters) are refused when make reads the
    /// makefile: `DATA=/x/My Data` used to write a settings stamp over a file /x/My and
    /// create ./Data in the repository.
    func testUnquotableValuesAreRefusedBeforeAnythingIsWritten() throws {
        let my = root.appendingPathComponent("My").path
        try Data("keep".utf8).write(to: URL(fileURLWithPath: my))
        for setting in ["DATA=\(my) Data", "DATA=\(root.path)/a;touch \(root.path)/pwned", "DATA=\(root.path)/$(shell touch x)",
                        "EPSILONS=0.03 0.06;x"] {
            let result = try make([setting, metrics])
            XCTAssertEqual(result.status, 2, "\(setting): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains("make cannot quote"), result.stderr)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: my)), Data("keep".utf8))
        for stray in [TestPaths.repositoryRoot.appendingPathComponent("Data").path, root.appendingPathComponent("pwned").path,
                      TestPaths.repositoryRoot.appendingPathComponent("x").path] {
            XCTAssertFalse(FileManager.default.fileExists(atPath: stray), "\(stray) was created")
        }
    }

    /// Artifacts without settings stamps (made before stamps existed) are kept: the stamps
    /// are written with the artifacts' times and nothing reruns.
    func testMissingStampsAdoptExistingArtifacts() throws {
        try FileManager.default.removeItem(at: datasetDir.appendingPathComponent(".settings"))
        XCTAssertEqual(try plannedFiles([]), [])
        XCTAssertEqual(try make(["-q", metrics]).status, 0)
        let stamp = datasetDir.appendingPathComponent(".settings/models/standard.h5").path
        XCTAssertTrue(try String(contentsOfFile: stamp, encoding: .utf8).hasPrefix("train --images <DATA>/\(Self.dataset)/images.h5"))
    }

    /// A deleted intermediate artifact is rebuilt, with exactly its dependents.
    func testDeletedIntermediateRerunsItsDependents() throws {
        let before = try snapshot()
        XCTAssertNotNil(before["features/standard-test.h5"])
        try FileManager.default.removeItem(at: datasetDir.appendingPathComponent("features/standard-test.h5"))
        let expected: Set = ["features/standard-test.h5", "attributes/standard-test.h5", "metrics.h5"]
        XCTAssertEqual(try plannedFiles([]), expected)

        let run = try make([metrics])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(stageOutputs(run.stdout, relativeTo: datasetDir), expected)
        XCTAssertEqual(changedFiles(from: before, to: try snapshot()), expected)
        XCTAssertEqual(try plannedFiles([]), [])
    }

    /// A new eps in EPSILONS plans exactly that eps's chain and quantify; the kept eps is untouched.
    func testChangedEpsRerunsOnlyItsChain() throws {
        let planned = try plannedFiles(["EPSILONS=\(Self.smokeEpsilons[0]) 0.1"])
        XCTAssertEqual(planned, epsChain("0.1").union(["metrics.h5"]))
        XCTAssertTrue(planned.isDisjoint(with: epsChain(Self.smokeEpsilons[0])))
        XCTAssertEqual(try make(["-q", "EPSILONS=\(Self.smokeEpsilons[0]) 0.1", metrics]).status, 1)
    }

    /// A setting given on the command line reruns exactly its stage and what depends on it;
    /// going back to the .mk file's value reruns them again, and then nothing is stale.
    func testCommandLineSettingRerunsItsStageAndDependents() throws {
        let setting = "\(Self.dataset).SJE=--epochs 3 --learning-rate 0.01 --feature-normalisation standardise"
        var expected: Set<String> = ["metrics.h5"]
        for model in ["standard"] + Self.smokeEpsilons.map({ "robust-eps\($0)" }) {
            expected.insert("sje/\(model).h5")
            expected.insert("attributes/\(model)-test.h5")
        }
        for e in Self.smokeEpsilons {
            for set in ["standard-adv-eps\(e)", "robust-eps\(e)-adv-eps\(e)", "robust-eps\(e)-transfer-eps\(e)"] {
                expected.insert("attributes/\(set).h5")
            }
            expected.formUnion(groundingFiles(e))  // ground reads the SJE
        }
        XCTAssertEqual(try plannedFiles([setting]), expected)
        // The plan changed no stamp: without the setting nothing is stale.
        XCTAssertEqual(try plannedFiles([]), [])

        let before = try snapshot()
        let run = try make([setting, metrics])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(changedFiles(from: before, to: try snapshot()), expected)
        XCTAssertEqual(try plannedFiles([setting]), [])
        // Back to the .mk file's setting: the same stages are stale again.
        XCTAssertEqual(try plannedFiles([]), expected)
        let back = try make([metrics])
        XCTAssertEqual(back.status, 0, back.stderr)
        XCTAssertEqual(try plannedFiles([]), [])
    }

    /// `<ds>.GROUND_MAPS=--method apn` (pipelines/grounding.mk, not the default): one head per
    /// model (fit-apn → apn/<model>.h5) and every grounding file, each ground reading its own
    /// model's head; nothing else, and the plan changes no stamp.
    func testAPNMapsPlanOneHeadPerModelAndTheGrounding() throws {
        let setting = "\(Self.dataset).GROUND_MAPS=--method apn"
        var expected: Set<String> = ["metrics.h5"]
        for model in ["standard"] + Self.smokeEpsilons.map({ "robust-eps\($0)" }) { expected.insert("apn/\(model).h5") }
        for e in Self.smokeEpsilons { expected.formUnion(groundingFiles(e)) }
        XCTAssertEqual(try plannedFiles([setting]), expected)
        try assertEachGroundReadsItsModelsHead(in: "apn", plan: try make(["-n", setting, metrics]).stdout)
        XCTAssertEqual(try plannedFiles([]), [])
    }

    /// Every ground command of `plan` (3 per eps: standard, robust, transfer) gives `--apn` the
    /// head in `directory` named for its own `--model` file.
    func assertEachGroundReadsItsModelsHead(in directory: String, plan: String, method: String? = nil,
                                            file: StaticString = #filePath, line: UInt = #line) throws {
        let grounds = plan.split(separator: "\n").filter { $0.hasPrefix(TestPaths.productsDirectory.path + "/ground ") }
        XCTAssertEqual(grounds.count, 3 * Self.smokeEpsilons.count, file: file, line: line)
        for command in grounds {
            let words = command.split(separator: " ").map(String.init)
            if let method { XCTAssertTrue(command.contains("--method \(method)"), String(command), file: file, line: line) }
            let model = try XCTUnwrap(words.firstIndex(of: "--model").map { URL(fileURLWithPath: words[$0 + 1]).lastPathComponent },
                                      file: file, line: line)
            let head = try XCTUnwrap(words.firstIndex(of: "--apn").map { URL(fileURLWithPath: words[$0 + 1]) }, file: file, line: line)
            XCTAssertEqual(head.lastPathComponent, model, "ground reads the file of its own model: \(command)", file: file, line: line)
            XCTAssertEqual(head.deletingLastPathComponent().lastPathComponent, directory, file: file, line: line)
        }
    }

    /// The rendered sets' default maps: a concept probe per model (pipelines/grounding.mk: `--method
    /// probe`, fit-apn with `<ds>.PROBE` → probe/<model>.h5), each ground reading its own model's probe.
    /// Another probe setting reruns exactly the probes and the grounding, and the plan changes no stamp.
    func testProbeMapsAreTheDefaultWithOneProbePerModel() throws {
        let models = ["standard"] + Self.smokeEpsilons.map { "robust-eps\($0)" }
        for model in models {
            let file = try H5File.open(datasetDir.appendingPathComponent("probe/\(model).h5").path)
            defer { file.close() }
            XCTAssertEqual(try file.attribute("objective").stringValue, "segmentation", model)
        }
        let setting = "\(Self.dataset).PROBE=--objective segmentation --layer 2 --positive-weight 1 --epochs 1"
        var expected: Set<String> = ["metrics.h5"]
        for model in models { expected.insert("probe/\(model).h5") }
        for e in Self.smokeEpsilons { expected.formUnion(groundingFiles(e)) }
        XCTAssertEqual(try plannedFiles([setting]), expected)
        try assertEachGroundReadsItsModelsHead(in: "probe", plan: try make(["-n", setting, metrics]).stdout, method: "probe")
        XCTAssertEqual(try plannedFiles([]), [])
    }

    /// ROBUST_TRAINING=largest: one robust model, trained at the largest eps, is attacked and
    /// read at every eps (adv/robust-eps<max>-eps<e>.h5, quantify --robust-eps <max>); the
    /// other eps's robust models are not trained.
    func testLargestRobustTrainingPlansOneRobustModelForEveryEps() throws {
        let eps = Self.smokeEpsilons.sorted { Double($0)! < Double($1)! }
        let (small, large) = (eps.first!, eps.last!)
        let robust = "robust-eps\(large)"
        let setting = "\(Self.dataset).ROBUST_TRAINING=largest"
        let planned = try plannedFiles([setting])
        // The robust model at the largest eps stays as it is; the smaller eps get its attacks and features.
        XCTAssertFalse(planned.contains("models/\(robust).h5"), "\(planned)")
        for file in ["adv/\(robust)-eps\(small).h5", "features/\(robust)-adv-eps\(small).h5",
                     "attributes/\(robust)-transfer-eps\(small).h5", "metrics.h5"] {
            XCTAssertTrue(planned.contains(file), "\(file) not in \(planned)")
        }
        XCTAssertTrue(planned.allSatisfy { !$0.contains("robust-eps\(small)") }, "\(planned)")
        let plan = try make(["-n", setting, metrics])
        XCTAssertTrue(plan.stdout.contains("--robust-eps \(large)"), plan.stdout)
    }

    /// The report runs on a dataset whose one robust model was trained at the largest eps: a
    /// copy of the smoke run, rerun with ROBUST_TRAINING=largest up to the report, finds every
    /// file through the layout's robust model (quantify records it as metrics.h5's robust_eps).
    func testReportRunsOnLargestRobustTraining() throws {
        let large = Self.smokeEpsilons.max { Double($0)! < Double($1)! }!
        let copy = root.appendingPathComponent("largest")
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        let copied = try runProcess(URL(fileURLWithPath: "/bin/cp"), ["-a", datasetDir.path, copy.path],
                                    environment: ProcessInfo.processInfo.environment)
        XCTAssertEqual(copied.status, 0, copied.stderr)
        let dataset = copy.appendingPathComponent(Self.dataset)
        let report = dataset.appendingPathComponent("report/index.html").path
        let run = try make(["DATA=\(copy.path)", "\(Self.dataset).ROBUST_TRAINING=largest", report])
        XCTAssertEqual(run.status, 0, String(run.stdout.suffix(2000)) + String(run.stderr.suffix(2000)))
        XCTAssertTrue(FileManager.default.fileExists(atPath: report))
        let file = try H5File.open(dataset.appendingPathComponent("metrics.h5").path)
        defer { file.close() }
        XCTAssertEqual(try file.attribute("robust_eps").stringValue, large)
        let page = try String(contentsOfFile: report, encoding: .utf8)
        XCTAssertTrue(page.contains("panels/eps\(Self.smokeEpsilons[0])/"), "the page shows panels at every eps")
    }

    /// `make <ds>` runs one dataset alone and `make <ds>-<stage>` one stage's artifacts of it
    /// (with what they need); `make help` lists both.
    func testDatasetAndStageTargets() throws {
        let coarse = try make(["-n", "DATASET=", "synth-coarse"])
        XCTAssertEqual(coarse.status, 0, coarse.stderr)
        XCTAssertTrue(coarse.stdout.contains("--dataset synth-coarse"), coarse.stdout)
        XCTAssertFalse(coarse.stdout.contains("synth-fine"), "make synth-coarse plans synth-fine too")

        let attack = try make(["-n", "DATASET=", "synth-coarse-attack"])
        XCTAssertEqual(attack.status, 0, attack.stderr)
        let stages = Set(attack.stdout.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix(TestPaths.productsDirectory.path) else { return nil }
            return String(line.dropFirst(TestPaths.productsDirectory.path.count + 1).prefix { $0 != " " })
        })
        XCTAssertEqual(stages, ["prepare-data", "train", "adv-train", "attack"], attack.stdout)

        // On the finished smoke run, a stage target of synth-fine has nothing to do.
        let ground = try make(["-q", "\(Self.dataset)-ground"])
        XCTAssertEqual(ground.status, 0, ground.stdout + ground.stderr)

        let help = try make(["help"])
        XCTAssertTrue(help.stdout.contains("<ds>-<stage>"), help.stdout)
        XCTAssertTrue(help.stdout.contains("synth-coarse-attack"), help.stdout)
    }

    /// A rebuilt stage binary reruns what it writes, with its dependents (make -W: "as if new").
    func testRebuiltStageRerunsItsArtifacts() throws {
        let planned = try plannedFiles(["-W", TestPaths.productsDirectory.appendingPathComponent("fit-sje").path])
        XCTAssertTrue(planned.contains("sje/standard.h5"))
        XCTAssertTrue(planned.allSatisfy { $0.hasPrefix("sje/") || $0.hasPrefix("attributes/") || $0.hasPrefix("grounding/") || $0 == "metrics.h5" }, "\(planned)")
    }

    /// Another profile plans its own whole chain in its own folder and nothing in the smoke one.
    func testOtherProfileRunsItsOwnChainInItsOwnFolder() throws {
        let defaultMetrics = root.appendingPathComponent("\(Self.dataset)/metrics.h5").path
        let result = try make(["-n", defaultMetrics], profile: "default")
        XCTAssertEqual(result.status, 0, result.stderr)
        let planned = stageOutputs(result.stdout, relativeTo: root)
        XCTAssertTrue(planned.contains("\(Self.dataset)/images.h5"))
        XCTAssertTrue(planned.contains("\(Self.dataset)/models/standard.h5"))
        XCTAssertTrue(planned.allSatisfy { $0.hasPrefix("\(Self.dataset)/") }, "\(planned)")
        XCTAssertTrue(result.stdout.contains("--size 32"), "the default profile renders 32 px images")
        // The paper's budgets (0.01, 0.06, 0.12 on [−1, 1] inputs) in pixel units, and synth-fine
        // with as many classes as synth-coarse (docs/claims.md).
        XCTAssertTrue(result.stdout.contains("--eps 0.005 0.03 0.06"), "quantify at the paper's budgets")
        XCTAssertTrue(result.stdout.contains("--classes 10 "), "ten classes")

        let full = try make(["-n", root.appendingPathComponent("full/\(Self.dataset)/metrics.h5").path], profile: "full")
        XCTAssertTrue(stageOutputs(full.stdout, relativeTo: root).allSatisfy { $0.hasPrefix("full/") })
        // The smoke artifacts are still complete.
        XCTAssertEqual(try plannedFiles([]), [])
    }

    /// An unknown profile is an error that names the known ones.
    func testUnknownProfileIsAnError() throws {
        let result = try make(["-n", metrics], profile: "fast")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("unknown PROFILE 'fast'"), result.stderr)
        XCTAssertTrue(result.stderr.contains("default smoke full"), result.stderr)
    }

    /// SEEDS="1 2": one sub-make per seed, each seeding every dataset with its seed in its own
    /// folder (make runs the sub-makes under -n too, so their plans show); SEED and SEEDS together
    /// are an error.
    func testSeedsPlanOneChainPerSeedInItsOwnFolder() throws {
        let result = try make(["-n", "SEEDS=1 2"])
        for s in ["1", "2"] {
            let folder = data.appendingPathComponent("seed-\(s)").path
            XCTAssertTrue(result.stdout.contains("== seed \(s): \(folder) "), result.stdout.prefix(3000).description)
            XCTAssertTrue(result.stdout.contains("--seed \(s) --output \(folder)/\(Self.dataset)/images.h5"), "seed \(s)'s own images")
            XCTAssertTrue(result.stdout.contains("--dataset-dir \(folder)/\(Self.dataset) --eps"), "seed \(s)'s own quantify")
        }
        XCTAssertFalse(result.stdout.contains("--output \(datasetDir.path)/images.h5"), "nothing in the one-seed folder")
        let both = try make(["-n", "SEEDS=1 2", "SEED=3"])
        XCTAssertNotEqual(both.status, 0)
        XCTAssertTrue(both.stderr.contains("not both"), both.stderr)
    }
}
