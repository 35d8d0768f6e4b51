import Foundation

/// A line chart drawn as a standalone SVG document: a title, axes with round tick values,
/// one `<path>` per series, and a legend. No dependencies; the output is well-formed XML.
///
/// Values that are not finite (and, on a logarithmic axis, values that are not positive)
/// are left out and break the line. A series with a single point is drawn as a dot.
///
/// ```swift
/// var chart = LineChart(title: "Loss", xLabel: "step")
/// chart.series = [
///     LineChart.Series(name: "loss", points: [.init(x: 10, y: 0.9), .init(x: 20, y: 0.7)]),
///     LineChart.Series(name: "val_loss", points: [.init(x: 20, y: 0.8)]),
/// ]
/// try chart.svgDocument().write(toFile: "loss.svg", atomically: true, encoding: .utf8)
/// ```
public struct LineChart {
    /// How the y axis maps values.
    public enum Scale: String {
        case linear
        case logarithmic
    }

    public struct Point: Equatable {
        public var x: Double
        public var y: Double

        public init(x: Double, y: Double) {
            self.x = x
            self.y = y
        }
    }

    public struct Series: Equatable {
        public var name: String
        public var points: [Point]

        public init(name: String, points: [Point]) {
            self.name = name
            self.points = points
        }
    }

    public var title: String
    public var xLabel: String
    public var yScale: Scale
    public var series: [Series]
    /// Size in pixels.
    public var width: Double
    public var height: Double
    /// Longer series are thinned to about this many points (keeping each stretch's lowest
    /// and highest value, so spikes stay visible) to keep files small.
    public var maxPointsPerSeries = 2000

    public init(
        title: String, xLabel: String = "step", yScale: Scale = .linear, series: [Series] = [],
        width: Double = 640, height: Double = 320
    ) {
        self.title = title
        self.xLabel = xLabel
        self.yScale = yScale
        self.series = series
        self.width = width
        self.height = height
    }

    /// Line colours, in series order (repeating after ten).
    public static let palette = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
        "#17becf",
    ]

    /// The chart as a file: an XML declaration and the `<svg>` element.
    public func svgDocument() -> String {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + svgElement()
    }

    /// The `<svg>` element alone, to place inline in an HTML page.
    public func svgElement() -> String {
        let visible = series.map { series in
            series.points.filter { $0.x.isFinite && isDrawable($0.y) }
        }
        let allX = visible.flatMap { $0.map(\.x) }
        let allY = visible.flatMap { $0.map(\.y) }
        let xTicks = AxisTicks.linear(from: allX.min() ?? 0, to: allX.max() ?? 1)
        let yTicks =
            yScale == .logarithmic
            ? AxisTicks.logarithmic(from: allY.min() ?? 1, to: allY.max() ?? 10)
            : AxisTicks.linear(from: allY.min() ?? 0, to: allY.max() ?? 1)

        let legendWidth = min(220, max(80, 34 + 7 * Double(series.map(\.name.count).max() ?? 0)))
        let plot = (
            left: 64.0, top: 36.0, right: width - 16 - legendWidth, bottom: height - 44
        )
        let mapX = { (x: Double) -> Double in
            plot.left + (x - xTicks.lower) / (xTicks.upper - xTicks.lower) * (plot.right - plot.left)
        }
        let mapY = { (y: Double) -> Double in
            let (value, low, high) =
                self.yScale == .logarithmic
                ? (log10(y), log10(yTicks.lower), log10(yTicks.upper)) : (y, yTicks.lower, yTicks.upper)
            return plot.bottom - (value - low) / (high - low) * (plot.bottom - plot.top)
        }

        var out: [String] = []
        out.append(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(n(width))\" height=\"\(n(height))\" "
                + "viewBox=\"0 0 \(n(width)) \(n(height))\" font-family=\"Helvetica, Arial, sans-serif\" "
                + "font-size=\"11\" role=\"img\" aria-label=\"\(XMLText.escape(title))\">")
        out.append("<title>\(XMLText.escape(title))</title>")
        out.append("<rect x=\"0\" y=\"0\" width=\"\(n(width))\" height=\"\(n(height))\" fill=\"#ffffff\"/>")
        let scaleNote =
            yScale == .logarithmic
            ? "<tspan font-size=\"11\" font-weight=\"normal\" fill=\"#888888\">  (log scale)</tspan>" : ""
        out.append(
            "<text x=\"\(n(plot.left))\" y=\"20\" font-size=\"14\" font-weight=\"bold\" fill=\"#222222\">"
                + "\(XMLText.escape(title))\(scaleNote)</text>")

        // Grid lines and tick labels.
        for (value, label) in zip(yTicks.values, yTicks.labels) {
            let y = mapY(value)
            out.append(
                "<line x1=\"\(n(plot.left))\" y1=\"\(n(y))\" x2=\"\(n(plot.right))\" y2=\"\(n(y))\" "
                    + "stroke=\"#e6e6e6\" stroke-width=\"1\"/>")
            out.append(
                "<text x=\"\(n(plot.left - 6))\" y=\"\(n(y + 4))\" text-anchor=\"end\" fill=\"#444444\">"
                    + "\(XMLText.escape(label))</text>")
        }
        for (value, label) in zip(xTicks.values, xTicks.labels) {
            let x = mapX(value)
            out.append(
                "<line x1=\"\(n(x))\" y1=\"\(n(plot.top))\" x2=\"\(n(x))\" y2=\"\(n(plot.bottom))\" "
                    + "stroke=\"#f0f0f0\" stroke-width=\"1\"/>")
            out.append(
                "<line x1=\"\(n(x))\" y1=\"\(n(plot.bottom))\" x2=\"\(n(x))\" y2=\"\(n(plot.bottom + 4))\" "
                    + "stroke=\"#444444\" stroke-width=\"1\"/>")
            out.append(
                "<text x=\"\(n(x))\" y=\"\(n(plot.bottom + 16))\" text-anchor=\"middle\" fill=\"#444444\">"
                    + "\(XMLText.escape(label))</text>")
        }
        // Axes.
        out.append(
            "<line x1=\"\(n(plot.left))\" y1=\"\(n(plot.bottom))\" x2=\"\(n(plot.right))\" "
                + "y2=\"\(n(plot.bottom))\" stroke=\"#444444\" stroke-width=\"1\"/>")
        out.append(
            "<line x1=\"\(n(plot.left))\" y1=\"\(n(plot.top))\" x2=\"\(n(plot.left))\" "
                + "y2=\"\(n(plot.bottom))\" stroke=\"#444444\" stroke-width=\"1\"/>")
        out.append(
            "<text x=\"\((n((plot.left + plot.right) / 2)))\" y=\"\(n(height - 8))\" text-anchor=\"middle\" "
                + "fill=\"#444444\">\(XMLText.escape(xLabel))</text>")

        // Series: one path each (broken where a value is missing), a dot for a lone point.
        for (index, series) in series.enumerated() {
            let color = Self.palette[index % Self.palette.count]
            var commands: [String] = []
            var penDown = false
            var drawn: [Point] = []
            for point in thinned(series.points.sorted(by: { $0.x < $1.x })) {
                guard point.x.isFinite, isDrawable(point.y) else {
                    penDown = false
                    continue
                }
                commands.append((penDown ? "L" : "M") + "\(n(mapX(point.x))) \(n(mapY(point.y)))")
                penDown = true
                drawn.append(point)
            }
            out.append(
                "<path d=\"\(commands.joined(separator: " "))\" fill=\"none\" stroke=\"\(color)\" "
                    + "stroke-width=\"1.6\" stroke-linejoin=\"round\" data-series=\"\(XMLText.escape(series.name))\"/>"
            )
            if drawn.count == 1, let point = drawn.first {
                out.append(
                    "<circle cx=\"\(n(mapX(point.x)))\" cy=\"\(n(mapY(point.y)))\" r=\"3\" fill=\"\(color)\"/>")
            }
            // Legend entry.
            let y = plot.top + 8 + Double(index) * 16
            let x = plot.right + 14
            out.append(
                "<line x1=\"\(n(x))\" y1=\"\(n(y))\" x2=\"\(n(x + 18))\" y2=\"\(n(y))\" stroke=\"\(color)\" "
                    + "stroke-width=\"2\"/>")
            out.append(
                "<text x=\"\(n(x + 24))\" y=\"\(n(y + 4))\" fill=\"#222222\">\(XMLText.escape(series.name))</text>")
        }
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }

    /// At most about ``maxPointsPerSeries`` points: the lowest and highest of each stretch,
    /// in x order; a missing value in a stretch is kept, so the line still breaks there.
    public func thinned(_ points: [Point]) -> [Point] {
        let buckets = max(1, maxPointsPerSeries / 2)
        guard points.count > maxPointsPerSeries else { return points }
        var kept: [Point] = []
        kept.reserveCapacity(2 * buckets + 2)
        for bucket in 0..<buckets {
            let stretch = points[(bucket * points.count / buckets)..<((bucket + 1) * points.count / buckets)]
            if let gap = stretch.first(where: { !isDrawable($0.y) }) {
                kept.append(gap)
            }
            let drawable = stretch.filter { isDrawable($0.y) }
            guard let low = drawable.min(by: { $0.y < $1.y }), let high = drawable.max(by: { $0.y < $1.y }) else {
                continue
            }
            kept += low.x <= high.x ? [low, high] : [high, low]
        }
        return kept
    }

    private func isDrawable(_ y: Double) -> Bool {
        y.isFinite && (yScale == .linear || y > 0)
    }

    /// A coordinate with at most two decimals.
    private func n(_ value: Double) -> String {
        let rounded = (value * 100).rounded() / 100
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }
}

/// Escaping for text and attribute values in XML, SVG and HTML.
public enum XMLText {
    /// `&`, `<`, `>`, `"` and `'` as entities; characters XML 1.0 forbids are dropped.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            default:
                if scalar.value >= 0x20 && scalar.value != 0xFFFE && scalar.value != 0xFFFF {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
