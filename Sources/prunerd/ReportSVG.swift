// SVG building blocks for `prunerd report`: linear scales with round ticks,
// plot frames with axes and grid lines, and the keep-rate colour scale.
// Everything is inline markup: the report opens offline.

/// Maps a data interval onto a pixel interval.
struct LinearScale {
    var domain: (Double, Double)
    var range: (Double, Double)

    func callAsFunction(_ value: Double) -> Double {
        let span = domain.1 - domain.0
        guard span != 0 else { return (range.0 + range.1) / 2 }
        return range.0 + (value - domain.0) / span * (range.1 - range.0)
    }

    /// A domain covering `lower...upper` that starts and ends on round ticks, and the ticks.
    static func nice(_ lower: Double, _ upper: Double, ticks: Int = 5, includeZero: Bool = false) -> (domain: (Double, Double), ticks: [Double], step: Double) {
        var low = includeZero ? min(0, lower) : lower
        var high = includeZero ? max(0, upper) : upper
        if !low.isFinite || !high.isFinite { (low, high) = (0, 1) }
        if high - low < 1e-12 {
            let pad = abs(high) > 0 ? abs(high) * 0.1 : 1
            (low, high) = (low - pad, high + pad)
            if includeZero && lower >= 0 { low = max(0, low) }
        }
        let raw = (high - low) / Double(max(1, ticks))
        var magnitude = 1.0
        while magnitude * 10 <= raw { magnitude *= 10 }
        while magnitude > raw { magnitude /= 10 }
        let residual = raw / magnitude
        let step = (residual > 5 ? 10 : residual > 2 ? 5 : residual > 1 ? 2 : 1) * magnitude
        let first = (low / step).rounded(.down) * step
        let last = (high / step).rounded(.up) * step
        var values: [Double] = []
        var value = first
        while value <= last + step * 1e-9 {
            values.append(abs(value) < step * 1e-9 ? 0 : value)
            value += step
        }
        return ((first, last), values, step)
    }
}

/// A chart's drawing area inside its margins, with its two scales.
struct PlotFrame {
    var width: Double
    var height: Double
    var left = 64.0, right = 20.0, top = 16.0, bottom = 52.0
    var x: LinearScale
    var y: LinearScale
    var xTicks: [Double] = []
    var yTicks: [Double] = []
    var xStep = 1.0
    var yStep = 1.0

    init(width: Double, height: Double, x: (Double, Double), y: (Double, Double),
         includeZeroX: Bool = false, includeZeroY: Bool = false, left: Double = 64, right: Double = 20) {
        self.width = width
        self.height = height
        self.left = left
        self.right = right
        let nx = LinearScale.nice(x.0, x.1, includeZero: includeZeroX)
        let ny = LinearScale.nice(y.0, y.1, includeZero: includeZeroY)
        self.x = LinearScale(domain: nx.domain, range: (left, width - right))
        self.y = LinearScale(domain: ny.domain, range: (height - bottom, top))
        (xTicks, xStep, yTicks, yStep) = (nx.ticks, nx.step, ny.ticks, ny.step)
    }

    /// Grid lines, tick labels and axis titles.
    func axes(xTitle: String, yTitle: String, xLabel: (Double) -> String = { _ in "" },
              yLabel: (Double) -> String = { _ in "" }) -> String {
        var svg = "<g class=\"axes\">"
        let plotBottom = y.range.0, plotTop = y.range.1
        for tick in yTicks {
            let py = y(tick)
            svg += "<line class=\"grid\" x1=\"\(px(left))\" x2=\"\(px(width - right))\" y1=\"\(px(py))\" y2=\"\(px(py))\"/>"
            let label = yLabel(tick)
            svg += "<text class=\"tick\" x=\"\(px(left - 8))\" y=\"\(px(py + 4))\" text-anchor=\"end\">\(ReportFormat.escaped(label.isEmpty ? ReportFormat.tick(tick, step: yStep) : label))</text>"
        }
        for tick in xTicks {
            let pxx = x(tick)
            svg += "<line class=\"grid\" x1=\"\(px(pxx))\" x2=\"\(px(pxx))\" y1=\"\(px(plotTop))\" y2=\"\(px(plotBottom))\"/>"
            let label = xLabel(tick)
            svg += "<text class=\"tick\" x=\"\(px(pxx))\" y=\"\(px(plotBottom + 18))\" text-anchor=\"middle\">\(ReportFormat.escaped(label.isEmpty ? ReportFormat.tick(tick, step: xStep) : label))</text>"
        }
        svg += "<line class=\"axis\" x1=\"\(px(left))\" x2=\"\(px(width - right))\" y1=\"\(px(plotBottom))\" y2=\"\(px(plotBottom))\"/>"
        svg += "<line class=\"axis\" x1=\"\(px(left))\" x2=\"\(px(left))\" y1=\"\(px(plotTop))\" y2=\"\(px(plotBottom))\"/>"
        svg += "<text class=\"axis-title\" x=\"\(px((left + width - right) / 2))\" y=\"\(px(height - 10))\" text-anchor=\"middle\">\(ReportFormat.escaped(xTitle))</text>"
        svg += "<text class=\"axis-title\" transform=\"translate(16 \(px((plotTop + plotBottom) / 2))) rotate(-90)\" text-anchor=\"middle\">\(ReportFormat.escaped(yTitle))</text>"
        return svg + "</g>"
    }
}

/// Pixel coordinates with one decimal: small files, no visible rounding.
func px(_ value: Double) -> String { ReportFormat.fixed(value, 1) }

/// The colour of a realised keep rate: viridis (perceptually uniform, readable
/// in grey and by colour-blind readers) over the report's range of rates.
struct KeepRateColors {
    var lower: Double
    var upper: Double
    /// Concepts with no decided member yet.
    static let undecided = "#c8ccd2"

    private static let stops: [(Double, Double, Double)] = [
        (68, 1, 84), (72, 40, 120), (62, 73, 137), (49, 104, 142), (38, 130, 142),
        (31, 158, 137), (53, 183, 121), (109, 205, 89), (180, 222, 44), (253, 231, 37),
    ]

    /// The range shown: the rates present, widened to multiples of 0.05.
    init(rates: [Double]) {
        let finite = rates.filter(\.isFinite)
        let low = finite.min() ?? 0, high = finite.max() ?? 1
        lower = max(0, (low / 0.05).rounded(.down) * 0.05)
        upper = min(1, max(lower + 0.05, (high / 0.05).rounded(.up) * 0.05))
    }

    func color(_ rate: Double?) -> String {
        guard let rate, rate.isFinite else { return Self.undecided }
        let t = min(1, max(0, (rate - lower) / max(1e-9, upper - lower)))
        return Self.interpolate(t)
    }

    static func interpolate(_ t: Double) -> String {
        let position = t * Double(stops.count - 1)
        let index = min(stops.count - 2, Int(position))
        let f = position - Double(index)
        let a = stops[index], b = stops[index + 1]
        func channel(_ x: Double, _ y: Double) -> String {
            let v = Int((x + (y - x) * f).rounded())
            let digits = "0123456789abcdef"
            return String(digits[digits.index(digits.startIndex, offsetBy: v / 16)]) + String(digits[digits.index(digits.startIndex, offsetBy: v % 16)])
        }
        return "#" + channel(a.0, b.0) + channel(a.1, b.1) + channel(a.2, b.2)
    }

    /// A horizontal gradient bar with ticks, for the legend.
    func legend(x: Double, y: Double, width: Double, title: String) -> String {
        var svg = "<g class=\"legend\"><text class=\"legend-title\" x=\"\(px(x))\" y=\"\(px(y - 6))\">\(ReportFormat.escaped(title))</text>"
        svg += "<defs><linearGradient id=\"keep-rate-gradient\">"
        for i in 0...10 {
            svg += "<stop offset=\"\(i * 10)%\" stop-color=\"\(Self.interpolate(Double(i) / 10))\"/>"
        }
        svg += "</linearGradient></defs>"
        svg += "<rect x=\"\(px(x))\" y=\"\(px(y))\" width=\"\(px(width))\" height=\"10\" rx=\"2\" fill=\"url(#keep-rate-gradient)\"/>"
        for i in 0...4 {
            let value = lower + (upper - lower) * Double(i) / 4
            let tx = x + width * Double(i) / 4
            svg += "<text class=\"tick\" x=\"\(px(tx))\" y=\"\(px(y + 24))\" text-anchor=\"middle\">\(ReportFormat.percent(value, 0))</text>"
        }
        return svg + "</g>"
    }
}
