import ImageIO

/// A grid of labelled thumbnails, for people to look at a dataset (prepare-data --preview).
public enum ContactSheet {
    /// Lays out `tiles` (image plus caption lines) in rows of `columns`. Images are enlarged
    /// by an integer factor (nearest neighbour, so pixels stay honest) to at least `minTile`
    /// pixels; captions are wrapped to the tile width, at most `maxLines` lines each.
    public static func make(_ tiles: [(image: RGBImage, caption: [String])], columns: Int = 8,
                            minTile: Int = 96, maxLines: Int = 3) -> RGBImage {
        precondition(!tiles.isEmpty && columns > 0)
        let side = tiles.map { max($0.image.width, $0.image.height) }.max()!
        let factor = max(1, (minTile + side - 1) / side)
        let tile = side * factor
        let gap = 6
        let lineHeight = BitmapFont.height + 2
        let captionHeight = maxLines * lineHeight + 2
        let rows = (tiles.count + columns - 1) / columns
        let width = columns * (tile + gap) + gap
        let height = rows * (tile + captionHeight + gap) + gap
        var sheet = RGBImage(width: width, height: height, fill: (250, 250, 248))
        let charsPerLine = max(1, tile / (BitmapFont.width + 1))
        for (i, t) in tiles.enumerated() {
            let x = gap + (i % columns) * (tile + gap)
            let y = gap + (i / columns) * (tile + captionHeight + gap)
            sheet.paste(t.image.upscaledNearest(by: factor), x: x, y: y)
            let lines = t.caption.flatMap { wrap($0, width: charsPerLine) }.prefix(maxLines)
            for (l, line) in lines.enumerated() {
                BitmapFont.draw(line, into: &sheet, x: x, y: y + tile + 2 + l * lineHeight,
                                color: l == 0 ? (20, 20, 20) : (90, 90, 110))
            }
        }
        return sheet
    }

    /// Splits at underscores and spaces into lines of at most `width` characters
    /// (words longer than a line are cut).
    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var current = ""
        for word in text.split(whereSeparator: { $0 == "_" || $0 == " " }).map(String.init) {
            let candidate = current.isEmpty ? word : current + " " + word
            if candidate.count <= width {
                current = candidate
            } else {
                if !current.isEmpty { lines.append(current) }
                current = String(word.prefix(width))
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }
}
