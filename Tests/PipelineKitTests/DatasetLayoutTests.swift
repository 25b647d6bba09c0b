import PipelineKit
import XCTest

/// The pipeline's file names, as the Makefile writes them, and the eps they are keyed by.
final class DatasetLayoutTests: XCTestCase {
    func eps(_ text: String) -> Epsilon { Epsilon(text)! }

    func testNamesFollowThePipeline() {
        let layout = DatasetLayout(root: "data/synth-fine")
        XCTAssertEqual(layout.images, "data/synth-fine/images.h5")
        XCTAssertEqual(layout.model(layout.robustModel(at: eps("0.01"))), "data/synth-fine/models/robust-eps0.01.h5")
        XCTAssertEqual(layout.adversarial(DatasetLayout.standard, eps: eps("0.06")), "data/synth-fine/adv/standard-eps0.06.h5")
        XCTAssertEqual(layout.features("standard", DatasetLayout.adversarialSet(eps("0.12"))), "data/synth-fine/features/standard-adv-eps0.12.h5")
        XCTAssertEqual(layout.attributes(layout.robustModel(at: eps("0.01")), DatasetLayout.transferSet(eps("0.01"))),
                       "data/synth-fine/attributes/robust-eps0.01-transfer-eps0.01.h5")
        XCTAssertEqual(layout.sje("standard"), "data/synth-fine/sje/standard.h5")
        XCTAssertEqual(layout.grounding(.standard, eps: eps("0.01")), "data/synth-fine/grounding/standard-eps0.01.h5")
        XCTAssertEqual(layout.grounding(.robust, eps: eps("0.01")), "data/synth-fine/grounding/robust-eps0.01-eps0.01.h5")
        XCTAssertEqual(layout.grounding(.transfer, eps: eps("0.01")), "data/synth-fine/grounding/robust-eps0.01-transfer-eps0.01.h5")
        XCTAssertEqual(layout.table("accuracy"), "data/synth-fine/tables/accuracy.csv")
        XCTAssertEqual(DatasetLayout(root: "/tmp/x/").metrics, "/tmp/x/metrics.h5")
        XCTAssertEqual(DataLayout(root: "data").dataset("synth-fine").reportFolder, "data/synth-fine/report")
        XCTAssertEqual(DataLayout(root: "data/smoke").findings, "data/smoke/findings.json")
    }

    /// ROBUST_TRAINING=largest: one robust model, robust-eps<max>, is read at every eps.
    func testOneRobustModelForEveryEps() {
        let layout = DatasetLayout(root: "d", robust: RobustModels(robustEps: eps("0.12")))
        XCTAssertEqual(layout.robustModel(at: eps("0.01")), "robust-eps0.12")
        XCTAssertEqual(layout.adversarial(of: .robust, eps: eps("0.01")), "d/adv/robust-eps0.12-eps0.01.h5")
        XCTAssertEqual(layout.adversarial(of: .transfer, eps: eps("0.01")), "d/adv/standard-eps0.01.h5")
        XCTAssertEqual(layout.grounding(.robust, eps: eps("0.06")), "d/grounding/robust-eps0.12-eps0.06.h5")
        XCTAssertEqual(layout.grounding(.transfer, eps: eps("0.06")), "d/grounding/robust-eps0.12-transfer-eps0.06.h5")
        XCTAssertEqual(DatasetLayout(root: "d", robust: RobustModels(robustEps: nil)).robustModel(at: eps("0.06")), "robust-eps0.06")
    }

    func testAdversarialSourceOfASet() {
        let layout = DatasetLayout(root: "d")
        XCTAssertEqual(layout.adversarialSource(of: "robust-eps0.1", set: "adv-eps0.1"), "d/adv/robust-eps0.1-eps0.1.h5")
        XCTAssertEqual(layout.adversarialSource(of: "robust-eps0.1", set: "transfer-eps0.1"), "d/adv/standard-eps0.1.h5")
        XCTAssertNil(layout.adversarialSource(of: "standard", set: "test"))
    }

    /// eps keeps the text it was written as (file names), reads both units, and refuses
    /// what is not a finite non-negative number.
    func testEpsilonParsesAndPrints() {
        XCTAssertEqual(eps("0.01").value, 0.01)
        XCTAssertEqual(eps("0.010").fileTag, "eps0.010")
        XCTAssertNotEqual(eps("0.010"), eps("0.01"))
        XCTAssertEqual(eps("0.01").description, "0.01 (2.55/255)")
        XCTAssertEqual(eps("0.12").description, "0.12 (30.6/255)")
        XCTAssertEqual(Epsilon(value: 0.06).text, "0.06")
        XCTAssertEqual(Epsilon(value: 0.00001).text, "0.00001")
        for bad in ["", "-0.1", "nan", "inf", "abc", "0.1x", "1e40", "1.5"] { XCTAssertNil(Epsilon(bad), bad) }
        XCTAssertEqual([eps("0.12"), eps("0.01"), eps("0.06")].sorted().map(\.text), ["0.01", "0.06", "0.12"])
    }
}
