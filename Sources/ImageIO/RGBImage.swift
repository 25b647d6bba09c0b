/// An 8-bit RGB image stored row-major with interleaved channels: `pixels[(y * width + x) * 3 + c]`.
///
/// This is the in-memory form every decoder produces and every dataset writer consumes;
/// it matches the `images` layout of images.h5 ([H, W, 3] per image).
public struct RGBImage: Equatable, Sendable {
    /// Width in pixels (> 0).
    public let width: Int
    /// Height in pixels (> 0).
    public let height: Int
    /// Interleaved RGB samples, `width * height * 3` of them.
    public var pixels: [UInt8]

    /// Wraps existing samples; traps if the count does not match the dimensions (a programmer error).
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0, "image dimensions must be positive")
        precondition(pixels.count == width * height * 3, "expected \(width * height * 3) samples, got \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// An image filled with one colour.
    public init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8) = (0, 0, 0)) {
        precondition(width > 0 && height > 0, "image dimensions must be positive")
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            pixels[3 * i] = fill.0
            pixels[3 * i + 1] = fill.1
            pixels[3 * i + 2] = fill.2
        }
        self.init(width: width, height: height, pixels: pixels)
    }

    /// The (r, g, b) triple at column x, row y.
    public subscript(x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
        get {
            let i = (y * width + x) * 3
            return (pixels[i], pixels[i + 1], pixels[i + 2])
        }
        set {
            let i = (y * width + x) * 3
            pixels[i] = newValue.0
            pixels[i + 1] = newValue.1
            pixels[i + 2] = newValue.2
        }
    }

    /// The width × height window whose top-left corner is (left, top); traps unless the
    /// window lies inside the image (a programmer error).
    public func cropped(left: Int, top: Int, width w: Int, height h: Int) -> RGBImage {
        precondition(left >= 0 && top >= 0 && w > 0 && h > 0 && left + w <= width && top + h <= height,
                     "crop (\(left), \(top), \(w)×\(h)) outside a \(width)×\(height) image")
        if left == 0 && top == 0 && w == width && h == height { return self }
        var out = [UInt8]()
        out.reserveCapacity(w * h * 3)
        for y in top..<(top + h) {
            let start = (y * width + left) * 3
            out.append(contentsOf: pixels[start..<(start + w * 3)])
        }
        return RGBImage(width: w, height: h, pixels: out)
    }

    /// Copies `other` into this image with its top-left corner at (x, y), clipping at the edges.
    public mutating func paste(_ other: RGBImage, x: Int, y: Int) {
        for sy in 0..<other.height {
            let ty = y + sy
            guard ty >= 0 && ty < height else { continue }
            for sx in 0..<other.width {
                let tx = x + sx
                guard tx >= 0 && tx < width else { continue }
                self[tx, ty] = other[sx, sy]
            }
        }
    }
}
