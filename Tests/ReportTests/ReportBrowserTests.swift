import Foundation
import ImageIO
import TestSupport
import XCTest

/// Renders the report pages in headless Chromium (Debian's `chromium`) and fails on a script
/// error or console message, an image or SVG that does not load or has no pixels, a broken
/// relative link, or a blank screenshot. Skips, saying why, when chromium is not installed
/// (`make deps` / `.ci/run` install it).
final class ReportBrowserTests: XCTestCase {
    var root: URL?
    override func tearDownWithError() throws { if let root { try? FileManager.default.removeItem(at: root) } }

    static func chromium() -> String? {
        for path in ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
            where FileManager.default.isExecutableFile(atPath: path) { return path }
        return nil
    }

    /// Runs chromium with `arguments` on `page`; returns (stdout, stderr).
    func run(_ chromium: String, _ arguments: [String], page: String, home: URL) throws -> (String, String, Int32) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: chromium)
        process.arguments = ["--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--disable-extensions",
                             "--user-data-dir=\(home.path)/profile", "--virtual-time-budget=5000"] + arguments + [URL(fileURLWithPath: page).absoluteString]
        process.environment = ["HOME": home.path, "PATH": "/usr/bin:/bin"]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Chromium's stderr is drained on its own thread so neither pipe can fill up and block it.
        final class Box: @unchecked Sendable { var data = Data() }
        let errData = Box()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { errData.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return (String(decoding: outData, as: UTF8.self), String(decoding: errData.data, as: UTF8.self), process.terminationStatus)
    }

    /// Loads `page`, checks the DOM the page's own checker annotated and the console, then
    /// screenshots it and checks the picture is not one colour.
    func check(_ page: String, chromium: String, home: URL, expectImages: Int) throws {
        let (dom, log, status) = try run(chromium, ["--dump-dom", "--enable-logging=stderr", "--v=0"], page: page, home: home)
        XCTAssertEqual(status, 0, log)
        let console = log.split(separator: "\n").filter { $0.contains(":CONSOLE") }
        XCTAssertEqual(console, [], "console messages on \(page)")
        // The page's checker writes its results as attributes of the <html> element.
        let root = dom.range(of: "<html").map { String(dom[$0.lowerBound...].prefix { $0 != ">" }) } ?? ""
        XCTAssertNil(attribute("data-page-errors", in: root), "page errors on \(page)")
        guard let ok = attribute("data-images-ok", in: root) else {
            return XCTFail("the page's load check did not run on \(page): \(dom.prefix(300))")
        }
        XCTAssertEqual(Int(ok), expectImages, "images with pixels on \(page)")
        XCTAssertEqual(attribute("data-images-broken", in: root), "", "images without pixels")

        let shot = home.appendingPathComponent("shot-\(UUID().uuidString.prefix(6)).png").path
        let (_, shotLog, shotStatus) = try run(chromium, ["--screenshot=\(shot)", "--window-size=1280,1600", "--hide-scrollbars"], page: page, home: home)
        XCTAssertEqual(shotStatus, 0, shotLog)
        let picture = try ImageDecoder.decode(contentsOf: shot)
        XCTAssertEqual([picture.width, picture.height], [1280, 1600])
        var colours = Set<UInt32>()
        for i in stride(from: 0, to: picture.pixels.count, by: 3 * 7) {
            colours.insert(UInt32(picture.pixels[i]) << 16 | UInt32(picture.pixels[i + 1]) << 8 | UInt32(picture.pixels[i + 2]))
            if colours.count > 16 { break }
        }
        XCTAssertGreaterThan(colours.count, 16, "the screenshot of \(page) is (nearly) one colour")
    }

    /// The value of `name="…"` in `html`, if present.
    func attribute(_ name: String, in html: String) -> String? {
        guard let start = html.range(of: "\(name)=\"") else { return nil }
        return String(html[start.upperBound...].prefix { $0 != "\"" })
    }

    func testBothPagesRenderWithoutErrorsInChromium() throws {
        guard let chromium = Self.chromium() else {
            throw XCTSkip("chromium is not installed (apt-get install -y chromium; `make deps` does it as root)")
        }
        let fixture = try ReportFixture.make("report-browser")
        root = fixture.directory.deletingLastPathComponent()
        try fixture.addFindings()
        let dataset = try runStage("report", ["dataset", "--dataset-dir", fixture.path])
        XCTAssertEqual(dataset.status, 0, dataset.stderr)
        let overview = try runStage("report", ["overview", "--data", root!.path, "--datasets", "synth-tiny"])
        XCTAssertEqual(overview.status, 0, overview.stderr)
        let home = root!.appendingPathComponent("chromium-home")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)

        let page = fixture.file("report/index.html")
        let html = try String(contentsOfFile: page, encoding: .utf8)
        let images = html.components(separatedBy: "<img ").count - 1
        XCTAssertGreaterThan(images, 10)
        try check(page, chromium: chromium, home: home, expectImages: images)
        try check(root!.appendingPathComponent("report/index.html").path, chromium: chromium, home: home, expectImages: 2)

        // The check itself catches a broken page: an image whose file is gone.
        try FileManager.default.removeItem(atPath: fixture.file("report/figures/accuracy.svg"))
        let (dom, _, _) = try run(chromium, ["--dump-dom"], page: page, home: home)
        XCTAssertTrue(dom.contains("failed to load") && dom.contains("accuracy.svg"), "a missing figure is reported")
    }
}
