import Randomness
/// Seeded, stratified split assignment.
public enum SplitAssignment {
    /// For items of one class (`count` of them), a split per item: a seeded shuffle, then
    /// the first round(count·train) train, the next round(count·val) val, the rest test.
    /// With at least 3 items each split gets one when its fraction is positive, so every
    /// class appears in every split a user asked for.
    public static func stratified(count: Int, train: Double, val: Double, rng: inout SplitMix) -> [Split] {
        var nTrain = Int((Double(count) * train).rounded())
        var nVal = Int((Double(count) * val).rounded())
        let test = 1 - train - val
        if count >= 3 {
            if train > 0 { nTrain = max(nTrain, 1) }
            if val > 0 { nVal = max(nVal, 1) }
            if test > 1e-9 { nTrain = min(nTrain, count - nVal - 1) }
        }
        nTrain = min(nTrain, count)
        nVal = min(nVal, count - nTrain)
        var splits = [Split](repeating: .test, count: count)
        for (rank, item) in Array(0..<count).seededShuffle(&rng).enumerated() {
            splits[item] = rank < nTrain ? .train : rank < nTrain + nVal ? .val : .test
        }
        return splits
    }

    /// Moves a seeded `fraction` of each class's training items to val (CUB's and LAD's
    /// official splits have no validation set). `labels[i]` is item i's class.
    public static func carveValidation(_ splits: inout [Split], labels: [Int], fraction: Double, seed: UInt64) {
        var byClass: [Int: [Int]] = [:]
        for (i, s) in splits.enumerated() where s == .train { byClass[labels[i], default: []].append(i) }
        for c in byClass.keys.sorted() {
            let items = byClass[c]!
            var rng = SplitMix(seed: seed, stream: RandomStreams.validationCarve(classIndex: c))
            let n = min(items.count - 1, Int((Double(items.count) * fraction).rounded()))
            guard n > 0 else { continue }
            for i in items.seededShuffle(&rng).prefix(n) { splits[i] = .val }
        }
    }
}
