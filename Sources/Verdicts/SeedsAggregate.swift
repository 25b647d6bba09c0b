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
        public init(name: String, kind: DatasetKind?, seeds: [Int], metrics: [String], findings: [Finding]) {
            self.name = name; self.kind = kind; self.seeds = seeds; self.metrics = metrics; self.findings = findings
        }
    }
    public var datasets: [Dataset]
    public var across: FindingsDocument?
    public var bootstrap: BootstrapSettings

    public init(datasets: [Dataset], across: FindingsDocument?, bootstrap: BootstrapSettings) {
        self.datasets = datasets; self.across = across; self.bootstrap = bootstrap
    }

    public static func read(_ path: String) throws -> SeedsAggregate { try JSONFiles.read(path, what: "a seeds aggregate (quantify --aggregate)") }
}
