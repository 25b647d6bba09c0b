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

/// The geometric map of an image resize from (inWidth, inHeight) to (outWidth, outHeight),
/// optionally followed by a crop whose top-left corner is (cropLeft, cropTop) in the resized
/// image: x' = x · scaleX − cropLeft, y' = y · scaleY − cropTop, matching `RGBImage.resized`
/// (whose pixel centres map as (i + 0.5) · scale) and `RGBImage.cropped`.
public struct ResizeTransform: Equatable, Sendable {
    public var scaleX: Double
    public var scaleY: Double
    /// Crop offset in resized pixels (0 when the whole resized image is kept).
    public var cropLeft: Double = 0
    public var cropTop: Double = 0
    /// Output size (the crop's when cropping), used to clip boxes and to mark keypoints
    /// that fall outside the image as invisible.
    public var outWidth: Int
    public var outHeight: Int

    /// The whole image resized to outWidth × outHeight (no crop).
    public init(inWidth: Int, inHeight: Int, outWidth: Int, outHeight: Int) {
        precondition(inWidth > 0 && inHeight > 0 && outWidth > 0 && outHeight > 0)
        scaleX = Double(outWidth) / Double(inWidth)
        scaleY = Double(outHeight) / Double(inHeight)
        self.outWidth = outWidth
        self.outHeight = outHeight
    }

    /// Maps a keypoint; invisible ones stay (0, 0, false), and a visible one that lands
    /// outside the output image (cropped away) becomes invisible.
    public func apply(_ p: Keypoint) -> Keypoint {
        guard p.visible else { return .invisible }
        let q = Keypoint(x: p.x * scaleX - cropLeft, y: p.y * scaleY - cropTop, visible: true)
        if q.x < 0 || q.y < 0 || q.x > Double(outWidth) || q.y > Double(outHeight) { return .invisible }
        return q
    }

    /// Maps a box and clips it to the output image. A box with no area left inside the
    /// output (cropped away, or empty to begin with) becomes (0, 0, 0, 0), the stored
    /// convention for "no box in this image".
    public func apply(_ b: Box) -> Box {
        let x0 = max(0, b.x * scaleX - cropLeft), y0 = max(0, b.y * scaleY - cropTop)
        let x1 = min(Double(outWidth), (b.x + b.width) * scaleX - cropLeft)
        let y1 = min(Double(outHeight), (b.y + b.height) * scaleY - cropTop)
        guard x1 > x0, y1 > y0 else { return Box(x: 0, y: 0, width: 0, height: 0) }
        return Box(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
    }
}

/// torchvision's evaluation transform `Resize(shorter)` + `CenterCrop(crop)` for one image
/// size: the shorter side becomes `shorter` and the longer side ⌊shorter · long / short⌋
/// (torchvision truncates), then the centred `crop` × `crop` window is kept, its offset
/// round((resized − crop) / 2) with halves rounded to even (Python 3's `round`, as in
/// `torchvision.transforms.functional.center_crop`).
public struct CentreCrop: Equatable, Sendable {
    public var inWidth: Int
    public var inHeight: Int
    public var resizedWidth: Int
    public var resizedHeight: Int
    /// Top-left corner of the crop in the resized image.
    public var left: Int
    public var top: Int
    public var crop: Int

    /// Traps unless 0 < crop ≤ shorter (callers validate user input first).
    public init(inWidth: Int, inHeight: Int, shorter: Int, crop: Int) {
        precondition(inWidth > 0 && inHeight > 0 && crop > 0 && crop <= shorter, "centre crop \(crop) of a shorter side \(shorter)")
        self.inWidth = inWidth
        self.inHeight = inHeight
        if inWidth <= inHeight {
            resizedWidth = shorter
            resizedHeight = shorter * inHeight / inWidth
        } else {
            resizedHeight = shorter
            resizedWidth = shorter * inWidth / inHeight
        }
        left = Int((Double(resizedWidth - crop) / 2).rounded(.toNearestOrEven))
        top = Int((Double(resizedHeight - crop) / 2).rounded(.toNearestOrEven))
        self.crop = crop
    }

    /// The map of keypoints and boxes from the source image into the crop.
    public var transform: ResizeTransform {
        var t = ResizeTransform(inWidth: inWidth, inHeight: inHeight, outWidth: resizedWidth, outHeight: resizedHeight)
        t.cropLeft = Double(left)
        t.cropTop = Double(top)
        t.outWidth = crop
        t.outHeight = crop
        return t
    }

    /// Resizes `image` (which must be inWidth × inHeight) and cuts out the crop.
    public func apply(_ image: RGBImage) -> RGBImage {
        precondition(image.width == inWidth && image.height == inHeight, "image is \(image.width)×\(image.height), expected \(inWidth)×\(inHeight)")
        return image.resized(width: resizedWidth, height: resizedHeight).cropped(left: left, top: top, width: crop, height: crop)
    }
}
