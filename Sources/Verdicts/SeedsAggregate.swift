/// The seeds aggregate (`<DATA>/seeds/metrics.json`, `quantify --aggregate`): per dataset,
/// the findings over its seeds (each estimate with every seed's own value); across
/// datasets, the fine vs coarse findings over the seeds.
public struct SeedsAggregate: Codable, Sendable, Equatable {
    public struct Dataset: Codable, Sendable, Equatable {
        public var name: String
        public var kind: DatasetKind?
        public var seeds: [Int]
        /// The metrics.json of each seed.
        public var metrics: [String]
        public var findings: [Finding]
        /// Each seed's own one-seed verdicts, claim by claim.
        public var seedVerdicts: [SeedVerdicts]
        public init(name: String, kind: DatasetKind?, seeds: [Int], metrics: [String], findings: [Finding], seedVerdicts: [SeedVerdicts]) {
            self.name = name; self.kind = kind; self.seeds = seeds; self.metrics = metrics; self.findings = findings
            self.seedVerdicts = seedVerdicts
        }
    }
    public var datasets: [Dataset]
    public var across: FindingsDocument?
    /// The cross-dataset claims' one-seed verdicts, seed pair by seed pair.
    public var acrossSeedVerdicts: [SeedVerdicts]
    public var bootstrap: BootstrapSettings

    public init(datasets: [Dataset], across: FindingsDocument?, acrossSeedVerdicts: [SeedVerdicts], bootstrap: BootstrapSettings) {
        self.datasets = datasets; self.across = across; self.acrossSeedVerdicts = acrossSeedVerdicts; self.bootstrap = bootstrap
    }

    public static func read(_ path: String) throws -> SeedsAggregate { try JSONFiles.read(path, what: "a seeds aggregate (quantify --aggregate)") }
}

/// One claim's verdicts from each seed alone (one-seed intervals): do two runs that differ
/// only in their seed ever give opposite verdicts?
public struct SeedVerdicts: Codable, Sendable, Equatable {
    public var id: String
    public var verdicts: [Verdict]

    public init(id: String, verdicts: [Verdict]) { self.id = id; self.verdicts = verdicts }

    /// One seed reproduced it and another contradicted it.
    public var opposite: Bool { verdicts.contains(.reproduced) && verdicts.contains(.contradicted) }

    /// Per claim id (in the first seed's order), the verdicts of every seed's findings.
    public static func collect(_ perSeed: [[Finding]]) -> [SeedVerdicts] {
        guard let first = perSeed.first else { return [] }
        return first.map { f in
            SeedVerdicts(id: f.id, verdicts: perSeed.map { list in list.first { $0.id == f.id }?.verdict ?? .undetermined })
        }
    }

    /// "C1 r r u · C2 …" and the opposite ones, for a summary.
    public static func lines(_ list: [SeedVerdicts]) -> [String] {
        let letters: [Verdict: String] = [.reproduced: "r", .contradicted: "c", .undetermined: "u"]
        let opposite = list.filter(\.opposite).map(\.id)
        return ["    each seed alone (r reproduced, c contradicted, u undetermined): "
                + list.map { "\($0.id) " + $0.verdicts.map { letters[$0]! }.joined() }.joined(separator: " · "),
                "    opposite verdicts between seeds: " + (opposite.isEmpty ? "none" : opposite.joined(separator: ", "))]
    }
}
