/// A point annotation in the pixel coordinates of an image, with a visibility flag.
///
/// Coordinates are continuous: pixel column i covers [i, i + 1). Invisible keypoints are
/// stored as (0, 0, not visible), CUB's convention, and stay so under every transform.
public struct Keypoint: Equatable, Sendable {
    public var x: Double
    public var y: Double
    public var visible: Bool

    public init(x: Double, y: Double, visible: Bool) {
        self.x = x
        self.y = y
        self.visible = visible
    }

    /// The invisible keypoint (0, 0, false).
    public static let invisible = Keypoint(x: 0, y: 0, visible: false)
}

/// An axis-aligned box: top-left corner (x, y), width and height, in pixels.
public struct Box: Equatable, Sendable {
    public var x: Double
    public var y: Double
    public var width: Double
    public var height: Double

    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }
}

/// The geometric map of an image resize from (inWidth, inHeight) to (outWidth, outHeight):
/// x' = x · outWidth / inWidth, y' = y · outHeight / inHeight, matching `RGBImage.resized`
/// (whose pixel centres map as (i + 0.5) · scale).
public struct ResizeTransform: Equatable, Sendable {
    public var scaleX: Double
    public var scaleY: Double
    /// Output size, used to mark keypoints that fall outside the image as invisible.
    public var outWidth: Int
    public var outHeight: Int

    public init(inWidth: Int, inHeight: Int, outWidth: Int, outHeight: Int) {
        precondition(inWidth > 0 && inHeight > 0 && outWidth > 0 && outHeight > 0)
        scaleX = Double(outWidth) / Double(inWidth)
        scaleY = Double(outHeight) / Double(inHeight)
        self.outWidth = outWidth
        self.outHeight = outHeight
    }

    /// Maps a keypoint; invisible ones stay (0, 0, false), and a visible one that lands
    /// outside the output image becomes invisible.
    public func apply(_ p: Keypoint) -> Keypoint {
        guard p.visible else { return .invisible }
        let q = Keypoint(x: p.x * scaleX, y: p.y * scaleY, visible: true)
        if q.x < 0 || q.y < 0 || q.x > Double(outWidth) || q.y > Double(outHeight) { return .invisible }
        return q
    }

    /// Maps a box, clipped to the output image.
    public func apply(_ b: Box) -> Box {
        let x0 = max(0, b.x * scaleX), y0 = max(0, b.y * scaleY)
        let x1 = min(Double(outWidth), (b.x + b.width) * scaleX)
        let y1 = min(Double(outHeight), (b.y + b.height) * scaleY)
        return Box(x: x0, y: y0, width: max(0, x1 - x0), height: max(0, y1 - y0))
    }
}
