// The report's three figures as inline SVG: the concept map (the paper's view:
// d_intra against d_inter, area ∝ members, colour = realised keep rate),
// quota against size, and keep ratio and rejects over time.

enum ReportCharts {
    /// d_intra (y) against d_inter (x), one circle per concept (`class="concept"`).
    static func conceptMap(_ data: ReportData, colors: KeepRateColors) -> String {
        let width = 760.0, height = 530.0
        let concepts = data.concepts
        let xs = concepts.map(\.dInter).filter(\.isFinite), ys = concepts.map(\.dIntra).filter(\.isFinite)
        let pad = { (values: [Double]) -> (Double, Double) in
            let low = values.min() ?? 0, high = values.max() ?? 1
            // One value (or none): a window around it rather than a microscope.
            let margin = high - low > 1e-9 ? (high - low) * 0.06 : max(0.05, abs(high) * 0.1)
            return (low >= 0 ? max(0, low - margin) : low - margin, high + margin)
        }
        let largest = max(1, concepts.map(\.size).max() ?? 1)
        let maxRadius = min(30, max(8, 230 / Double(max(1, concepts.count)).squareRoot()))
        var frame = PlotFrame(width: width, height: height, x: pad(xs), y: pad(ys))
        frame.top = 44 + 2 * maxRadius
        frame.y = LinearScale(domain: frame.y.domain, range: (height - frame.bottom, frame.top))
        func radius(_ size: Int) -> Double { 2.5 + (maxRadius - 2.5) * (Double(size) / Double(largest)).squareRoot() }

        var svg = "<svg id=\"concept-map\" class=\"chart\" viewBox=\"0 0 \(px(width)) \(px(height))\" role=\"img\" aria-label=\"Concepts: intra-concept distance against inter-concept distance\">"
        svg += frame.axes(xTitle: "d_inter — distance to the nearest concepts (separation)", yTitle: "d_intra — spread around the centroid")
        svg += complexityContours(concepts, frame: frame)
        // Largest first, so small concepts stay visible on top.
        svg += "<g class=\"marks\">"
        for concept in concepts.sorted(by: { $0.size > $1.size }) {
            let x = concept.dInter.isFinite ? frame.x(concept.dInter) : frame.x.range.0
            let y = concept.dIntra.isFinite ? frame.y(concept.dIntra) : frame.y.range.0
            let fill = colors.color(concept.keepRate)
            svg += "<circle class=\"concept\" data-cluster=\"\(concept.cluster)\" cx=\"\(px(x))\" cy=\"\(px(y))\" r=\"\(px(radius(concept.size)))\" fill=\"\(fill)\">"
            svg += "<title>\(ReportFormat.escaped(tooltip(concept)))</title></circle>"
        }
        svg += "</g>"
        svg += colors.legend(x: frame.left, y: 30, width: 220, title: "realised keep rate")
        svg += sizeLegend(x: width - 330, titleY: 22, largest: largest, maxRadius: maxRadius, radius: radius)
        return svg + "</svg>"
    }


    /// Dashed lines of equal complexity d_intra · d_inter (quartiles of the concepts').
    private static func complexityContours(_ concepts: [ReportData.Concept], frame: PlotFrame) -> String {
        let values = concepts.map(\.complexity).filter { $0.isFinite && $0 > 0 }.sorted()
        guard values.count >= 4 else { return "" }
        var svg = "<g class=\"contours\">"
        for q in [0.25, 0.5, 0.75] {
            let c = values[min(values.count - 1, Int(Double(values.count - 1) * q))]
            var points: [String] = []
            let (x0, x1) = frame.x.domain
            for i in 0...60 {
                let x = x0 + (x1 - x0) * Double(i) / 60
                guard x > 0 else { continue }
                let y = c / x
                guard y >= frame.y.domain.0, y <= frame.y.domain.1 else { continue }
                points.append("\(px(frame.x(x))),\(px(frame.y(y)))")
            }
            guard points.count >= 2 else { continue }
            svg += "<polyline class=\"contour\" points=\"\(points.joined(separator: " "))\"/>"
            // Labelled at the right end, outside the cloud of concepts.
            let last = points[points.count - 1].split(separator: ",")
            svg += "<text class=\"contour-label\" x=\"\(last[0])\" y=\"\(px((Double(last[1]) ?? 0) - 4))\" text-anchor=\"end\">complexity \(ReportFormat.fixed(c, 3))</text>"
        }
        return svg + "</g>"
    }

    /// Three circles standing on one baseline: 10%, 40% and 100% of the largest concept.
    private static func sizeLegend(x: Double, titleY: Double, largest: Int, maxRadius: Double,
                                   radius: (Int) -> Double) -> String {
        var svg = "<g class=\"legend\"><text class=\"legend-title\" x=\"\(px(x))\" y=\"\(px(titleY))\">members (circle area)</text>"
        let baseline = titleY + 10 + 2 * maxRadius
        var cursor = x
        var shown: [Int] = []
        for fraction in [0.1, 0.4, 1.0] {
            let size = max(1, Int((Double(largest) * fraction).rounded()))
            if shown.contains(size) { continue }
            shown.append(size)
            let r = radius(size)
            svg += "<circle class=\"size-key\" cx=\"\(px(cursor + r))\" cy=\"\(px(baseline - r))\" r=\"\(px(r))\"/>"
            svg += "<text class=\"tick\" x=\"\(px(cursor + 2 * r + 5))\" y=\"\(px(baseline - r + 4))\">\(ReportFormat.compact(Double(size)))</text>"
            cursor += 2 * r + 48
        }
        return svg + "</g>"
    }

    private static func tooltip(_ c: ReportData.Concept) -> String {
        var text = "concept \(c.cluster): \(ReportFormat.grouped(c.size)) members, quota \(ReportFormat.grouped(c.quota))"
        text += "\nd_intra \(ReportFormat.fixed(c.dIntra, 4)), d_inter \(ReportFormat.fixed(c.dInter, 4)), complexity \(ReportFormat.fixed(c.complexity, 4))"
        if let rate = c.keepRate { text += "\nkeep rate \(ReportFormat.percent(rate))" } else { text += "\nnothing decided yet" }
        if let target = c.targetKeepRate { text += " (target \(ReportFormat.percent(target)))" }
        return text
    }

    /// Quota N_j against size n_j, with the uniform line N = ρ·n.
    static func quotaChart(_ data: ReportData, colors: KeepRateColors) -> String {
        let width = 760.0, height = 400.0
        let concepts = data.concepts
        let maxSize = Double(concepts.map(\.size).max() ?? 1)
        let maxQuota = Double(concepts.map(\.quota).max() ?? 1)
        let ratio = data.targetKeepRatio ?? ReportSource.quotaRatio(concepts) ?? 0
        let frame = PlotFrame(width: width, height: height, x: (0, max(1, maxSize)), y: (0, max(1, maxQuota, ratio * maxSize)),
                              includeZeroX: true, includeZeroY: true)
        var svg = "<svg id=\"quota-chart\" class=\"chart\" viewBox=\"0 0 \(px(width)) \(px(height))\" role=\"img\" aria-label=\"Quota against size per concept\">"
        svg += frame.axes(xTitle: "members n_j", yTitle: "quota N_j (records kept)",
                          xLabel: { ReportFormat.compact($0) }, yLabel: { ReportFormat.compact($0) })
        let x1 = frame.x.domain.1
        // N = n: a concept that keeps every member (its quota is capped at its size).
        let allEnd = min(x1, frame.y.domain.1)
        svg += "<line class=\"reference keep-all\" x1=\"\(px(frame.x(0)))\" y1=\"\(px(frame.y(0)))\" x2=\"\(px(frame.x(allEnd)))\" y2=\"\(px(frame.y(allEnd)))\"/>"
        svg += "<text class=\"reference-label\" x=\"\(px(frame.x(allEnd) - 4))\" y=\"\(px(frame.y(allEnd) + 14))\" text-anchor=\"end\">keeps all: N = n</text>"
        let yEnd = min(frame.y.domain.1, ratio * x1), xEnd = ratio > 0 ? yEnd / ratio : x1
        svg += "<line class=\"reference\" x1=\"\(px(frame.x(0)))\" y1=\"\(px(frame.y(0)))\" x2=\"\(px(frame.x(xEnd)))\" y2=\"\(px(frame.y(yEnd)))\"/>"
        let labelX = xEnd * 0.92
        svg += "<text class=\"reference-label\" x=\"\(px(frame.x(labelX)))\" y=\"\(px(frame.y(ratio * labelX) + 18))\" text-anchor=\"end\">uniform pruning: N = \(ReportFormat.fixed(ratio, 3)) · n</text>"
        svg += "<g class=\"marks\">"
        for c in concepts {
            svg += "<circle class=\"quota-mark\" data-cluster=\"\(c.cluster)\" cx=\"\(px(frame.x(Double(c.size))))\" cy=\"\(px(frame.y(Double(c.quota))))\" r=\"4.5\" fill=\"\(colors.color(c.keepRate))\">"
            svg += "<title>concept \(c.cluster): quota \(ReportFormat.grouped(c.quota)) of \(ReportFormat.grouped(c.size))</title></circle>"
        }
        return svg + "</g></svg>"
    }

    /// Keep ratio per interval (and cumulative) above, rejected records per interval below.
    static func timeline(_ data: ReportData) -> String {
        let intervals = data.timeline
        guard let last = intervals.last else { return "" }
        let width = 760.0, upperHeight = 260.0, lowerHeight = 170.0
        let (divisor, unit) = ReportFormat.timeUnit(forSpan: last.end)
        let span = (0.0, last.end / divisor)
        var points: [(Double, Double)] = [], cumulative: [(Double, Double)] = []
        var keptSoFar = 0, decidedSoFar = 0
        for interval in intervals {
            let decided = interval.kept + interval.dropped
            keptSoFar += interval.kept
            decidedSoFar += decided
            let mid = (interval.start + interval.end) / 2 / divisor
            if decided > 0 { points.append((mid, Double(interval.kept) / Double(decided))) }
            if decidedSoFar > 0 { cumulative.append((interval.end / divisor, Double(keptSoFar) / Double(decidedSoFar))) }
        }
        let ratios = points.map(\.1) + cumulative.map(\.1) + [data.targetKeepRatio].compactMap { $0 }
        let upper = PlotFrame(width: width, height: upperHeight, x: span,
                              y: (max(0, (ratios.min() ?? 0) - 0.02), min(1, (ratios.max() ?? 1) + 0.02)), includeZeroX: true)
        var svg = "<svg id=\"timeline\" class=\"chart\" viewBox=\"0 0 \(px(width)) \(px(upperHeight + lowerHeight))\" role=\"img\" aria-label=\"Keep ratio and rejects over time\">"
        svg += upper.axes(xTitle: "", yTitle: "keep ratio", yLabel: { ReportFormat.percent($0, 0) })
        if let target = data.targetKeepRatio, target >= upper.y.domain.0, target <= upper.y.domain.1 {
            svg += "<line class=\"reference\" x1=\"\(px(upper.x.range.0))\" x2=\"\(px(upper.x.range.1))\" y1=\"\(px(upper.y(target)))\" y2=\"\(px(upper.y(target)))\"/>"
            svg += "<text class=\"reference-label\" x=\"\(px(upper.x.range.1 - 4))\" y=\"\(px(upper.y(target) - 6))\" text-anchor=\"end\">target \(ReportFormat.percent(target))</text>"
        }
        if points.isEmpty {
            svg += "<text class=\"empty-note\" x=\"\(px((upper.x.range.0 + upper.x.range.1) / 2))\" y=\"\(px((upper.y.range.0 + upper.y.range.1) / 2))\" text-anchor=\"middle\">no record kept or dropped yet</text>"
        }
        svg += polyline(points, frame: upper, cssClass: "series-interval")
        svg += polyline(cumulative, frame: upper, cssClass: "series-cumulative")
        svg += "<g class=\"series-key\"><line class=\"series-interval\" x1=\"\(px(upper.left + 10))\" x2=\"\(px(upper.left + 34))\" y1=\"\(px(upper.top + 10))\" y2=\"\(px(upper.top + 10))\"/><text class=\"tick\" x=\"\(px(upper.left + 40))\" y=\"\(px(upper.top + 14))\">per interval</text>"
        svg += "<line class=\"series-cumulative\" x1=\"\(px(upper.left + 130))\" x2=\"\(px(upper.left + 154))\" y1=\"\(px(upper.top + 10))\" y2=\"\(px(upper.top + 10))\"/><text class=\"tick\" x=\"\(px(upper.left + 160))\" y=\"\(px(upper.top + 14))\">since the start</text></g>"

        let maxRejected = Double(intervals.map(\.rejected).max() ?? 0)
        var lower = PlotFrame(width: width, height: lowerHeight, x: span, y: (0, max(4, maxRejected)),
                              includeZeroX: true, includeZeroY: true)
        lower.top = 14
        lower.y = LinearScale(domain: lower.y.domain, range: (lowerHeight - lower.bottom, lower.top))
        svg += "<g transform=\"translate(0 \(px(upperHeight)))\">"
        svg += lower.axes(xTitle: "time since the \(data.timelineCaption?.contains("decision log") == true ? "first logged decision" : "daemon started") (\(unit))",
                          yTitle: "rejected", yLabel: { ReportFormat.compact($0) })
        let barWidth = max(1, (lower.x.range.1 - lower.x.range.0) / Double(max(1, intervals.count)) * 0.8)
        for interval in intervals where interval.rejected > 0 {
            let x = lower.x((interval.start + interval.end) / 2 / divisor) - barWidth / 2
            let y = lower.y(Double(interval.rejected))
            svg += "<rect class=\"reject-bar\" x=\"\(px(x))\" y=\"\(px(y))\" width=\"\(px(barWidth))\" height=\"\(px(lower.y.range.0 - y))\"><title>\(ReportFormat.grouped(interval.rejected)) rejected</title></rect>"
        }
        if maxRejected == 0 {
            svg += "<text class=\"empty-note\" x=\"\(px((lower.x.range.0 + lower.x.range.1) / 2))\" y=\"\(px(lower.y.range.0 - 24))\" text-anchor=\"middle\">no record rejected</text>"
        }
        return svg + "</g></svg>"
    }

    private static func polyline(_ points: [(Double, Double)], frame: PlotFrame, cssClass: String) -> String {
        guard !points.isEmpty else { return "" }
        if points.count == 1 {
            return "<circle class=\"\(cssClass)\" cx=\"\(px(frame.x(points[0].0)))\" cy=\"\(px(frame.y(points[0].1)))\" r=\"3\"/>"
        }
        return "<polyline class=\"\(cssClass)\" points=\"" + points.map { "\(px(frame.x($0.0))),\(px(frame.y($0.1)))" }.joined(separator: " ") + "\"/>"
    }
}
