import Foundation
import HDF5Store
import ImageIO
import TestSupport
import Verdicts
import XCTest

/// `text` as the page escapes it.
func escapeHTML(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        .replacingOccurrences(of: "\"", with: "&quot;").replacingOccurrences(of: "'", with: "&#39;")
}

/// The report binary on a tiny dataset: pages, figures, panels, and bad input.
final class ReportStageTests: XCTestCase {
    var fixtures: [ReportFixture] = []
    override func tearDownWithError() throws {
        for f in fixtures { try? FileManager.default.removeItem(at: f.directory.deletingLastPathComponent()) }
    }
    func fixture(_ label: String, grounding: Bool? = true) throws -> ReportFixture {
        let f = try ReportFixture.make(label, grounding: grounding)
        fixtures.append(f)
        return f
    }

    func read(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    /// Every relative link exists and is non-empty; every SVG parses as XML; every PNG decodes.
    func checkFolder(_ index: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let html = try read(index)
        let folder = (index as NSString).deletingLastPathComponent
        let (relative, external) = links(in: html)
        XCTAssertEqual(external, [], "the page must not reach outside its folder", file: file, line: line)
        XCTAssertFalse(html.contains("<link") || html.contains("@import") || html.contains("url(http"), file: file, line: line)
        for link in relative {
            let path = (folder as NSString).appendingPathComponent(link)
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
            XCTAssertNotNil(size, "broken link \(link)", file: file, line: line)
            XCTAssertGreaterThan(size ?? 0, 0, "empty file \(link)", file: file, line: line)
            if link.hasSuffix(".svg") {
                let (error, elements) = parseXML(try read(path))
                XCTAssertNil(error, "\(link): \(String(describing: error))", file: file, line: line)
                XCTAssertEqual(elements["svg"], 1, link, file: file, line: line)
                XCTAssertTrue(FileManager.default.fileExists(atPath: path.replacingOccurrences(of: ".svg", with: ".csv")), "CSV beside \(link)")
            }
            if link.hasSuffix(".png") {
                XCTAssertNoThrow(try ImageDecoder.decode(contentsOf: path), link, file: file, line: line)
            }
        }
    }

    func testDatasetReportHasFiguresPanelsAndFindings() throws {
        let f = try fixture("report-full")
        try f.addFindings()
        let result = try runStage("report", ["dataset", "--dataset-dir", f.path, "--confident", "2", "--random", "1", "--seed", "3"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let index = f.file("report/index.html")
        XCTAssertEqual(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines), index)
        try checkFolder(index)
        let html = try read(index)
        for figure in ["accuracy", "distances", "robust_ratio", "grounding"] {
            XCTAssertTrue(html.contains("src=\"figures/\(figure).svg\""), figure)
            XCTAssertTrue(html.contains("href=\"figures/\(figure).csv\""), figure)
        }
        // The summary table shows quantify's numbers: f clean 5/6, adv 2/6 on the standard model.
        XCTAssertTrue(html.contains("<td>83.3</td><td>33.3</td>"), "summary table")
        XCTAssertTrue(html.contains(">reproduced</span>") && html.contains(">contradicted</span>") && html.contains(">undetermined</span>"))
        XCTAssertTrue(html.contains("Robust training recovers accuracy") && html.contains("A quoted sentence of X2."))
        // Three seeds: a dot per seed beside each interval.
        XCTAssertEqual(html.components(separatedBy: "<circle class=\"seed\"").count - 1, 9)
        // Panels: the standard model is fooled on rows 0, 2, 3 clean-correct ones: 0 (image 4), 2 (14), 3 (19); f's adv
        // logits grow with the row, so the most confident are images 19 then 14.
        XCTAssertTrue(html.contains("true: class 1 · standard: class 0 · robust: class 0"), "caption of image 19")
        let firstPanel = html.range(of: "· image ")!.upperBound
        XCTAssertTrue(html[firstPanel...].hasPrefix("19 "), "most confident first")
        for eps in f.eps {
            for name in ["19-clean.png", "19-standard.png", "19-robust.png", "19-clean-map.png"] {
                XCTAssertTrue(FileManager.default.fileExists(atPath: f.file("report/panels/eps\(eps)/\(name)")), name)
            }
        }
        let png = try ImageDecoder.decode(contentsOf: f.file("report/panels/eps0.01/19-clean.png"))
        XCTAssertEqual([png.width, png.height], [256, 256], "16 px enlarged 16× to about 256 px")
        XCTAssertEqual(png[0, 0] as (UInt8, UInt8, UInt8) == png[15, 15], true, "nearest-neighbour: a 16×16 block is one pixel")
        XCTAssertEqual(html.components(separatedBy: "class=\"panel\"").count - 1, 2 * 3, "2 confident + 1 random per eps")
        XCTAssertTrue(html.contains("class=\"g\"") && html.contains("class=\"u\"") && html.contains("class=\"pk\""),
                      "grounded attributes coloured with peak markers, ungrounded grey")
        XCTAssertFalse(html.contains("not run"))

        // Same inputs and seed: the same bytes.
        let before = try read(index), svg = try read(f.file("report/figures/distances.svg"))
        XCTAssertEqual(try runStage("report", ["dataset", "--dataset-dir", f.path, "--confident", "2", "--random", "1", "--seed", "3"]).status, 0)
        XCTAssertEqual(try read(index), before)
        XCTAssertEqual(try read(f.file("report/figures/distances.svg")), svg)
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: f.path).contains { $0.contains("partial") || $0.contains(".old-") })
    }

    func testWithoutGroundingTheReportSaysSoAndFindingsAreNotInvented() throws {
        let f = try fixture("report-nogrounding", grounding: nil)
        let result = try runStage("report", ["dataset", "--dataset-dir", f.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        let html = try read(f.file("report/index.html"))
        try checkFolder(f.file("report/index.html"))
        XCTAssertTrue(html.contains("Grounding not run"))
        // quantify's own findings are shown, one row each, with their claims.
        var document = try MetricsDocument.read(f.file("metrics.json"))
        let findings = document.findings
        XCTAssertFalse(findings.isEmpty)
        for finding in findings {
            XCTAssertTrue(html.contains(escapeHTML(finding.claim)) && html.contains(escapeHTML(finding.quote)), finding.id)
            XCTAssertTrue(html.contains(escapeHTML(finding.criterion)), finding.id)
        }
        XCTAssertEqual(html.components(separatedBy: "<tr><td class=\"l\"><span class=").count - 1, findings.count)
        XCTAssertEqual(html.components(separatedBy: "<svg class=\"iv\"").count - 1, findings.map(\.estimates.count).reduce(0, +),
                       "one interval plot per estimate")
        XCTAssertTrue(html.contains("0.01 (paper 0.02)"), "eps in both units")
        // With no findings, the page says so.
        document.findings = []
        try document.write(to: f.file("metrics.json"))
        XCTAssertEqual(try runStage("report", ["dataset", "--dataset-dir", f.path]).status, 0)
        XCTAssertTrue(try read(f.file("report/index.html")).contains("The findings were not computed"))
        XCTAssertFalse(html.contains("figures/grounding.svg"))
        XCTAssertTrue(html.contains("class=\"panel\""), "panels show images even without grounding")

        let required = try runStage("report", ["dataset", "--dataset-dir", f.path, "--require-grounding"])
        XCTAssertNotEqual(required.status, 0)
        XCTAssertTrue(required.stderr.contains("grounding/standard-eps0.01.h5") && required.stderr.contains("stage ground")
                      && required.stderr.contains("make "), required.stderr)
    }

    func testWithoutPartTruthTheReportSaysSoWhereGroundingWouldBe() throws {
        let f = try fixture("report-noparts", grounding: false)
        let result = try runStage("report", ["dataset", "--dataset-dir", f.path, "--images", "9,24"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let html = try read(f.file("report/index.html"))
        try checkFolder(f.file("report/index.html"))
        XCTAssertTrue(html.contains("no part annotations"))
        XCTAssertFalse(html.contains("figures/grounding.svg"))
        XCTAssertFalse(html.contains("class=\"g\""), "nothing is marked grounded")
        XCTAssertEqual(html.components(separatedBy: "requested with --images").count - 1, 2 * 2)
        XCTAssertTrue(html.contains("· image 9 ") && html.contains("· image 24 "))
    }

    func testMissingInputsFailNamingTheStageAndWriteNothing() throws {
        let f = try fixture("report-bad", grounding: true)
        try FileManager.default.removeItem(atPath: f.file("grounding/robust-eps0.06-eps0.06.h5"))
        let partial = try runStage("report", ["dataset", "--dataset-dir", f.path])
        XCTAssertNotEqual(partial.status, 0)
        XCTAssertTrue(partial.stderr.contains("robust-eps0.06-eps0.06.h5") && partial.stderr.contains("stage ground"), partial.stderr)

        try FileManager.default.removeItem(atPath: f.file("metrics.h5"))
        let missing = try runStage("report", ["dataset", "--dataset-dir", f.path])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("metrics.h5") && missing.stderr.contains("stage quantify")
                      && missing.stderr.contains("make \(f.file("metrics.h5"))"), missing.stderr)

        let overview = try runStage("report", ["overview", "--data", f.directory.deletingLastPathComponent().path, "--datasets", "synth-tiny"])
        XCTAssertNotEqual(overview.status, 0)
        XCTAssertTrue(overview.stderr.contains("stage quantify"), overview.stderr)

        let badImage = try runStage("report", ["dataset", "--dataset-dir", f.path, "--images", "x"])
        XCTAssertEqual(badImage.status, 64, "usage error")
        for name in try FileManager.default.contentsOfDirectory(atPath: f.path) {
            XCTAssertFalse(name.hasPrefix("report"), "nothing written: \(name)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: f.directory.deletingLastPathComponent().appendingPathComponent("report").path))
    }

    func testOverviewComparesDatasetsAndLinksTheirPages() throws {
        let f = try fixture("report-overview")
        let root = f.directory.deletingLastPathComponent()
        // A second dataset: a copy of the first under another name, without a page of its own.
        try FileManager.default.copyItem(at: f.directory, to: root.appendingPathComponent("synth-copy"))
        XCTAssertEqual(try runStage("report", ["dataset", "--dataset-dir", f.path]).status, 0)
        var contradicted = ReportFixture.madeUpFindings[1]
        contradicted.claim = "The attack hurts fine-grained more"
        try FindingsDocument(fine: ["a/metrics.json"], coarse: ["b/metrics.json"], findings: [contradicted])
            .write(to: root.appendingPathComponent("findings.json").path)
        let result = try runStage("report", ["overview", "--data", root.path, "--datasets", "synth-tiny", "synth-copy"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let index = root.appendingPathComponent("report/index.html").path
        try checkFolder(index)
        let html = try read(index)
        XCTAssertTrue(html.contains("href=\"../synth-tiny/report/index.html\""))
        XCTAssertFalse(html.contains("href=\"../synth-copy/report/index.html\""), "no link to a page that does not exist")
        XCTAssertTrue(html.contains("The attack hurts fine-grained more") && html.contains(">contradicted<"))
        XCTAssertTrue(html.contains("synth-tiny (3 classes)") && html.contains("synth-copy (3 classes)"))
    }
}
