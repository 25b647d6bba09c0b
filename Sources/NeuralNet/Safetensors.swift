import Foundation
import Tensors

/// A safetensors file that cannot be used: names the file and what is wrong with it.
public struct SafetensorsError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let message: String
    public var description: String { "\(path): \(message)" }
}

/// Reading and writing the safetensors format (an 8-byte little-endian header length, a
/// JSON header mapping each name to dtype, shape and byte offsets, then the raw data).
/// Float32 tensors are supported; int64 is accepted only for `num_batches_tracked`
/// counters, which real PyTorch checkpoints carry.
public enum Safetensors {
    /// The contents of a safetensors file: float tensors and int64 counters by key.
    public struct Contents: Sendable {
        public var tensors: [String: Tensor]
        public var counters: [String: Int64]
        public var metadata: [String: String]
    }

    /// Reads every tensor; throws `SafetensorsError` for a corrupt header, offsets outside
    /// the file, sizes that disagree with shapes, or a dtype other than F32 (I64 allowed
    /// for `num_batches_tracked`).
    public static func read(path: String) throws -> Contents {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SafetensorsError(path: path, message: "cannot read the file")
        }
        return try parse(data, path: path)
    }

    /// Parses safetensors bytes (`path` only names the source in errors).
    public static func parse(_ data: Data, path: String) throws -> Contents {
        func fail(_ message: String) -> SafetensorsError { SafetensorsError(path: path, message: message) }
        guard data.count >= 8 else { throw fail("too short for a safetensors header (\(data.count) bytes)") }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength > 0, headerLength <= UInt64(data.count - 8), headerLength < 1 << 30 else {
            throw fail("corrupt header: declared header length \(headerLength) does not fit the \(data.count)-byte file")
        }
        let headerEnd = 8 + Int(headerLength)
        let headerBytes = data.subdata(in: 8..<headerEnd)
        guard let json = try? JSONSerialization.jsonObject(with: headerBytes), let header = json as? [String: Any] else {
            throw fail("corrupt header: not a JSON object")
        }
        let body = data.subdata(in: headerEnd..<data.count)
        var contents = Contents(tensors: [:], counters: [:], metadata: [:])
        for (key, value) in header {
            if key == "__metadata__" {
                if let m = value as? [String: Any] { for (k, v) in m { contents.metadata[k] = "\(v)" } }
                continue
            }
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shapeValues = entry["shape"] as? [Any], let offsetValues = entry["data_offsets"] as? [Any],
                  offsetValues.count == 2 else {
                throw fail("corrupt header: entry '\(key)' lacks dtype, shape or data_offsets")
            }
            let shape = try shapeValues.map { v -> Int in
                guard let n = (v as? NSNumber)?.intValue, n >= 0 else { throw fail("corrupt header: '\(key)' has shape \(shapeValues)") }
                return n
            }
            let offsets = try offsetValues.map { v -> Int in
                guard let n = (v as? NSNumber)?.intValue, n >= 0 else { throw fail("corrupt header: '\(key)' has data_offsets \(offsetValues)") }
                return n
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin <= end, end <= body.count else {
                throw fail("corrupt header: '\(key)' data_offsets [\(begin), \(end)] lie outside the \(body.count)-byte data section")
            }
            // Overflow-checked (this file is built with -Ounchecked, where a plain `*` wraps
            // silently): a shape whose byte count wraps must never pass the size check below.
            var count = 1
            for extent in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: extent)
                guard !overflow, product <= body.count else {
                    throw fail("'\(key)': shape \(shape) holds more elements than the \(body.count)-byte data section")
                }
                count = product
            }
            switch dtype {
            case "F32":
                let (bytes, overflow) = count.multipliedReportingOverflow(by: 4)
                guard !overflow, end - begin == bytes else {
                    throw fail("'\(key)': shape \(shape) needs \(overflow ? "more than \(Int.max)" : String(bytes)) bytes, "
                               + "data_offsets span \(end - begin)")
                }
                var values = [Float](repeating: 0, count: count)
                values.withUnsafeMutableBytes { dst in
                    body.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[begin..<end])) }
                }
                let decoded = values.map { Float(bitPattern: UInt32(littleEndian: $0.bitPattern)) }
                if let bad = decoded.firstIndex(where: { !$0.isFinite }) {
                    throw fail("tensor '\(key)' element \(bad) (of shape \(shape)) is \(decoded[bad]); weights must be finite")
                }
                contents.tensors[key] = Tensor(shape: shape, data: decoded)
            case "I64" where key.hasSuffix("num_batches_tracked"):
                guard count == 1, end - begin == 8 else {
                    throw fail("'\(key)': expected one int64, found shape \(shape) in \(end - begin) bytes")
                }
                var raw: UInt64 = 0
                withUnsafeMutableBytes(of: &raw) { dst in
                    body.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[begin..<end])) }
                }
                contents.counters[key] = Int64(bitPattern: UInt64(littleEndian: raw))
            default:
                throw fail("'\(key)' has dtype \(dtype); only F32 tensors are supported (convert the checkpoint to float32)")
            }
        }
        return contents
    }

    /// Writes float tensors (in the given order) and int64 scalar counters to `path`.
    public static func write(tensors: [(key: String, value: Tensor)], counters: [(key: String, value: Int64)] = [],
                             metadata: [String: String] = [:], to path: String) throws {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var body = Data()
        for (key, t) in tensors {
            let begin = body.count
            t.data.withUnsafeBytes { body.append(contentsOf: $0) }   // x86 and ARM are little-endian, as the format
            header[key] = ["dtype": "F32", "shape": t.shape, "data_offsets": [begin, body.count]] as [String: Any]
        }
        for (key, n) in counters {
            let begin = body.count
            withUnsafeBytes(of: n.littleEndian) { body.append(contentsOf: $0) }
            header[key] = ["dtype": "I64", "shape": [Int](), "data_offsets": [begin, body.count]] as [String: Any]
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }   // pad with spaces, as the reference writer does
        var out = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        out.append(body)
        do { try out.write(to: URL(fileURLWithPath: path), options: .atomic) }
        catch { throw SafetensorsError(path: path, message: "cannot write: \(error.localizedDescription)") }
    }
}

extension ResNet {
    /// A model from a PyTorch safetensors checkpoint with torchvision key names. The
    /// architecture is inferred from the shapes unless `config` is given, in which case the
    /// file must match it (a mismatch lists missing, unexpected and wrongly shaped keys).
    public static func importSafetensors(path: String, config: ResNetConfig? = nil) throws -> ResNet {
        let contents = try Safetensors.read(path: path)
        let config = try config ?? ResNetConfig.infer(fromShapes: contents.tensors.mapValues(\.shape))
        return try ResNet(config: config, stateDict: contents.tensors, numBatchesTracked: contents.counters)
    }

    /// Writes the state dict as safetensors (float32 tensors, int64 `num_batches_tracked`).
    public func exportSafetensors(to path: String) throws {
        try Safetensors.write(tensors: stateDict(), counters: batchesTracked,
                              metadata: ["format": "pt", "arch": config.name], to: path)
    }
}
