import ArgumentParser
import Foundation
import HDF5Store
import PipelineKit

/// Prints an artifact's provenance and a tree of its groups and datasets with shapes,
/// dtypes and the attributes a person wants to read first.
@main
struct Inspect: StageCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show an artifact's provenance and its tree of datasets (like h5ls -r, plus attributes).")

    @Argument(help: "HDF5 artifacts to describe.")
    var files: [String]

    @Flag(help: "Show only the provenance, not the tree.")
    var provenanceOnly = false

    @Option(help: "Attribute values longer than this many characters are cut.")
    var width = 72

    func validate() throws {
        guard width >= 1 else { throw ValidationError("--width must be at least 1, got \(width)") }
    }

    func run() throws {
        for (index, path) in files.enumerated() {
            if index > 0 { print() }
            let file = try H5File.open(path)
            defer { file.close() }
            print(path)
            printProvenance(file)
            if !provenanceOnly {
                printRootAttributes(file)
                print("/")
                try printTree(file, group: "/", indent: "")
            }
        }
    }

    private func printProvenance(_ file: H5File) {
        guard let provenance = try? Provenance.read(from: file) else {
            print("  (no attrib-adv provenance attributes)")
            return
        }
        print("  stage    \(provenance.stage) (attrib-adv \(provenance.version)), created \(provenance.created)")
        print("  command  \(provenance.command)")
        print("  seed     \(provenance.seed)")
        print("  params   \(provenance.parameters)")
        for input in provenance.inputs {
            print("  input    \(input.path)  sha256 \(input.sha256.prefix(16))…")
        }
    }

    /// The root's own attributes besides the provenance (e.g. a grounding file's summaries).
    private func printRootAttributes(_ file: H5File) {
        let provenance: Set = ["stage", "version", "command", "params", "inputs", "seed", "created"]
        for name in ((try? file.attributeNames(of: "/")) ?? []) where !provenance.contains(name) {
            guard let value = try? file.attribute(name, of: "/") else { continue }
            var text = value.description
            if text.count > width { text = String(text.prefix(width)) + "…" }
            print("  attr     \(name) = \(text)")
        }
    }

    private func printTree(_ file: H5File, group: String, indent: String) throws {
        let names = try file.childNames(group)
        for (index, name) in names.enumerated() {
            let path = group == "/" ? "/" + name : group + "/" + name
            let last = index == names.count - 1
            let branch = indent + (last ? "└── " : "├── ")
            let attributes = attributeSummary(file, path)
            if file.isGroup(path) {
                print(branch + name + "/" + (attributes.isEmpty ? "" : "  " + attributes))
                try printTree(file, group: path, indent: indent + (last ? "    " : "│   "))
            } else {
                let shape = (try? file.shape(path)).map { "[" + $0.map(String.init).joined(separator: ", ") + "]" } ?? "?"
                let dtype = (try? file.dtype(path)).map(String.init(describing:)) ?? "?"
                let label = (branch + name).padding(toLength: max(34, (branch + name).count + 1), withPad: " ", startingAt: 0)
                print(label + "\(dtype) \(shape)" + (attributes.isEmpty ? "" : "  " + attributes))
            }
        }
    }

    private func attributeSummary(_ file: H5File, _ path: String) -> String {
        guard let names = try? file.attributeNames(of: path) else { return "" }
        return names.compactMap { name -> String? in
            guard let value = try? file.attribute(name, of: path) else { return nil }
            var text = value.description
            if text.count > width { text = String(text.prefix(width)) + "…" }
            return "\(name)=\(text)"
        }.joined(separator: " ")
    }
}
