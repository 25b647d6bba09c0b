import Foundation
import HDF5Store
import TestSupport
import XCTest

/// `make CLUSTER=slurm SHARDS=2` on a real one-node Slurm cluster started on localhost by
/// Tests/cluster/slurm-local.sh (munged, slurmctld, slurmd; state in a temporary folder):
/// the smoke pipeline's artifacts equal a local unsharded run's, dataset for dataset; a
/// job Slurm rejects fails its target and leaves nothing; rerunning make submits only
/// what is missing. Skipped (with the reason) unless Slurm and munge are installed and the
/// test runs as root; `.ci/run` installs them (APT_PACKAGES) and runs as root.
final class SlurmClusterTests: XCTestCase {
    static let dataset = "synth-fine"
    var root: URL!
    override func tearDownWithError() throws { if let root { try? FileManager.default.removeItem(at: root) } }

    func testSmokePipelineOnSlurmEqualsALocalRun() throws {
        guard getuid() == 0 else { throw XCTSkip("the one-node Slurm cluster needs root (slurmd starts jobs as their user)") }
        for program in ["/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/sbin/munged", "/usr/bin/srun", "/usr/bin/make"]
        where !FileManager.default.isExecutableFile(atPath: program) {
            throw XCTSkip("\(program) is not installed (make deps installs slurm-wlm and munge)")
        }
        root = try TestPaths.temporaryDirectory("slurm")
        let cluster = root.appendingPathComponent("slurm")
        let script = TestPaths.repositoryRoot.appendingPathComponent("Tests/cluster/slurm-local.sh")
        let start = try runProcess(script, ["start", cluster.path], environment: ProcessInfo.processInfo.environment)
        XCTAssertEqual(start.status, 0, "slurm-local.sh start: \(start.stdout)\(start.stderr)")
        defer {
            let stop = try? runProcess(script, ["stop", cluster.path], environment: ProcessInfo.processInfo.environment)
            XCTAssertEqual(stop?.status, 0, "slurm-local.sh stop: \(stop?.stderr ?? "")")
            let status = try? runProcess(script, ["status", cluster.path], environment: ProcessInfo.processInfo.environment)
            XCTAssertEqual(status?.stdout.components(separatedBy: "\n").filter { $0.hasSuffix(" stopped") }.count, 3,
                           "every daemon stopped: \(status?.stdout ?? "")")
        }
        guard start.status == 0 else { return }
        let slurmConf = cluster.appendingPathComponent("slurm.conf").path

        let local = root.appendingPathComponent("local"), onSlurm = root.appendingPathComponent("on-slurm")
        let localRun = try make(["DATA=\(local.path)", "-j2", metrics(local)])
        XCTAssertEqual(localRun.status, 0, "local run: \(localRun.stdout.suffix(2000))\(localRun.stderr.suffix(3000))")

        // Every stage through srun, one CPU per job so that two fit on this node at once.
        let slurm = ["DATA=\(onSlurm.path)", "CLUSTER=slurm", "SHARDS=2", "SLURM.CPUS=1", "SLURM.MEM=1G"]
        let run = try make(slurm + ["-j2", metrics(onSlurm)], slurmConf: slurmConf)
        XCTAssertEqual(run.status, 0, "Slurm run: \(run.stdout.suffix(2000))\(run.stderr.suffix(3000))")
        XCTAssertEqual(srunCount(run.stdout), stageCommandCount(run.stdout), "every stage command ran through srun")
        XCTAssertGreaterThan(srunCount(run.stdout), 20)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dataset(onSlurm, "parts/adv/standard-eps0.03.part1of2.h5")))
        XCTAssertTrue(FileManager.default.fileExists(atPath: dataset(onSlurm, "parts/grounding/standard-eps0.03.part1of2.h5")))
        try assertSameDatasets(onSlurm, local)

        // A job Slurm rejects (a node it does not have) fails its target: no artifact, no part,
        // no partial. (A request larger than the node pends instead; a missing --chdir falls back.)
        let attributes = "attributes/standard-test.h5"
        let parts = ["parts/attributes/standard-test.part0of2.h5", "parts/attributes/standard-test.part1of2.h5"]
        for file in [attributes] + parts { try FileManager.default.removeItem(atPath: dataset(onSlurm, file)) }
        let failing = try make(slurm + ["predict-attributes.SRUN_FLAGS=--nodelist=no-such-node", metrics(onSlurm)], slurmConf: slurmConf)
        XCTAssertNotEqual(failing.status, 0, "a rejected job fails make")
        for file in [attributes] + parts {
            XCTAssertFalse(FileManager.default.fileExists(atPath: dataset(onSlurm, file)), "\(file) after a failed job")
        }
        let leftovers = FileManager.default.enumerator(atPath: onSlurm.path)!.compactMap { $0 as? String }.filter { $0.contains(".partial-") }
        XCTAssertEqual(leftovers, [])

        // Rerunning submits the two parts, their merge and quantify, nothing else.
        let rerun = try make(slurm + ["-j2", metrics(onSlurm)], slurmConf: slurmConf)
        XCTAssertEqual(rerun.status, 0, rerun.stderr.suffix(3000).description)
        XCTAssertEqual(srunCount(rerun.stdout), 4, rerun.stdout)
        try assertSameDatasets(onSlurm, local)
    }

    /// A request larger than any node (the default `prepare-data.CPUS := 4` on a 2-CPU node)
    /// is refused when make reads the makefile, naming the setting; a job that still pends
    /// for a reason that cannot change (a request in SRUN_FLAGS) is cancelled and fails its
    /// target. Both used to leave make waiting for ever.
    func testRequestsNoNodeCanMeetFailInsteadOfPending() throws {
        guard getuid() == 0 else { throw XCTSkip("the one-node Slurm cluster needs root (slurmd starts jobs as their user)") }
        for program in ["/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/sbin/munged", "/usr/bin/srun", "/usr/bin/make", "/usr/bin/timeout"]
        where !FileManager.default.isExecutableFile(atPath: program) {
            throw XCTSkip("\(program) is not installed (make deps installs slurm-wlm and munge)")
        }
        root = try TestPaths.temporaryDirectory("slurm-requests")
        let cluster = root.appendingPathComponent("slurm")
        let script = TestPaths.repositoryRoot.appendingPathComponent("Tests/cluster/slurm-local.sh")
        let start = try runProcess(script, ["start", cluster.path], environment: ProcessInfo.processInfo.environment)
        XCTAssertEqual(start.status, 0, "slurm-local.sh start: \(start.stdout)\(start.stderr)")
        defer { _ = try? runProcess(script, ["stop", cluster.path], environment: ProcessInfo.processInfo.environment) }
        guard start.status == 0 else { return }
        let slurmConf = cluster.appendingPathComponent("slurm.conf").path
        let data = root.appendingPathComponent("data"), images = dataset(data, "images.h5")

        let plan = try make(["DATA=\(data.path)", "CLUSTER=slurm", "-n", images], slurmConf: slurmConf, timeout: 60)
        XCTAssertEqual(plan.status, 2, plan.stdout + plan.stderr)
        XCTAssertTrue(plan.stderr.contains("prepare-data.CPUS asks 4 CPUs") && plan.stderr.contains("make prepare-data.CPUS="), plan.stderr)
        let memory = try make(["DATA=\(data.path)", "CLUSTER=slurm", "SLURM.CPUS=1", "train.MEM=100T", "-n", images],
                              slurmConf: slurmConf, timeout: 60)
        XCTAssertEqual(memory.status, 2, memory.stderr)
        XCTAssertTrue(memory.stderr.contains("train.MEM is 100T"), memory.stderr)

        let started = Date()
        let pending = try make(["DATA=\(data.path)", "CLUSTER=slurm", "SLURM.CPUS=1", "SLURM.MEM=1G",
                                "prepare-data.SRUN_FLAGS=--cpus-per-task=4", images], slurmConf: slurmConf, timeout: 120)
        XCTAssertNotEqual(pending.status, 124, "make still waited after 120 s")
        XCTAssertNotEqual(pending.status, 0)
        XCTAssertLessThan(Date().timeIntervalSince(started), 100)
        XCTAssertTrue(pending.stderr.contains("pending for PartitionConfig which cannot change"), pending.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: images))
    }

    // MARK: Helpers

    func dataset(_ data: URL, _ file: String) -> String {
        data.appendingPathComponent(Self.dataset).appendingPathComponent(file).path
    }

    func metrics(_ data: URL) -> String { dataset(data, "metrics.h5") }

    /// Runs make in the repository on synth-fine's smoke profile with the debug stages.
    /// With `timeout`, make is stopped after that many seconds (status 124, as timeout(1)).
    func make(_ arguments: [String], slurmConf: String? = nil, timeout: Int? = nil) throws -> ProcessResult {
        var environment = ProcessInfo.processInfo.environment
        // An outer make (`make test`) must not pass its flags or job server down.
        for name in ["MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"] { environment[name] = nil }
        environment["SLURM_CONF"] = slurmConf
        let base = ["-C", TestPaths.repositoryRoot.path, "PROFILE=smoke", "BIN=\(TestPaths.productsDirectory.path)",
                    "SKIP_BUILD=1", "DATASET=\(Self.dataset)"]
        if let timeout {
            return try runProcess(URL(fileURLWithPath: "/usr/bin/timeout"), [String(timeout), "/usr/bin/make"] + base + arguments,
                                  environment: environment)
        }
        return try runProcess(URL(fileURLWithPath: "/usr/bin/make"), base + arguments, environment: environment)
    }

    func srunCount(_ output: String) -> Int {
        output.components(separatedBy: "\n").filter { $0.hasPrefix("srun ") }.count
    }

    /// Lines of make's output that run a stage binary (through srun or not).
    func stageCommandCount(_ output: String) -> Int {
        let products = TestPaths.productsDirectory.path + "/"
        return output.components(separatedBy: "\n").filter { $0.contains(products) && !$0.hasPrefix("mkdir ") }.count
    }

    /// Every .h5 artifact of the local run exists in `actual` with the same datasets (type,
    /// shape, stored bytes), apart from wall-clock columns (`training/seconds`); grounding
    /// files also with the same numeric root attributes (the summaries over all rows,
    /// which merge-shards recomputes).
    func assertSameDatasets(_ actual: URL, _ expected: URL, file: StaticString = #filePath, line: UInt = #line) throws {
        let base = expected.appendingPathComponent(Self.dataset)
        let enumerator = try XCTUnwrap(FileManager.default.enumerator(atPath: base.path))
        var compared = 0
        for case let relative as String in enumerator where relative.hasSuffix(".h5") && !relative.hasPrefix(".settings/") {
            let mine = try H5File.open(dataset(actual, relative)), theirs = try H5File.open(base.appendingPathComponent(relative).path)
            defer { mine.close(); theirs.close() }
            let objects = try theirs.objects().filter { !$0.isGroup }.map(\.path)
            XCTAssertEqual(try mine.objects().filter { !$0.isGroup }.map(\.path), objects, relative, file: file, line: line)
            for object in objects where !object.hasSuffix("/seconds") {
                XCTAssertTrue(try mine.sameContents(object, in: theirs), "\(relative): \(object) differs", file: file, line: line)
            }
            if relative.hasPrefix("grounding/") {
                for name in try theirs.attributeNames() {
                    guard case .double = try theirs.attribute(name) else { continue }
                    try ShardCheck.assertSame(try mine.attribute(name), try theirs.attribute(name), "\(relative) @\(name)",
                                              file: file, line: line)
                }
            }
            compared += 1
        }
        XCTAssertGreaterThan(compared, 20, "artifacts compared", file: file, line: line)
    }
}
