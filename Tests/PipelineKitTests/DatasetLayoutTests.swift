import PipelineKit
import XCTest

/// The pipeline's file names, as the Makefile writes them.
final class DatasetLayoutTests: XCTestCase {
    func testNamesFollowThePipeline() {
        let layout = DatasetLayout(root: "data/synth-fine")
        XCTAssertEqual(layout.images, "data/synth-fine/images.h5")
        XCTAssertEqual(layout.model(DatasetLayout.robust("0.01")), "data/synth-fine/models/robust-eps0.01.h5")
        XCTAssertEqual(layout.adversarial(DatasetLayout.standard, eps: "0.06"), "data/synth-fine/adv/standard-eps0.06.h5")
        XCTAssertEqual(layout.features("standard", DatasetLayout.adversarialSet("0.12")), "data/synth-fine/features/standard-adv-eps0.12.h5")
        XCTAssertEqual(layout.attributes(DatasetLayout.robust("0.01"), DatasetLayout.transferSet("0.01")),
                       "data/synth-fine/attributes/robust-eps0.01-transfer-eps0.01.h5")
        XCTAssertEqual(layout.sje("standard"), "data/synth-fine/sje/standard.h5")
        XCTAssertEqual(layout.grounding("robust-eps0.01", eps: "0.01"), "data/synth-fine/grounding/robust-eps0.01-eps0.01.h5")
        XCTAssertEqual(layout.table("accuracy"), "data/synth-fine/tables/accuracy.csv")
        XCTAssertEqual(DatasetLayout(root: "/tmp/x/").metrics, "/tmp/x/metrics.h5")
    }

    func testAdversarialSourceOfASet() {
        let layout = DatasetLayout(root: "d")
        XCTAssertEqual(layout.adversarialSource(of: "robust-eps0.1", set: "adv-eps0.1"), "d/adv/robust-eps0.1-eps0.1.h5")
        XCTAssertEqual(layout.adversarialSource(of: "robust-eps0.1", set: "transfer-eps0.1"), "d/adv/standard-eps0.1.h5")
        XCTAssertNil(layout.adversarialSource(of: "standard", set: "test"))
    }
}
