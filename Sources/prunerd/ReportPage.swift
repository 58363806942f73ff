// The report as one self-contained HTML page: inline CSS and SVG, no script,
// no font or image fetched, so it opens anywhere, offline, and prints.

enum ReportPage {
    static func html(_ data: ReportData, topConcepts: Int) -> String {
        let colors = KeepRateColors(rates: data.concepts.compactMap(\.keepRate))
        var page = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        page += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        page += "<title>prunerd report — \(ReportFormat.escaped(ReportFormat.utc(millisecondsSinceEpoch: data.generatedAt)))</title>"
        page += "<style>\(stylesheet)</style></head><body><main>"
        page += header(data)
        page += summary(data)
        if !data.concepts.contains(where: { $0.size > 0 }) {
            let why = data.concepts.isEmpty ? "No concepts yet: no record has arrived."
                : "No concept has members yet: the engine is still warming up. Concepts, their statistics and quotas exist from the end of the warm-up."
            page += section("Concepts", "<p class=\"empty\">\(ReportFormat.escaped(why))</p>")
        } else {
            page += section("Concepts: spread against separation",
                            "<p class=\"lede\">The paper's view. Each circle is a concept; its area is the concept's members. Concepts high and to the right are complex (spread out and far from others) and get a larger share of the kept budget; the dashed lines join equal complexity d_intra · d_inter. Colour is the keep rate realised so far.</p>"
                            + ReportCharts.conceptMap(data, colors: colors))
            page += section("Quota against size",
                            "<p class=\"lede\">How many records each concept may keep (N_j) for its members (n_j). Above the dashed line a concept keeps more than uniform pruning would give it, below it less.</p>"
                            + ReportCharts.quotaChart(data, colors: colors))
        }
        if data.timeline.isEmpty {
            page += section("Over time", "<p class=\"empty\">No time series in this source. A running daemon's status has one; for a checkpoint or state directory pass <code>--decisions LOG</code>.</p>")
        } else {
            page += section("Keep ratio and rejects over time",
                            "<p class=\"lede\">\(ReportFormat.escaped(data.timelineCaption ?? ""))</p>" + ReportCharts.timeline(data))
        }
        if data.concepts.contains(where: { $0.size > 0 }) { page += section("Largest concepts", conceptTable(data, top: topConcepts, colors: colors)) }
        if !data.notes.isEmpty {
            page += "<section class=\"notes\"><h2>Notes</h2><ul>" + data.notes.map { "<li>\(ReportFormat.escaped($0))</li>" }.joined() + "</ul></section>"
        }
        page += "<footer>Made by <code>prunerd report</code> from the \(ReportFormat.escaped(data.sourceDescription)). Density-Based Pruning: Abbas et al., ICLR 2024.</footer>"
        return page + "</main></body></html>\n"
    }

    private static func section(_ title: String, _ body: String) -> String {
        "<section><h2>\(ReportFormat.escaped(title))</h2>\(body)</section>"
    }

    private static func header(_ data: ReportData) -> String {
        var html = "<header><div><h1>prunerd report</h1><p class=\"source\">\(ReportFormat.escaped(data.sourceDescription))</p></div>"
        html += "<p class=\"generated\">\(ReportFormat.escaped(ReportFormat.utc(millisecondsSinceEpoch: data.generatedAt)))</p></header>"
        return html
    }

    private static func summary(_ data: ReportData) -> String {
        func card(_ label: String, _ value: String, _ detail: String = "", accent: String = "") -> String {
            "<div class=\"card \(accent)\"><div class=\"label\">\(ReportFormat.escaped(label))</div><div class=\"value\">\(ReportFormat.escaped(value))</div><div class=\"detail\">\(ReportFormat.escaped(detail))</div></div>"
        }
        func reasons(_ counts: [String: Int]) -> String {
            counts.sorted { $0.value > $1.value }.prefix(3).map { "\($0.key) \(ReportFormat.grouped($0.value))" }.joined(separator: " · ")
        }
        var html = "<div class=\"cards\">"
        html += card("records decided", ReportFormat.grouped(data.records))
        html += card("kept", ReportFormat.grouped(data.kept), "keep ratio " + ReportFormat.percent(data.keepRatio)
                     + (data.targetKeepRatio.map { ", target " + ReportFormat.percent($0) } ?? ""), accent: "kept")
        html += card("dropped", ReportFormat.grouped(data.dropped), reasons(data.droppedByReason))
        html += card("rejected", ReportFormat.grouped(data.rejected), data.rejected > 0 ? reasons(data.rejectedByReason) : "none", accent: data.rejected > 0 ? "warn" : "")
        html += card("concepts", ReportFormat.grouped(data.concepts.count), "\(data.concepts.filter { $0.size > 0 }.count) with members")
        html += "</div>"
        if !data.facts.isEmpty {
            html += "<p class=\"facts\">" + data.facts.map { "<span><b>\(ReportFormat.escaped($0.0))</b> \(ReportFormat.escaped($0.1))</span>" }.joined() + "</p>"
        }
        return html
    }

    private static func conceptTable(_ data: ReportData, top: Int, colors: KeepRateColors) -> String {
        let rows = data.concepts.sorted { ($0.size, -$0.cluster) > ($1.size, -$1.cluster) }.prefix(top)
        var html = "<p class=\"lede\">The \(rows.count) largest of \(data.concepts.count) concepts."
        if let caption = data.examplesCaption { html += " " + ReportFormat.escaped(caption) }
        html += "</p><div class=\"table-wrap\"><table><thead><tr><th>concept</th><th class=\"num\">members</th><th class=\"num\">quota</th><th>keep rate</th><th class=\"num\">d_intra</th><th class=\"num\">d_inter</th><th class=\"num\">complexity</th><th>kept, e.g.</th><th>dropped, e.g.</th></tr></thead><tbody>"
        for c in rows {
            let rate = c.keepRate
            let bar = "<span class=\"rate\"><span class=\"swatch\" style=\"background:\(colors.color(rate))\"></span>\(rate.map { ReportFormat.percent($0) } ?? "–")"
                + (c.targetKeepRate.map { "<span class=\"muted\"> / \(ReportFormat.percent($0))</span>" } ?? "") + "</span>"
            html += "<tr><td>\(c.cluster)</td><td class=\"num\">\(ReportFormat.grouped(c.size))</td><td class=\"num\">\(ReportFormat.grouped(c.quota))</td>"
            html += "<td>\(bar)</td><td class=\"num\">\(ReportFormat.fixed(c.dIntra, 4))</td><td class=\"num\">\(ReportFormat.fixed(c.dInter, 4))</td><td class=\"num\">\(ReportFormat.fixed(c.complexity, 4))</td>"
            html += "<td class=\"ids\">\(ids(c.keptExamples))</td><td class=\"ids\">\(ids(c.droppedExamples))</td></tr>"
        }
        html += "</tbody></table></div>"
        if data.concepts.contains(where: { $0.targetKeepRate != nil }) {
            html += "<p class=\"caption\">keep rate: realised so far / the target the concept's threshold aims at.</p>"
        }
        return html
    }

    private static func ids(_ list: [String]) -> String {
        list.isEmpty ? "<span class=\"muted\">–</span>" : list.map { "<code title=\"\(ReportFormat.escaped($0))\">\(ReportFormat.escaped(shortened($0)))</code>" }.joined(separator: " ")
    }

    private static func shortened(_ id: String) -> String {
        id.count > 40 ? String(id.prefix(38)) + "…" : id
    }

    static let stylesheet = """
    :root{--ink:#1d2330;--muted:#6b7280;--line:#e3e6eb;--bg:#f5f6f8;--card:#fff;--accent:#2f6f8f;--kept:#1f8a5b;--warn:#b45309}
    *{box-sizing:border-box}
    body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Helvetica,Arial,sans-serif}
    main{max-width:1100px;margin:0 auto;padding:28px 28px 40px}
    header{display:flex;justify-content:space-between;align-items:flex-end;border-bottom:2px solid var(--ink);padding-bottom:12px;margin-bottom:20px}
    h1{font-size:26px;margin:0;letter-spacing:-.01em}
    h2{font-size:17px;margin:0 0 6px}
    .source,.generated{margin:2px 0 0;color:var(--muted);font-size:13px}
    .cards{display:grid;grid-template-columns:repeat(5,1fr);gap:12px}
    .card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 14px;border-top:3px solid var(--line)}
    .card.kept{border-top-color:var(--kept)}.card.warn{border-top-color:var(--warn)}
    .card .label{font-size:12px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted)}
    .card .value{font-size:24px;font-weight:650;font-variant-numeric:tabular-nums;margin-top:2px}
    .card .detail{font-size:12px;color:var(--muted);min-height:18px}
    .facts{display:flex;flex-wrap:wrap;gap:6px 18px;font-size:13px;color:var(--muted);margin:12px 2px 0}
    .facts b{color:var(--ink);font-weight:600;margin-right:4px}
    section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:18px 20px;margin-top:18px}
    .lede{margin:0 0 10px;color:#4b5563;font-size:14px;max-width:860px}
    .empty{color:var(--muted);font-style:italic}
    svg.chart{width:100%;height:auto;display:block}
    .grid{stroke:#eef0f3;stroke-width:1}.axis{stroke:#9aa1ab;stroke-width:1}
    .tick{font-size:11px;fill:#6b7280;font-variant-numeric:tabular-nums}
    .axis-title{font-size:12px;fill:#374151}
    .legend-title{font-size:12px;fill:#374151;font-weight:600}
    circle.concept{stroke:#fff;stroke-width:1;fill-opacity:.88}
    circle.concept:hover{stroke:#111;stroke-width:1.5}
    circle.size-key{fill:none;stroke:#6b7280;stroke-width:1}
    circle.quota-mark{stroke:#fff;stroke-width:.8;fill-opacity:.9}
    .contour{fill:none;stroke:#b8bec7;stroke-width:1;stroke-dasharray:4 4}
    .contour-label{font-size:10px;fill:#8b939e;paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}
    .reference{stroke:#9aa1ab;stroke-width:1.2;stroke-dasharray:6 4}.reference.keep-all{stroke:#c9ced6;stroke-dasharray:2 4}
    .reference-label{font-size:11px;fill:#6b7280;paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}
    .series-interval{fill:none;stroke:#9cc3d5;stroke-width:1.4}
    .series-cumulative{fill:none;stroke:var(--accent);stroke-width:2.6}
    circle.series-interval{fill:#9cc3d5}circle.series-cumulative{fill:var(--accent)}
    .reject-bar{fill:#d97706;opacity:.85}
    .empty-note{font-size:12px;fill:#9aa1ab;font-style:italic}
    .table-wrap{overflow-x:auto}
    table{border-collapse:collapse;width:100%;font-size:12.5px}
    th{text-align:left;font-weight:600;color:#4b5563;border-bottom:1px solid var(--ink);padding:6px 8px;white-space:nowrap}
    td{border-bottom:1px solid var(--line);padding:6px 7px;vertical-align:top}
    tbody tr:nth-child(even){background:#fafbfc}
    .num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
    .rate{white-space:nowrap;font-variant-numeric:tabular-nums}
    .swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;vertical-align:-1px}
    .muted{color:var(--muted)}
    td.ids code{display:block;background:#f1f3f5;border-radius:4px;padding:0 5px;margin:1px 0 2px;font-size:11px;max-width:170px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;vertical-align:top}
    code{font-family:ui-monospace,"SFMono-Regular",Menlo,"DejaVu Sans Mono",monospace}
    .caption{font-size:12px;color:var(--muted);margin:8px 0 0}
    .notes ul{margin:4px 0 0;padding-left:20px;color:#4b5563;font-size:13px}
    footer{margin-top:22px;color:var(--muted);font-size:12px}
    @media (max-width:760px){.cards{grid-template-columns:repeat(2,1fr)}main{padding:16px}}
    @media print{body{background:#fff}section,.card{break-inside:avoid}}
    """
}
