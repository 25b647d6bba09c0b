import ArgumentParser
import Datasets
import Foundation
import ImageIO
import PipelineKit

extension PrepareData {
    /// Renders synth-fine or synth-coarse.
    func runSynthetic() throws {
        let side = size ?? 32
        let cubDirectory = attributesDir + "/cub"
        let profiles = dataset == .synthFine ? try fineProfiles(cubDirectory) : ClassProfiles.coarse()
        let birds = SyntheticBirds(profiles: profiles, size: side, imagesPerClass: imagesPerClass, seed: common.seed,
                                   trainFraction: trainFraction ?? 0.7, valFraction: valFraction ?? 0.1, birdScale: birdScale)
        if let preview {
            try ImageEncoder.writePNG(birds.preview(threads: common.threads), to: preview)
            Log.info("wrote contact sheet \(preview)")
        }
        guard let output else { return }
        var parameters: [String: Any] = [
            "dataset": dataset.rawValue, "size": side, "images_per_class": imagesPerClass,
            "train_fraction": trainFraction ?? 0.7, "val_fraction": valFraction ?? 0.1,
        ]
        // Recorded only when set, so default renders keep their provenance.
        if birdScale != 1 { parameters["bird_scale"] = birdScale }
        var inputs: [String] = []
        if dataset == .synthFine {
            parameters["classes"] = classes
            parameters["sharpness"] = sharpness
            inputs = ["attributes.txt", "classes.txt", "class_attribute_labels_continuous.txt"].map { cubDirectory + "/" + $0 }
        }
        let progress = Progress("render \(dataset.rawValue)", total: birds.count)
        try StageRun(stage: "prepare-data", output: output, seed: common.seed, parameters: parameters, inputs: inputs).run { file in
            try birds.write(to: file, threads: common.threads) { progress.advance(by: $0) }
            try file.setAttribute("dataset", .string(dataset.rawValue))
        }
        progress.finish()
        Log.info("wrote \(output): \(birds.count) images of \(profiles.count) classes, \(side)×\(side)")
    }

    /// synth-fine's class profiles; a --classes that the CUB files cannot serve is a usage
    /// error (exit 64), like any other bad option.
    func fineProfiles(_ cubDirectory: String) throws -> [ClassProfile] {
        do {
            return try ClassProfiles.fine(cubDirectory: cubDirectory, count: classes, sharpness: sharpness)
        } catch {
            if case .usage(let message) = error { throw ValidationError(message) }
            throw error
        }
    }
}
