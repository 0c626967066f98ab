import Foundation
import FuRATrain

extension RunComparison {
    /// One self-contained page: the runs table, the overlaid loss (or reward) curves, the evaluation table and a bar
    /// chart of the averages. Well-formed XHTML (every element closed, text escaped), inline SVG, no scripts.
    public func html(title: String = "FuRA runs compared") -> String {
        let esc = LossCurveSVG.escaped
        func table(_ header: [String], _ rows: [[String]]) -> String {
            func cell(_ tag: String, _ column: String, _ text: String) -> String {
                "<\(tag)\(Self.textColumns.contains(column) ? "" : " class=\"num\"")>\(esc(text))</\(tag)>"
            }
            var out = "<table>\n<tr>" + header.map { cell("th", $0, $0) }.joined() + "</tr>\n"
            for row in rows { out += "<tr>" + zip(header, row).map { cell("td", $0, $1) }.joined() + "</tr>\n" }
            return out + "</table>\n"
        }
        var page = """
        <!DOCTYPE html>
        <html xmlns="http://www.w3.org/1999/xhtml" lang="en">
        <head>
        <meta charset="utf-8"/>
        <title>\(esc(title))</title>
        <style>
        body { font-family: sans-serif; margin: 2em; color: #222; }
        table { border-collapse: collapse; margin: 1em 0; }
        th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; }
        th { background: #f3f3f3; }
        td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
        p.note { color: #555; font-size: 90%; }
        </style>
        </head>
        <body>
        <h1>\(esc(title))</h1>

        """
        let r = runRows
        page += "<h2>Runs</h2>\n" + table(r.header, r.rows)
        page += "<p class=\"note\">tokens/s: trained tokens over the summed step time; peak RSS: the largest resident size "
            + "the run recorded; wall time: the whole command, loading and conversion included.</p>\n"
        let trained = runs.filter { !$0.curve.isEmpty }
        if !trained.isEmpty {
            let isReward = trained.allSatisfy { $0.summary?.kind == "grpo" }
            let series = trained.enumerated().map { i, run in
                LossCurveSVG.Series(name: run.name, line: run.curve, dots: run.validation,
                                    color: LossCurveSVG.palette[i % LossCurveSVG.palette.count])
            }
            page += "<h2>\(isReward ? "Reward" : "Training loss")</h2>\n"
            page += LossCurveSVG.render(series: series, title: isReward ? "mean reward per step (dots: held-out accuracy)"
                                            : "training loss per step (dots: validation loss)",
                                        axisLabel: isReward ? "reward" : "loss", width: 860, height: 420)
        }
        if !tasks.isEmpty {
            let e = evalRows
            page += "<h2>Accuracy (%), \(esc(evalSetting))</h2>\n" + table(e.header, e.rows)
            page += "<p class=\"note\">Δ Avg: each run's average minus the first run's (\(esc(runs[0].name))), in points.</p>\n"
            page += averagesChart()
        }
        return page + "</body>\n</html>\n"
    }

    /// Horizontal bars of each evaluated run's average accuracy, labelled with its value.
    func averagesChart() -> String {
        let evaluated = runs.enumerated().filter { $0.element.eval != nil }
        let rowHeight = 26.0, labelWidth = 160.0, barWidth = 520.0, top = 30.0
        let height = top + rowHeight * Double(evaluated.count) + 10
        let high = max(0.01, evaluated.map { $0.element.eval!.average }.max() ?? 1)
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(labelWidth + barWidth + 80))\" height=\"\(Int(height))\" "
            + "font-family=\"sans-serif\" font-size=\"12\">\n"
            + "<text x=\"0\" y=\"18\" font-size=\"13\">average accuracy (%)</text>\n"
        for (row, (index, run)) in evaluated.enumerated() {
            let average = run.eval!.average
            let y = top + Double(row) * rowHeight
            let w = barWidth * average / high
            let color = LossCurveSVG.palette[index % LossCurveSVG.palette.count]
            svg += "<text x=\"\(labelWidth - 8)\" y=\"\(y + 16)\" text-anchor=\"end\">\(LossCurveSVG.escaped(run.name))</text>"
            svg += "<rect x=\"\(labelWidth)\" y=\"\(y + 3)\" width=\(String(format: "\"%.1f\"", w)) height=\"\(rowHeight - 8)\" fill=\"\(color)\"/>"
            svg += "<text x=\(String(format: "\"%.1f\"", labelWidth + w + 6)) y=\"\(y + 16)\">\(EvalSummary.percent(average))</text>\n"
        }
        return svg + "</svg>\n"
    }
}
