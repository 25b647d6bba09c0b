// The only file importing CImageCodecs: every C call goes through `call`, which turns the
// C status and message into a thrown ImageIOError and takes ownership of the C buffer.
import CImageCodecs
import Foundation

/// An image could not be read, decoded or encoded. The description names the file when one is known.
public struct ImageIOError: Error, CustomStringConvertible, Equatable {
    /// The file involved, if any.
    public var path: String?
    /// What went wrong, including the codec's own message.
    public var message: String

    public init(path: String? = nil, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String {
        if let path { return "\(path): \(message)" }
        return message
    }
}

/// Image file formats recognised by their leading bytes.
public enum ImageFormat: String, Sendable {
    case jpeg, png

    /// Detects the format from magic bytes; nil if neither JPEG nor PNG.
    public static func sniff<C: Collection>(_ bytes: C) -> ImageFormat? where C.Element == UInt8 {
        let head = Array(bytes.prefix(8))
        if head.count >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF { return .jpeg }
        if head == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
        return nil
    }
}

/// Runs one codec entry point, converting its status into a throw and copying its malloc'd
/// output into Swift memory (the C buffer is always freed here).
private func call(_ what: String,
                  _ body: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>, UnsafeMutablePointer<CChar>) -> Int32)
    throws(ImageIOError) -> UnsafeMutablePointer<UInt8> {
    var output: UnsafeMutablePointer<UInt8>? = nil
    var message = [CChar](repeating: 0, count: Int(ICODEC_ERROR_LENGTH))
    let status = message.withUnsafeMutableBufferPointer { body(&output, $0.baseAddress!) }
    guard status == 0, let output else {
        let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw ImageIOError(message: text.isEmpty ? "\(what) failed" : text)
    }
    return output
}

/// Decoding of JPEG and PNG files to RGB.
public enum ImageDecoder {
    /// Decodes JPEG or PNG bytes (detected by signature) to RGB. Greyscale, CMYK/YCCK,
    /// palette and alpha images are converted to RGB (alpha is dropped, as PIL's
    /// `convert("RGB")` does). Truncated or corrupt data throws rather than yielding grey.
    public static func decode(_ bytes: [UInt8]) throws(ImageIOError) -> RGBImage {
        guard let format = ImageFormat.sniff(bytes) else {
            throw ImageIOError(message: bytes.isEmpty ? "empty file" : "not a JPEG or PNG file (unrecognised signature)")
        }
        var width: Int32 = 0, height: Int32 = 0
        let output = try bytes.withUnsafeBufferPointer { (buffer) throws(ImageIOError) in
            try call("decoding \(format.rawValue)") { out, err in
                switch format {
                case .jpeg: icodec_decode_jpeg(buffer.baseAddress, buffer.count, out, &width, &height, err)
                case .png: icodec_decode_png(buffer.baseAddress, buffer.count, out, &width, &height, err)
                }
            }
        }
        defer { icodec_free(output) }
        let count = Int(width) * Int(height) * 3
        return RGBImage(width: Int(width), height: Int(height),
                        pixels: Array(UnsafeBufferPointer(start: output, count: count)))
    }

    /// Reads and decodes a file; errors name the file.
    public static func decode(contentsOf path: String) throws(ImageIOError) -> RGBImage {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ImageIOError(path: path, message: FileManager.default.fileExists(atPath: path)
                               ? "cannot read file" : "no such file")
        }
        do {
            return try decode([UInt8](data))
        } catch {
            throw ImageIOError(path: path, message: error.message)
        }
    }
}

/// PNG and JPEG encoding of 8-bit pixels.
public enum ImageEncoder {
    /// Encodes an RGB image as PNG (lossless).
    public static func png(_ image: RGBImage) throws(ImageIOError) -> [UInt8] {
        try png(samples: image.pixels, width: image.width, height: image.height, channels: 3)
    }

    /// Encodes raw interleaved samples as PNG: channels 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA;
    /// or, with a palette of RGB triples, channels 1 holding palette indices.
    public static func png(samples: [UInt8], width: Int, height: Int, channels: Int,
                           palette: [(UInt8, UInt8, UInt8)] = []) throws(ImageIOError) -> [UInt8] {
        precondition(samples.count == width * height * channels, "sample count does not match dimensions")
        let flatPalette = palette.flatMap { [$0.0, $0.1, $0.2] }
        var size = 0
        let output = try samples.withUnsafeBufferPointer { (buffer) throws(ImageIOError) in
            try flatPalette.withUnsafeBufferPointer { (pal) throws(ImageIOError) in
                try call("encoding PNG") { out, err in
                    icodec_encode_png(buffer.baseAddress, Int32(width), Int32(height), Int32(channels),
                                      pal.baseAddress, Int32(palette.count), out, &size, err)
                }
            }
        }
        defer { icodec_free(output) }
        return Array(UnsafeBufferPointer(start: output, count: size))
    }

    /// Encodes raw interleaved samples as a baseline JPEG: channels 1 grey, 3 RGB, 4 CMYK
    /// (ink amounts, written inverted with an Adobe marker as Photoshop does).
    public static func jpeg(samples: [UInt8], width: Int, height: Int, channels: Int,
                            quality: Int = 90) throws(ImageIOError) -> [UInt8] {
        precondition(samples.count == width * height * channels, "sample count does not match dimensions")
        var size = 0
        let output = try samples.withUnsafeBufferPointer { (buffer) throws(ImageIOError) in
            try call("encoding JPEG") { out, err in
                icodec_encode_jpeg(buffer.baseAddress, Int32(width), Int32(height), Int32(channels),
                                   Int32(quality), out, &size, err)
            }
        }
        defer { icodec_free(output) }
        return Array(UnsafeBufferPointer(start: output, count: size))
    }

    /// Encodes an RGB image as JPEG.
    public static func jpeg(_ image: RGBImage, quality: Int = 90) throws(ImageIOError) -> [UInt8] {
        try jpeg(samples: image.pixels, width: image.width, height: image.height, channels: 3, quality: quality)
    }

    /// Writes an RGB image to a PNG file.
    public static func writePNG(_ image: RGBImage, to path: String) throws(ImageIOError) {
        let bytes = try png(image)
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw ImageIOError(path: path, message: "cannot write file")
        }
    }
}
