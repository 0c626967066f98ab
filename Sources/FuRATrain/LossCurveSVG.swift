import Foundation

/// Curves as hand-written SVG: each series a polyline (per step) and dots (evaluations), with axes, ticks, labels
/// and, for several series, a legend. One run's `loss.svg`/`reward.svg` is one series; `fura compare` overlays runs.
public enum LossCurveSVG {
    /// One curve: a line of (step, value) points and evaluation dots, in one colour.
    public struct Series {
        public var name: String
        public var line: [(step: Int, loss: Double)]
        public var dots: [(step: Int, loss: Double)]
        public var color: String
        public init(name: String, line: [(step: Int, loss: Double)], dots: [(step: Int, loss: Double)], color: String) {
            self.name = name; self.line = line; self.dots = dots; self.color = color
        }
    }

    /// Distinct colours for overlaid series (Tableau 10).
    public static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                 "#bcbd22", "#17becf"]

    /// One run's curve. - Parameters: `train` and `validation` are (step, loss) points; non-finite losses are skipped;
    /// `lineLabel` and `dotsLabel` name the two series in the title, `axisLabel` the y axis.
    public static func render(train: [(step: Int, loss: Double)], validation: [(step: Int, loss: Double)],
                              width: Double = 720, height: Double = 400,
                              lineLabel: String = "training loss", dotsLabel: String = "validation loss", axisLabel: String = "loss") -> String {
        let title = lineLabel + (validation.isEmpty ? "" : " (line) and \(dotsLabel) (dots)")
        return render(series: [Series(name: lineLabel, line: train, dots: validation, color: palette[0])], dotsColor: palette[3],
                      title: title, axisLabel: axisLabel, width: width, height: height)
    }

    /// Several series on shared axes; `dotsColor` overrides the series colour of the dots (one-run pictures).
    public static func render(series: [Series], dotsColor: String? = nil, title: String, axisLabel: String,
                              width: Double = 720, height: Double = 400) -> String {
        let points = series.flatMap { $0.line + $0.dots }.filter { $0.loss.isFinite }
        let legendRows = series.count > 1 ? series.count : 0
        let left = 64.0, right = 16.0 + (legendRows > 0 ? 150 : 0), top = 28.0, bottom = 44.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let maxStep = Double(max(1, points.map(\.step).max() ?? 1))
        let minStep = Double(min(points.map(\.step).min() ?? 0, Int(maxStep) - 1))
        var low = points.map(\.loss).min() ?? 0, high = points.map(\.loss).max() ?? 1
        if high - low < 1e-9 { low -= 0.5; high += 0.5 }
        func x(_ step: Int) -> Double { left + (Double(step) - minStep) / (maxStep - minStep) * plotWidth }
        func y(_ loss: Double) -> Double { top + (high - loss) / (high - low) * plotHeight }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="11">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(f(left))" y="18" font-size="13">\(escaped(title))</text>
        <line x1="\(f(left))" y1="\(f(top + plotHeight))" x2="\(f(left + plotWidth))" y2="\(f(top + plotHeight))" stroke="black"/>
        <line x1="\(f(left))" y1="\(f(top))" x2="\(f(left))" y2="\(f(top + plotHeight))" stroke="black"/>

        """
        for i in 0...4 {
            let loss = low + (high - low) * Double(i) / 4
            svg += "<line x1=\"\(f(left - 4))\" y1=\"\(f(y(loss)))\" x2=\"\(f(left))\" y2=\"\(f(y(loss)))\" stroke=\"black\"/>"
            svg += "<text x=\"\(f(left - 6))\" y=\"\(f(y(loss) + 4))\" text-anchor=\"end\">\(String(format: "%.3g", loss))</text>\n"
            let step = Int((minStep + (maxStep - minStep) * Double(i) / 4).rounded())
            svg += "<line x1=\"\(f(x(step)))\" y1=\"\(f(top + plotHeight))\" x2=\"\(f(x(step)))\" y2=\"\(f(top + plotHeight + 4))\" stroke=\"black\"/>"
            svg += "<text x=\"\(f(x(step)))\" y=\"\(f(top + plotHeight + 16))\" text-anchor=\"middle\">\(step)</text>\n"
        }
        svg += "<text x=\"\(f(left + plotWidth / 2))\" y=\"\(f(height - 6))\" text-anchor=\"middle\">optimizer step</text>\n"
        svg += "<text x=\"14\" y=\"\(f(top + plotHeight / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 14 \(f(top + plotHeight / 2)))\">\(escaped(axisLabel))</text>\n"
        for (index, s) in series.enumerated() {
            let line = s.line.filter { $0.loss.isFinite }.map { "\(f(x($0.step))),\(f(y($0.loss)))" }.joined(separator: " ")
            if !line.isEmpty {
                svg += "<polyline fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"1.5\" points=\"\(line)\"/>\n"
            }
            for point in s.dots where point.loss.isFinite {
                svg += "<circle cx=\"\(f(x(point.step)))\" cy=\"\(f(y(point.loss)))\" r=\"3\" fill=\"\(dotsColor ?? s.color)\"/>\n"
            }
            if legendRows > 0 {
                let ly = top + 8 + Double(index) * 16, lx = left + plotWidth + 12
                svg += "<line x1=\"\(f(lx))\" y1=\"\(f(ly))\" x2=\"\(f(lx + 18))\" y2=\"\(f(ly))\" stroke=\"\(s.color)\" stroke-width=\"3\"/>"
                svg += "<text x=\"\(f(lx + 24))\" y=\"\(f(ly + 4))\">\(escaped(s.name))</text>\n"
            }
        }
        return svg + "</svg>\n"
    }

    /// Text made safe inside XML (SVG and XHTML).
    public static func escaped(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}
