import PipelineKit
import Plotting
import Verdicts

/// Small pieces of the report's HTML: one stylesheet and one script, both inline, so a
/// page opens from the file system with nothing fetched.
enum HTML {
    static func esc(_ text: String) -> String { Plotting.escape(text) }

    /// eps in every unit: pixels, /255 and the paper's ([−1, 1] inputs): "0.005 (1.28/255; paper 0.01)".
    static func eps(_ e: Epsilon) -> String { esc(e.description.replacingOccurrences(of: ")", with: "; paper \(EpsText.paper(e.text)))")) }

    static func percent(_ x: Double) -> String { x.isFinite ? String(format: "%.1f", 100 * x) : "–" }
    static func number(_ x: Double) -> String { x.isFinite ? String(format: "%.2f", x) : "–" }

    static let style = """
        body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:0 auto;max-width:1180px;padding:12px 20px;color:#111;background:#fff;line-height:1.35}
        h1{font-size:22px;margin:4px 0}h2{font-size:18px;margin:22px 0 6px;border-bottom:1px solid #ccc}h3{font-size:15px;margin:14px 0 4px}
        p.sub{margin:2px 0 8px;color:#444;font-size:13px}nav a{margin-right:14px;font-size:13px}
        table{border-collapse:collapse;font-size:13px;margin:4px 0}th,td{border:1px solid #ccc;padding:2px 7px;text-align:right}
        th{background:#f3f3f3}td.l,th.l{text-align:left}.caption,figcaption{font-size:12.5px;color:#333;margin:3px 0 10px;max-width:1100px}
        .yes{color:#0a6b2e;font-weight:bold}.no{color:#b0161b;font-weight:bold}.na{color:#666;font-weight:bold}.yes,.no,.na{white-space:nowrap}
        .note{background:#fff7e0;border-left:4px solid #e0a800;padding:6px 10px;font-size:13px;margin:6px 0}
        .headline{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}.headline>div{flex:1 1 520px}
        figure{margin:8px 0 18px}figure img.fig{max-width:100%;height:auto;border:1px solid #eee}
        .panel{border:1px solid #ddd;padding:6px 8px;margin:0 0 14px}.panel>figcaption{font-size:14px;color:#000;margin:0 0 6px}
        .panel .why{color:#666;font-size:12px}.cols{display:flex;gap:14px;flex-wrap:wrap}.col{width:var(--w)}
        .col .h{font-size:12px;color:#333;height:32px}.img{position:relative;width:var(--w);height:var(--h)}
        .img img{position:absolute;left:0;top:0;width:100%;height:100%;image-rendering:pixelated}
        .img img.map{display:none}.tog:checked~.img img.map,#allmaps:checked~main .img img.map{display:block}
        .pk{position:absolute;width:10px;height:10px;margin:-7px 0 0 -7px;border:2px solid #fff;border-radius:50%;box-shadow:0 0 0 1px #000}
        ol.attrs{margin:4px 0 0;padding-left:20px;font-size:12px}ol.attrs li.u{color:#8a8a8a}ol.attrs li.g{font-weight:bold}
        label{font-size:12px;color:#333}.tog{margin:0 3px 0 0;vertical-align:middle}footer{font-size:11px;color:#666;margin-top:24px;border-top:1px solid #ccc}
        code{font-size:12px}.side{display:flex;gap:16px;flex-wrap:wrap}.side>div{flex:1 1 500px}
        table.findings td{vertical-align:top;font-size:12px}blockquote{margin:3px 0 0 8px;color:#333;font-style:italic}
        .sec{color:#666;font-size:11px;font-style:normal}.est{display:flex;gap:6px;align-items:center;margin:1px 0}svg.iv{flex:none}
        .cf .col.s{width:auto;max-width:440px}.cf ol.attrs{list-style:none;padding-left:2px}.strip img{image-rendering:pixelated;margin:0 3px 3px 0;border:1px solid #ddd}.ok{color:#0a6b2e;font-size:11px}.gx{color:#1f4fb4;font-size:11px;font-weight:bold}
        """

    /// Records script errors and resources that fail to load in the page's
    /// `data-page-errors` attribute, and when everything has loaded writes how many images
    /// there are and how many have no pixels to `data-images-ok` / `data-images-broken`:
    /// the browser test reads both from the rendered DOM.
    static let script = """
        <script>
        (function(){var d=document.documentElement;function note(m){d.setAttribute('data-page-errors',(d.getAttribute('data-page-errors')||'')+m+'\\n');}
        window.addEventListener('error',function(e){var t=e.target;note(t&&t!==window?'failed to load '+(t.src||t.href):'script error: '+e.message);},true);
        window.addEventListener('load',function(){var ok=0,bad=[];for(var i=0;i<document.images.length;i++){var im=document.images[i];if(im.complete&&im.naturalWidth>0)ok++;else bad.push(im.getAttribute('src'));}
        d.setAttribute('data-images-ok',String(ok));d.setAttribute('data-images-broken',bad.join(' '));});})();
        </script>
        """

    static func page(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(esc(title))</title>
        \(script)
        <style>
        \(style)
        </style>
        </head>
        <body>
        \(body)
        </body>
        </html>

        """
    }

    /// A figure that is an SVG file, with its caption and a link to the CSV of its numbers.
    static func figure(_ figure: Figure, file: String, alt: String) -> String {
        let (w, h) = figure.size
        return """
            <figure>
            <img class="fig" src="\(file).svg" width="\(Int(w.rounded()))" height="\(Int(h.rounded()))" alt="\(esc(alt))">
            <figcaption>\(esc(figure.caption)) <a href="\(file).csv">Data (CSV)</a>.</figcaption>
            </figure>
            """
    }

    /// The findings table: verdict; claim with its verbatim quote; criterion (and reading of
    /// R); each estimate with its interval drawn, the seeds' values as dots.
    static func findings(_ findings: [Finding]?, missing: String) -> String {
        guard let findings else { return "<p class=\"note\">\(esc(missing))</p>" }
        if findings.isEmpty { return "<p class=\"note\">\(esc(missing))</p>" }
        var rows = ""
        for f in findings {
            let status: String
            switch f.verdict {
            case .reproduced: status = "<span class=\"yes\">reproduced</span>"
            case .contradicted: status = "<span class=\"no\">contradicted</span>"
            case .undetermined: status = "<span class=\"na\">undetermined</span>"
            }
            var estimates = f.note.map { "<div>\(esc($0))</div>" } ?? ""
            for e in f.estimates {
                estimates += "<div class=\"est\">\(IntervalPlot.svg(e))<span>\(esc(e.label)): \(esc(e.format(e.value))) "
                    + "[\(esc(e.format(e.lower))), \(esc(e.format(e.upper)))] \(esc(e.criterion.text(e.format))) · "
                    + "\(esc(e.verdict.rawValue))\(e.note.map { " (\(esc($0)))" } ?? "")</span></div>"
            }
            rows += "<tr><td class=\"l\">\(status)</td><td class=\"l\"><b>\(esc(f.id))</b> \(esc(f.claim))"
                + "<blockquote>“\(esc(f.quote))” <span class=\"sec\">\(esc(f.section))</span></blockquote></td>"
                + "<td class=\"l\">\(esc(f.criterion))\(f.reading.map { "<br><i>reading: \(esc($0))</i>" } ?? "")"
                + "<br><span class=\"sec\">\(esc(f.seeds.joined(separator: "; ")))</span></td>"
                + "<td class=\"l\">\(estimates)</td></tr>\n"
        }
        return "<table class=\"findings\"><tr><th class=\"l\">verdict</th><th class=\"l\">the paper's claim (verbatim)</th>"
            + "<th class=\"l\">criterion</th><th class=\"l\">estimate, 95% interval (bar), per-seed values (dots), boundary (dashed)</th></tr>\n"
            + "\(rows)</table>"
    }
}

/// A small inline SVG per estimate: the 95% interval as a bar, the estimate as a square,
/// each seed's value as a hollow dot above the bar, the criterion's boundary dashed.
enum IntervalPlot {
    static let width = 200.0, height = 22.0

    static func svg(_ e: Estimate) -> String {
        let bounds = e.criterion.kind == .inside ? [e.criterion.lower, e.criterion.upper] : [e.criterion.lower]
        let values = ([e.value, e.lower, e.upper] + e.perSeed + bounds).filter(\.isFinite)
        guard var lo = values.min(), var hi = values.max() else { return "" }
        if hi - lo < 1e-9 { lo -= 0.05; hi += 0.05 }
        let pad = (hi - lo) * 0.08
        lo -= pad; hi += pad
        func x(_ v: Double) -> String { String(format: "%.1f", (v - lo) / (hi - lo) * width) }
        var out = "<svg class=\"iv\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" "
            + "role=\"img\" aria-label=\"interval\">"
        for b in bounds where b.isFinite {
            out += "<line x1=\"\(x(b))\" x2=\"\(x(b))\" y1=\"1\" y2=\"21\" stroke=\"#888\" stroke-dasharray=\"3,2\"/>"
        }
        let colour = e.verdict == .reproduced ? "#0a6b2e" : e.verdict == .contradicted ? "#b0161b" : "#555"
        if e.lower.isFinite && e.upper.isFinite {
            out += "<line x1=\"\(x(e.lower))\" x2=\"\(x(e.upper))\" y1=\"15\" y2=\"15\" stroke=\"\(colour)\" stroke-width=\"3\"/>"
        }
        if e.value.isFinite {
            out += "<rect x=\"\(String(format: "%.1f", Double(x(e.value))! - 3.5))\" y=\"11.5\" width=\"7\" height=\"7\" fill=\"\(colour)\"/>"
        }
        if e.perSeed.count > 1 {
            for v in e.perSeed where v.isFinite {
                out += "<circle class=\"seed\" cx=\"\(x(v))\" cy=\"6\" r=\"3\" fill=\"none\" stroke=\"#1f4e9c\" stroke-width=\"1.3\"/>"
            }
        }
        return out + "</svg>"
    }
}
