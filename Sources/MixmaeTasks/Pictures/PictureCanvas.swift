import MixmaeData

/// An 8-bit RGB colour.
public struct RGB: Equatable, Sendable {
    public var r: UInt8
    public var g: UInt8
    public var b: UInt8

    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) {
        self.r = r
        self.g = g
        self.b = b
    }

    /// Black or white, whichever reads better on this colour.
    public var contrasting: RGB {
        let luma = 0.299 * Double(r) + 0.587 * Double(g) + 0.114 * Double(b)
        return luma > 140 ? RGB(0, 0, 0) : RGB(255, 255, 255)
    }
}

/// One colour per class, the same in every picture of every run: a fixed list of
/// distinct colours (mmsegmentation's first ADE20K entries), then golden-ratio hues.
///
/// ```swift
/// let colour = ClassPalette.colour(of: 3)   // the colour of class 3
/// ```
public enum ClassPalette {
    static let fixed: [RGB] = [
        RGB(120, 120, 120), RGB(230, 25, 75), RGB(60, 180, 75), RGB(255, 225, 25), RGB(0, 130, 200),
        RGB(245, 130, 48), RGB(145, 30, 180), RGB(70, 240, 240), RGB(240, 50, 230), RGB(210, 245, 60),
        RGB(250, 190, 212), RGB(0, 128, 128), RGB(170, 110, 40), RGB(128, 0, 0), RGB(0, 0, 128),
    ]

    public static func colour(of label: Int) -> RGB {
        if label >= 0 && label < fixed.count { return fixed[label] }
        let hue = (Double(label) * 0.618_033_988_75).truncatingRemainder(dividingBy: 1)
        return hsv(hue: hue, saturation: 0.75, value: 0.95)
    }

    static func hsv(hue: Double, saturation s: Double, value v: Double) -> RGB {
        let h = hue * 6
        let i = Int(h) % 6
        let f = h - Double(Int(h))
        let (p, q, t) = (v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f)))
        let (r, g, b): (Double, Double, Double) =
            switch i {
            case 0: (v, t, p)
            case 1: (q, v, p)
            case 2: (p, v, t)
            case 3: (p, q, v)
            case 4: (t, p, v)
            default: (v, p, q)
            }
        return RGB(UInt8(r * 255), UInt8(g * 255), UInt8(b * 255))
    }
}

/// An RGB image to draw on: rectangles, text in a 3x5 pixel font, colour overlays.
/// Everything is clipped to the image.
///
/// ```swift
/// var canvas = try PictureCanvas(Image(contentsOfFile: "a.png"))
/// canvas.outline(x1: 4, y1: 4, x2: 30, y2: 20, colour: ClassPalette.colour(of: 1))
/// canvas.label("circle .87", x: 4, y: 4, colour: ClassPalette.colour(of: 1))
/// ```
public struct PictureCanvas {
    public private(set) var image: Image

    /// `image` as RGB (a grey image is spread over the three channels).
    public init(_ image: Image) throws {
        if image.channels == 3 {
            self.image = image
            return
        }
        var rgb = try Image(width: image.width, height: image.height, channels: 3)
        for y in 0..<image.height {
            for x in 0..<image.width {
                for c in 0..<3 { rgb[x: x, y: y, channel: c] = image[x: x, y: y, channel: min(c, image.channels - 1)] }
            }
        }
        self.image = rgb
    }

    public var width: Int { image.width }
    public var height: Int { image.height }

    public mutating func set(x: Int, y: Int, _ colour: RGB) {
        guard x >= 0, y >= 0, x < image.width, y < image.height else { return }
        image[x: x, y: y, channel: 0] = colour.r
        image[x: x, y: y, channel: 1] = colour.g
        image[x: x, y: y, channel: 2] = colour.b
    }

    /// The colour at `x`, `y`.
    public func colour(x: Int, y: Int) -> RGB {
        RGB(image[x: x, y: y, channel: 0], image[x: x, y: y, channel: 1], image[x: x, y: y, channel: 2])
    }

    /// Mixes `colour` into the pixel with weight `alpha` (0...1).
    public mutating func blend(x: Int, y: Int, _ colour: RGB, alpha: Double) {
        let old = self.colour(x: x, y: y)
        func mix(_ a: UInt8, _ b: UInt8) -> UInt8 { UInt8((Double(a) * (1 - alpha) + Double(b) * alpha).rounded()) }
        set(x: x, y: y, RGB(mix(old.r, colour.r), mix(old.g, colour.g), mix(old.b, colour.b)))
    }

    public mutating func fill(x1: Int, y1: Int, x2: Int, y2: Int, colour: RGB) {
        for y in max(y1, 0)..<max(min(y2, image.height), max(y1, 0)) {
            for x in max(x1, 0)..<max(min(x2, image.width), max(x1, 0)) { set(x: x, y: y, colour) }
        }
    }

    /// The border of the box with corners (`x1`, `y1`) and (`x2`, `y2`) inclusive, `thickness` pixels wide inwards.
    public mutating func outline(x1: Int, y1: Int, x2: Int, y2: Int, colour: RGB, thickness: Int = 1) {
        for t in 0..<thickness {
            let (left, top, right, bottom) = (x1 + t, y1 + t, x2 - t, y2 - t)
            guard left <= right, top <= bottom else { return }
            for x in left...right {
                set(x: x, y: top, colour)
                set(x: x, y: bottom, colour)
            }
            for y in top...bottom {
                set(x: left, y: y, colour)
                set(x: right, y: y, colour)
            }
        }
    }

    /// `text` on a filled tag of `colour` whose top-left corner is at `x`, `y`.
    public mutating func label(_ text: String, x: Int, y: Int, colour: RGB) {
        let size = PixelFont.size(of: text)
        fill(x1: x, y1: y, x2: x + size.width, y2: y + size.height, colour: colour)
        PixelFont.draw(text, x: x + 1, y: y + 1, colour: colour.contrasting, on: &self)
    }

    /// Copies `tile` with its top-left corner at `x`, `y`.
    public mutating func paste(_ tile: Image, x: Int, y: Int) {
        for row in 0..<tile.height {
            for column in 0..<tile.width {
                let c = tile.channels
                set(
                    x: x + column, y: y + row,
                    RGB(
                        tile[x: column, y: row, channel: 0], tile[x: column, y: row, channel: min(1, c - 1)],
                        tile[x: column, y: row, channel: min(2, c - 1)]))
            }
        }
    }
}

/// A 3x5 pixel font: digits, lower-case letters (drawn as capitals), `. : - _` and space;
/// anything else is drawn as `?`.
public enum PixelFont {
    static let glyphs: [Character: String] = [
        "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
        "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001001010010",
        "8": "111101111101111", "9": "111101111001111", ".": "000000000000010", ":": "000010000010000",
        "-": "000000111000000", "_": "000000000000111", " ": "000000000000000", "?": "111001010000010",
        "a": "010101111101101", "b": "110101110101110", "c": "011100100100011", "d": "110101101101110",
        "e": "111100110100111", "f": "111100110100100", "g": "011100101101011", "h": "101101111101101",
        "i": "111010010010111", "j": "001001001101010", "k": "101101110101101", "l": "100100100100111",
        "m": "101111111101101", "n": "110101101101101", "o": "010101101101010", "p": "110101110100100",
        "q": "010101101110011", "r": "110101110101101", "s": "011100010001110", "t": "111010010010010",
        "u": "101101101101111", "v": "101101101101010", "w": "101101111111101", "x": "101101010101101",
        "y": "101101010010010", "z": "111001010100111",
    ]

    /// The size of the tag `PictureCanvas.label` draws: a pixel of margin around 4-pixel-wide characters.
    public static func size(of text: String) -> (width: Int, height: Int) {
        (4 * text.count + 1, 7)
    }

    static func draw(_ text: String, x: Int, y: Int, colour: RGB, on canvas: inout PictureCanvas) {
        for (index, character) in text.lowercased().enumerated() {
            let bits = Array(glyphs[character] ?? glyphs["?"]!)
            for row in 0..<5 {
                for column in 0..<3 where bits[row * 3 + column] == "1" {
                    canvas.set(x: x + 4 * index + column, y: y + row, colour)
                }
            }
        }
    }
}

/// Pictures laid out in rows, 2 white pixels apart; each row as high as its highest picture,
/// the grid as wide as its widest row. Pictures keep their own sizes.
public enum PictureGrid {
    public static let gap = 2

    public static func compose(rows: [[Image]]) throws -> Image {
        let widths = rows.map { row in row.reduce(gap) { $0 + $1.width + gap } }
        let heights = rows.map { row in row.map(\.height).max() ?? 0 }
        let width = max(widths.max() ?? gap, 1)
        let height = heights.reduce(gap) { $0 + $1 + gap }
        var canvas = try PictureCanvas(Image(width: width, height: height, channels: 3, filledWith: 255))
        var top = gap
        for (row, rowHeight) in zip(rows, heights) {
            var left = gap
            for tile in row {
                canvas.paste(tile, x: left, y: top)
                left += tile.width + gap
            }
            top += rowHeight + gap
        }
        return canvas.image
    }
}
