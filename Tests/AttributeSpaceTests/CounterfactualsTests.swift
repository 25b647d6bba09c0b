import AttributeSpace
import XCTest

/// The counterfactual pieces of docs/explain.md on hand-made vectors.
final class CounterfactualsTests: XCTestCase {
    // Three classes over three attributes: class 0 has attribute 0, class 1 attribute 1, class 2 attribute 2.
    let phi: [Float] = [1, 0, 0, 0, 1, 0, 0, 0, 1]

    func testCounterScoresFavourMovesTowardsTheCounterClass() {
        let a: [Float] = [0.9, 0.1, 0.1], aHat: [Float] = [0.2, 0.8, 0.3]
        let s = Counterfactuals.counterScores(a: a[...], aHat: aHat[...], phiTrue: phi[0..<3], phiCounter: phi[3..<6])
        // Attribute 0 fell (the true class has it), attribute 1 rose (the counter-class has it), 2 separates nothing.
        XCTAssertEqual(s[0], 0.7, accuracy: 1e-6)
        XCTAssertEqual(s[1], 0.7, accuracy: 1e-6)
        XCTAssertEqual(s[2], 0, accuracy: 1e-6)
    }

    func testMinimalSetIsTheShortestPrefixThatFlips() {
        let a: [Float] = [0.9, 0.1, 0.1], aHat: [Float] = [0.2, 0.8, 0.3]
        XCTAssertEqual(Counterfactuals.classify(a[...], phi: phi, classes: 3), 0)
        // Raising attribute 1 alone (0.8 > 0.9? no) does not flip; lowering 0 as well does.
        XCTAssertEqual(Counterfactuals.minimalSetSize(a: a[...], aHat: aHat[...], ranking: [1, 0, 2], counter: 1, phi: phi, classes: 3), 2)
        // Lowering attribute 0 first: 0.2 vs 0.1, 0.1 → still class 0; then raising 1 flips.
        XCTAssertEqual(Counterfactuals.minimalSetSize(a: a[...], aHat: aHat[...], ranking: [0, 1, 2], counter: 1, phi: phi, classes: 3), 2)
        // Already the counter-class: 0; never reached: nil.
        XCTAssertEqual(Counterfactuals.minimalSetSize(a: aHat[...], aHat: a[...], ranking: [0], counter: 1, phi: phi, classes: 3), 0)
        XCTAssertNil(Counterfactuals.minimalSetSize(a: a[...], aHat: aHat[...], ranking: [0, 1, 2], counter: 2, phi: phi, classes: 3))
    }

    func testNearestAndSharesAndConfusions() {
        let vectors: [Float] = [0, 0, 3, 4, 1, 0]
        let hits = Counterfactuals.nearest(2, to: [0.9, 0][...], among: [0, 1, 2], vectors: vectors)
        XCTAssertEqual(hits.map(\.row), [2, 0])
        XCTAssertEqual(hits[0].distance, 0.1, accuracy: 1e-6)
        XCTAssertTrue(Counterfactuals.belongs(rose: true, classValue: 0.5))
        XCTAssertTrue(Counterfactuals.belongs(rose: false, classValue: 0.2))
        XCTAssertTrue(Counterfactuals.imageLacks(rose: true, imageValue: 0))
        XCTAssertFalse(Counterfactuals.imageLacks(rose: false, imageValue: 0))
        let confusion = Confusion(classes: 3, labels: [0, 0, 0, 1, 1, 2], predictions: [1, 1, 0, 2, 0, 2])
        XCTAssertEqual(confusion[0, 1], 2)
        XCTAssertEqual(confusion.topPairs(2).map { [$0.trueClass, $0.predicted, Int($0.count)] }, [[0, 1, 2], [1, 0, 1]])
    }
}
