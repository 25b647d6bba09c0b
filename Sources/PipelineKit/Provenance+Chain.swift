import Foundation
import HDF5Store

/// SHA-256 digests of files, each computed at most once per process: a file is identified
/// by device, inode, size and modification time, so an unchanged file is never re-read
/// (images.h5 can be gigabytes), and a file rewritten meanwhile is hashed again.
public final class FileDigests: @unchecked Sendable {
    /// The process-wide cache that provenance and the chain checks share.
    public static let shared = FileDigests()
    private let lock = NSLock()
    private var digests: [String: String] = [:]
    /// Files actually read and hashed (not served from the cache), for tests.
    public private(set) var hashedCount = 0

    public init() {}

    /// The file's SHA-256 as 64 hex digits.
    public func sha256(_ path: String) throws -> String {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw StageError("\(path): cannot open to compute its SHA-256 (missing or unreadable)")
        }
        let key = "\(info.st_dev):\(info.st_ino):\(info.st_size):\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
        lock.lock()
        if let known = digests[key] { lock.unlock(); return known }
        lock.unlock()
        let digest = try SHA256.hex(ofFile: path)
        lock.lock()
        digests[key] = digest
        hashedCount += 1
        lock.unlock()
        return digest
    }
}

/// Checks that artifacts read together belong together, from the provenance every artifact
/// carries (`inputs`: the path and SHA-256 of each file its stage read). An artifact's
/// *ancestors* are its recorded inputs and, recursively, their ancestors — followed only
/// through inputs still on disk with the recorded digest (a changed file's provenance
/// describes something else). Files without provenance (made by hand, or by other tools)
/// are not checked.
///
/// ```swift
/// let chain = ProvenanceChain()
/// try chain.requireDerived(features, from: images, as: "images")   // features → that images.h5
/// try chain.requireSameModel(sje, features)                          // SJE and features of one model
/// ```
public final class ProvenanceChain {
    /// Stages whose output is a model file.
    public static let modelStages: Set<String> = ["train", "adv-train", "import-weights"]
    /// Stages whose output is a dataset (images.h5).
    public static let imageStages: Set<String> = ["prepare-data"]

    /// One recorded input of an artifact.
    public struct Link: Equatable {
        /// The path as recorded.
        public var path: String
        /// The digest recorded when it was read.
        public var sha256: String
        /// The stage that wrote it, when the file is still on disk unchanged and has provenance.
        public var stage: String?
        /// Its depth below the artifact asked about (1 = a direct input).
        public var depth: Int
    }

    let digests: FileDigests
    private var provenances: [String: Provenance?] = [:]

    public init(digests: FileDigests = .shared) { self.digests = digests }

    /// The artifact's provenance, or nil when the file has none.
    public func provenance(of path: String) throws -> Provenance? {
        if let known = provenances[path] { return known }
        let file = try H5File.open(path)
        defer { file.close() }
        let provenance = file.hasAttribute("inputs") && file.hasAttribute("stage") ? try Provenance.read(from: file) : nil
        provenances[path] = provenance
        return provenance
    }

    /// The file's current SHA-256 (cached per process).
    public func sha256(_ path: String) throws -> String { try digests.sha256(path) }

    /// Every ancestor of `path`, nearest first (breadth-first, in recorded input order), and
    /// whether the walk was complete (no recorded input was gone or changed). Nil when the
    /// artifact has no provenance.
    public func ancestors(of path: String) throws -> (links: [Link], complete: Bool)? {
        guard try provenance(of: path) != nil else { return nil }
        var links: [Link] = [], complete = true
        var frontier: [(path: String, depth: Int)] = [(path, 0)]
        var visited: Set<String> = []
        while !frontier.isEmpty {
            let (current, depth) = frontier.removeFirst()
            // Inputs that are not artifacts (text files of an importer, safetensors) end the walk there.
            guard let provenance = depth == 0 ? try provenance(of: current) : (try? provenance(of: current)) ?? nil else { continue }
            for input in provenance.inputs {
                var link = Link(path: input.path, sha256: input.sha256, stage: nil, depth: depth + 1)
                if FileManager.default.fileExists(atPath: input.path), try sha256(input.path) == input.sha256 {
                    link.stage = (try? self.provenance(of: input.path))??.stage
                    if visited.insert(input.sha256).inserted { frontier.append((input.path, depth + 1)) }
                } else {
                    complete = false
                }
                links.append(link)
            }
        }
        return (links, complete)
    }

    /// Throws unless `input` (as it is now) is among `artifact`'s ancestors: the artifact
    /// was made from it, directly or through intermediate artifacts. `role` names what
    /// `input` is ("model", "images", "SJE", …) in the message. Returns false (after a
    /// warning) when the artifact has no provenance or its chain cannot be followed to
    /// the end, so the answer is unknown.
    @discardableResult
    public func requireDerived(_ artifact: String, from input: String, as role: String) throws -> Bool {
        guard let (links, complete) = try ancestors(of: artifact) else {
            Log.verbose("\(artifact): no provenance; not checked against \(role) \(input)")
            return false
        }
        let digest = try sha256(input)
        if links.contains(where: { $0.sha256 == digest }) { return true }
        if let stale = links.first(where: { $0.depth == 1 && Self.samePath($0.path, input) }) {
            let stage = try provenance(of: artifact)?.stage ?? "stage"
            throw StageError("\(artifact): its \(role) \(input) changed since the \(stage) that made it ran "
                             + "(SHA-256 \(digest.prefix(12))… now, \(stale.sha256.prefix(12))… then); rerun the \(stage)")
        }
        guard complete else {
            Log.warning("\(artifact): cannot check it was made from \(role) \(input): some of its recorded inputs "
                        + "are gone or changed (\(links.filter { $0.stage == nil }.map(\.path).joined(separator: ", ")))")
            return false
        }
        let candidates = links.filter { link in role == "model" ? link.stage.map(Self.modelStages.contains) ?? false
                                                : role == "images" ? link.stage.map(Self.imageStages.contains) ?? false
                                                : link.depth == 1 }
        let made = candidates.isEmpty ? "" : " it was made from " + candidates.map { "\($0.path) (SHA-256 \($0.sha256.prefix(12))…)" }
            .joined(separator: ", ") + ";"
        throw StageError("\(artifact): not made from the \(role) \(input) (SHA-256 \(digest.prefix(12))…):\(made) "
                         + "these inputs do not belong together (rerun the stages after the \(role) changed, or give the matching files)")
    }

    /// Whether two paths name the same file (after making them absolute and resolving links).
    static func samePath(_ a: String, _ b: String) -> Bool {
        func resolved(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path }
        return a == b || resolved(a) == resolved(b)
    }

    /// The nearest ancestor written by one of `stages` (the artifact itself if it was), or
    /// nil when none is known.
    public func nearest(_ artifact: String, writtenBy stages: Set<String>) throws -> Link? {
        if let own = try provenance(of: artifact), stages.contains(own.stage) {
            return Link(path: artifact, sha256: try sha256(artifact), stage: own.stage, depth: 0)
        }
        return try ancestors(of: artifact)?.links.first { $0.stage.map(stages.contains) ?? false }
    }

    /// Throws unless `a` and `b` come from the same model (their nearest model ancestors
    /// are the same file), e.g. an SJE and the features it is applied to.
    public func requireSameModel(_ a: String, _ b: String) throws {
        try requireSameOrigin(a, b, writtenBy: Self.modelStages, role: "model")
    }

    /// Throws unless `a` and `b` come from the same images.h5.
    public func requireSameImages(_ a: String, _ b: String) throws {
        try requireSameOrigin(a, b, writtenBy: Self.imageStages, role: "images")
    }

    func requireSameOrigin(_ a: String, _ b: String, writtenBy stages: Set<String>, role: String) throws {
        guard let first = try nearest(a, writtenBy: stages), let second = try nearest(b, writtenBy: stages) else {
            Log.verbose("\(a), \(b): \(role) not known from provenance; not compared")
            return
        }
        guard first.sha256 == second.sha256 else {
            throw StageError("\(b): made from the \(role) \(second.path) (SHA-256 \(second.sha256.prefix(12))…), but \(a) from "
                             + "\(first.path) (SHA-256 \(first.sha256.prefix(12))…): these inputs do not belong together")
        }
    }
}

extension ProvenanceChain {
    /// Throws unless the grounding file of `role` at `eps` (when present) was made in this
    /// dataset directory by the role's model and SJE, from the attacked model's adversarial
    /// file and the directory's images.h5, like every features and attributes file (a
    /// grounding file copied from another dataset or model names both files and their
    /// hashes). Inputs absent from the directory, and files without provenance, are not checked.
    public func requireInSlot(grounding role: GroundingRole, eps: Epsilon, layout: DatasetLayout) throws {
        let fileManager = FileManager.default, path = layout.grounding(role, eps: eps)
        guard fileManager.fileExists(atPath: path) else { return }
        let model = layout.model(of: role, at: eps)
        let expected = [(layout.model(model), "model"), (layout.sje(model), "SJE"),
                        (layout.adversarial(of: role, eps: eps), "adversarial file"), (layout.images, "images")]
        for (input, what) in expected where fileManager.fileExists(atPath: input) {
            try requireDerived(path, from: input, as: what)
        }
    }

    /// `requireInSlot(grounding:…)` for every role at every eps.
    public func requireGroundingInSlots(eps: [Epsilon], layout: DatasetLayout) throws {
        for e in eps {
            for role in GroundingRole.allCases { try requireInSlot(grounding: role, eps: e, layout: layout) }
        }
    }
}
