import ArgumentParser
import Datasets
import Foundation
import HDF5Store
import ImageIO
import PipelineKit

extension PrepareData {
    /// Imports cub, awa2 or lad from the official tree at --root.
    func runImport() throws {
        let root = self.root!
        guard FileManager.default.fileExists(atPath: root) else {
            throw StageError("\(root): dataset root does not exist")
        }
        let side = size ?? 224
        let val = valFraction ?? 0.1
        let transform: StoredImageTransform = centreCrop
            ? .resizeCentreCrop(shorter: resizeShorter ?? StoredImageTransform.defaultShorter(size: side)) : .squash
        var parameters: [String: Any] = ["dataset": dataset.rawValue, "root": root, "size": side,
                                         "skip_bad_images": skipBadImages, "image_transform": transform.name]
        if case .resizeCentreCrop(let shorter) = transform { parameters["resize_shorter"] = shorter }
        let plan: ImportPlan
        switch dataset {
        case .cub:
            parameters["val_fraction"] = val
            plan = try CUBImporter.plan(root: root, valFraction: val, seed: common.seed)
        case .lad:
            parameters["val_fraction"] = val
            plan = try LADImporter.plan(root: root, valFraction: val, seed: common.seed)
        case .awa2:
            let (train, valShare) = try awa2Fractions()
            parameters["train_fraction"] = train
            parameters["val_fraction"] = valShare
            plan = try AwA2Importer.plan(root: root, train: train, val: valShare, seed: common.seed)
        case .synthFine, .synthCoarse:
            preconditionFailure("synthetic datasets are rendered, not imported")
        }
        guard let output else { return }
        Log.info("\(dataset.rawValue): \(plan.items.count) images, \(plan.classNames.count) classes, \(plan.attributeNames.count) attributes")
        let progress = Progress("import \(dataset.rawValue)", total: plan.items.count)
        let report = try StageRun(stage: "prepare-data", output: output, seed: common.seed, parameters: parameters,
                                  inputs: plan.annotationFiles).run { file in
            let report = try plan.write(to: file, size: side, transform: transform, threads: common.threads, skipBadImages: skipBadImages) {
                progress.advance(by: $0)
            }
            try file.setAttribute("dataset", .string(dataset.rawValue))
            return report
        }
        progress.finish()
        for line in report.skipped { Log.warning("skipped \(line)") }
        let how = if case .resizeCentreCrop(let shorter) = transform { "shorter side resized to \(shorter), centre crop" } else { "whole image resized" }
        Log.info("wrote \(output): \(report.written) images (\(report.skipped.count) skipped), \(side)×\(side) (\(how))")
        if let preview {
            try writeImportPreview(from: output, to: preview, classNames: plan.classNames)
        }
    }

    /// AwA2's train and val fractions: --train-fraction/--val-fraction if given, else the
    /// proportions of --split-sizes (default the paper's 22206/5599/9517).
    func awa2Fractions() throws -> (Double, Double) {
        if trainFraction != nil || valFraction != nil { return (trainFraction ?? 0.7, valFraction ?? 0.1) }
        var sizes = AwA2Importer.paperSplitSizes
        if let splitSizes {
            let parsed = splitSizes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard parsed.count == 3, parsed.allSatisfy({ $0 >= 0 }), parsed[0] > 0 else {
                throw ValidationError("--split-sizes must be three non-negative counts TRAIN,VAL,TEST, got '\(splitSizes)'")
            }
            sizes = parsed
        }
        let total = Double(sizes.reduce(0, +))
        return (Double(sizes[0]) / total, Double(sizes[1]) / total)
    }

    /// A contact sheet of the first 64 stored images of an images.h5 with their class names.
    func writeImportPreview(from path: String, to preview: String, classNames: [String]) throws {
        let file = try H5File.open(path)
        defer { file.close() }
        let count = min(64, try file.shape("labels")[0])
        guard count > 0 else { return }
        let images = try file.readRows("images", 0..<count, as: UInt8.self)
        let labels = try file.read("labels", as: Int32.self).data
        let side = images.shape[1]
        let tiles = (0..<count).map { i -> (image: RGBImage, caption: [String]) in
            let pixels = Array(images.data[(i * side * side * 3)..<((i + 1) * side * side * 3)])
            return (RGBImage(width: side, height: side, pixels: pixels), [classNames[Int(labels[i])]])
        }
        try ImageEncoder.writePNG(ContactSheet.make(tiles), to: preview)
        Log.info("wrote contact sheet \(preview)")
    }
}
