import Foundation

/// A loss-curve picture as hand-written SVG: training loss as a polyline, validation loss as dots,
/// with axes, ticks and labels.
public enum LossCurveSVG {
    /// - Parameters: `train` and `validation` are (step, loss) points; non-finite losses are skipped; `lineLabel` and `dotsLabel`
    ///   name the two series in the title, `axisLabel` the y axis.
    public static func render(train: [(step: Int, loss: Double)], validation: [(step: Int, loss: Double)],
                              width: Double = 720, height: Double = 400,
                              lineLabel: String = "training loss", dotsLabel: String = "validation loss", axisLabel: String = "loss") -> String {
        let points = (train + validation).filter { $0.loss.isFinite }
        let left = 64.0, right = 16.0, top = 28.0, bottom = 44.0
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
        <text x="\(f(left))" y="18" font-size="13">\(lineLabel)\(validation.isEmpty ? "" : " (line) and \(dotsLabel) (dots)")</text>
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
        svg += "<text x=\"14\" y=\"\(f(top + plotHeight / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 14 \(f(top + plotHeight / 2)))\">\(axisLabel)</text>\n"
        let line = train.filter { $0.loss.isFinite }.map { "\(f(x($0.step))),\(f(y($0.loss)))" }.joined(separator: " ")
        if !line.isEmpty {
            svg += "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"\(line)\"/>\n"
        }
        for point in validation where point.loss.isFinite {
            svg += "<circle cx=\"\(f(x(point.step)))\" cy=\"\(f(y(point.loss)))\" r=\"3\" fill=\"#d62728\"/>\n"
        }
        return svg + "</svg>\n"
    }
}
