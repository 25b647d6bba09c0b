import ArgumentParser
import PipelineKit

/// The explain stage: counterfactual explanations (docs/explain.md).
@main
struct Explain: StageCommand {
    static let configuration = CommandConfiguration(
        abstract: "Counterfactual explanations: counter-attributes, counter-examples, natural misclassifications and class confusions.",
        discussion: """
            `explain counterfactual` reads a targeted adversarial file (attack --target) with the predicted attributes
            of its images, of the clean test images and of the training images, and writes per image the ranked
            counter-attributes, the minimal set that flips the attribute-based classifier F to the counter-class,
            the nearest training images of the counter-class and of the true class, and the same for the clean test
            images the model gets wrong (natural misclassifications). `explain confusions` writes confusion matrices
            of adversarial files with the most frequent (true → predicted) pairs and the attributes that separate and
            that moved. `explain summary` states the follow-up's comparisons with bootstrap intervals.
            docs/explain.md has every definition and the file schema.
            """,
        subcommands: [CounterfactualCommand.self, ConfusionsCommand.self, SummaryCommand.self])

    /// A bare `explain` is a usage error (exit 64).
    func run() throws {
        throw ValidationError("give a subcommand: counterfactual, confusions or summary")
    }
}
