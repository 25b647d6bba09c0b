import Plotting

/// Small pieces of the report's HTML: one stylesheet and one script, both inline, so a
/// page opens from the file system with nothing fetched.
enum HTML {
    static func esc(_ text: String) -> String { Plotting.escape(text) }

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

    static func findings(_ findings: [Finding]?, missing: String) -> String {
        guard let findings else { return "<p class=\"note\">\(esc(missing))</p>" }
        if findings.isEmpty { return "<p class=\"note\">The findings list is empty.</p>" }
        var rows = ""
        for f in findings {
            let status: String
            switch f.reproduced {
            case true?: status = "<span class=\"yes\">reproduced</span>"
            case false?: status = "<span class=\"no\">not reproduced</span>"
            case nil: status = "<span class=\"na\">undetermined</span>"
            }
            rows += "<tr><td class=\"l\">\(status)</td><td class=\"l\">\(esc(f.claim))</td><td class=\"l\">\(esc(f.evidence))</td></tr>\n"
        }
        return "<table><tr><th class=\"l\">status</th><th class=\"l\">the paper's claim</th><th class=\"l\">evidence</th></tr>\n\(rows)</table>"
    }
}
