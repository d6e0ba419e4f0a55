using System.Globalization;
using System.Net;
using System.Text;

namespace TsmLab.Tracing;

/// <summary>
/// A self-contained HTML page for a trace: a summary table, a sequence diagram of the layers
/// drawn as inline SVG (one arrow per boundary crossing; hover shows the decoded fields, a click
/// pins them in a side panel), and the TDI state timeline. No network, no external scripts or
/// styles; the markup is well-formed XML so tools (and the tests) can parse it.
/// </summary>
public static class HtmlReport
{
    private const int LaneWidth = 170, RowHeight = 24, Top = 40, Left = 20;
    private static readonly TraceLayer[] Lanes = Enum.GetValues<TraceLayer>();

    /// <summary>Renders the page. <paramref name="summary"/> rows are shown as a table above the diagram.</summary>
    public static string Render(string title, TraceLog log, IReadOnlyList<string>? summaryHeader = null, IReadOnlyList<IReadOnlyList<string>>? summary = null)
    {
        var events = log.Events;
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\"><head><meta charset=\"utf-8\"/>");
        sb.Append("<title>").Append(E(title)).Append("</title><style>").Append(Css).Append("</style></head><body>");
        sb.Append("<h1>").Append(E(title)).Append("</h1>");
        if (summaryHeader is not null && summary is not null)
        {
            sb.Append("<table id=\"summary\"><thead><tr>");
            foreach (var h in summaryHeader) sb.Append("<th>").Append(E(h)).Append("</th>");
            sb.Append("</tr></thead><tbody>");
            foreach (var row in summary)
            {
                sb.Append("<tr>");
                foreach (var c in row) sb.Append("<td>").Append(E(c)).Append("</td>");
                sb.Append("</tr>");
            }
            sb.Append("</tbody></table>");
        }
        sb.Append("<p class=\"hint\">").Append(events.Count.ToString(CultureInfo.InvariantCulture))
          .Append(" boundary crossings. Hover an arrow for its decoded fields; click to pin them.</p>");
        sb.Append("<h2>TDI state timeline</h2>");
        AppendTimeline(sb, events);
        sb.Append("<div id=\"main\"><div id=\"diagram\"><h2>Sequence</h2>");
        AppendSequence(sb, events);
        sb.Append("</div><div id=\"detail\"><h2>Selected crossing</h2><pre id=\"fields\">(click an arrow)</pre></div></div>");
        sb.Append("<script>//<![CDATA[\n").Append(Script).Append("\n//]]></script></body></html>\n");
        return sb.ToString();
    }

    private static void AppendSequence(StringBuilder sb, IReadOnlyList<TraceEvent> events)
    {
        int width = Left * 2 + LaneWidth * Lanes.Length;
        int height = Top + RowHeight * (events.Count + 1);
        sb.Append(CultureInfo.InvariantCulture, $"<svg id=\"sequence\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">");
        foreach (var lane in Lanes)
        {
            int x = X(lane);
            sb.Append(CultureInfo.InvariantCulture, $"<text class=\"lane\" x=\"{x}\" y=\"20\" text-anchor=\"middle\">{TraceLog.Name(lane)}</text>");
            sb.Append(CultureInfo.InvariantCulture, $"<line class=\"life\" x1=\"{x}\" y1=\"28\" x2=\"{x}\" y2=\"{height - 4}\"/>");
        }
        for (int i = 0; i < events.Count; i++)
        {
            var e = events[i];
            int y = Top + RowHeight * i + RowHeight / 2;
            int x1 = X(e.From), x2 = X(e.To);
            string cls = "ev " + TraceLog.KindName(e.Kind) + (e.Result.Contains("ERR", StringComparison.Ordinal) || e.Result.StartsWith('-') || e.Kind == TraceKind.Rejection ? " bad" : "");
            string fields = string.Join("\n", e.Fields.Select(f => $"{f.Name} = {f.Value}"));
            string detail = $"#{e.Seq} {TraceLog.Name(e.From)} -> {TraceLog.Name(e.To)} [{TraceLog.KindName(e.Kind)}]\n{e.Name}\nresult: {e.Result}\n{fields}";
            sb.Append(CultureInfo.InvariantCulture, $"<g class=\"{cls}\" data-seq=\"{e.Seq}\" data-detail=\"{E(detail)}\"><title>{E(detail)}</title>");
            if (x1 == x2)
            {
                sb.Append(CultureInfo.InvariantCulture, $"<path d=\"M{x1} {y - 6} h28 v12 h-28\" class=\"arrow\" marker-end=\"url(#head)\"/>");
                sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{x1 + 34}\" y=\"{y + 4}\">{E(Label(e))}</text>");
            }
            else
            {
                sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{x1}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" class=\"arrow\" marker-end=\"url(#head)\"/>");
                int tx = Math.Min(x1, x2) + 6;
                sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{tx}\" y=\"{y - 4}\">{E(Label(e))}</text>");
            }
            sb.Append("</g>");
        }
        sb.Append("<defs><marker id=\"head\" markerWidth=\"8\" markerHeight=\"8\" refX=\"7\" refY=\"4\" orient=\"auto\"><path d=\"M0 0 L8 4 L0 8 z\"/></marker></defs>");
        sb.Append("</svg>");
    }

    private static void AppendTimeline(StringBuilder sb, IReadOnlyList<TraceEvent> events)
    {
        var changes = events.Where(e => e.Kind == TraceKind.StateChange).ToList();
        long last = events.Count == 0 ? 1 : events[^1].Seq;
        const int width = 900, laneHeight = 26;
        var tdis = changes.Select(c => c.Name).Distinct().ToList();
        int height = 24 + laneHeight * Math.Max(tdis.Count, 1);
        sb.Append(CultureInfo.InvariantCulture, $"<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width + 160}\" height=\"{height}\">");
        if (tdis.Count == 0)
            sb.Append("<text x=\"4\" y=\"18\">no TDI changed state in this run</text>");
        for (int t = 0; t < tdis.Count; t++)
        {
            int y = 6 + laneHeight * t;
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"4\" y=\"{y + 15}\">{E(tdis[t])}</text>");
            var mine = changes.Where(c => c.Name == tdis[t]).ToList();
            long from = 0;
            string state = mine[0].Fields.FirstOrDefault(f => f.Name == "from").Value ?? "ConfigUnlocked";
            foreach (var c in mine.Append(null))
            {
                long to = c?.Seq ?? last;
                double x1 = 150 + width * (double)from / last, x2 = 150 + width * (double)to / last;
                sb.Append(CultureInfo.InvariantCulture, $"<rect class=\"st {state}\" x=\"{x1:0.#}\" y=\"{y}\" width=\"{Math.Max(x2 - x1, 1):0.#}\" height=\"20\"><title>{E(state)} from #{from} to #{to}</title></rect>");
                sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{x1 + 3:0.#}\" y=\"{y + 14}\" class=\"stl\">{E(state)}</text>");
                if (c is null) break;
                from = c.Seq;
                state = c.Fields.FirstOrDefault(f => f.Name == "to").Value ?? state;
            }
        }
        sb.Append("</svg>");
    }

    private static string Label(TraceEvent e)
    {
        string s = $"{e.Name}: {e.Result}";
        return s.Length > 60 ? s[..57] + "..." : s;
    }

    private static int X(TraceLayer l) => Left + LaneWidth / 2 + LaneWidth * Array.IndexOf(Lanes, l);

    private static string E(string s) => WebUtility.HtmlEncode(s);

    private const string Css = """
        body{font:13px system-ui,sans-serif;margin:16px;color:#222}
        table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #bbb;padding:3px 8px;text-align:left}
        .hint{color:#555}#main{display:flex;gap:16px;align-items:flex-start}
        #detail{position:sticky;top:8px;min-width:320px;max-width:420px}#fields{background:#f5f5f5;padding:8px;white-space:pre-wrap}
        .lane{font-weight:bold}.life{stroke:#ccc;stroke-dasharray:4 3}
        .arrow{stroke:#336;fill:none;stroke-width:1.4}.ev text{font-size:11px;fill:#223}
        .ev:hover .arrow{stroke:#06c;stroke-width:2.5}.ev.bad .arrow{stroke:#c33}.ev.bad text{fill:#a00}
        .ev.state-change .arrow{stroke:#d80}.ev.device-message .arrow{stroke:#384}
        .ev.pinned .arrow{stroke:#06c;stroke-width:3}
        .st{stroke:#fff}.ConfigUnlocked{fill:#cfd8dc}.ConfigLocked{fill:#ffe082}.Run{fill:#a5d6a7}.Error{fill:#ef9a9a}.stl{font-size:11px}
        """;

    private const string Script = """
        document.querySelectorAll('#sequence g.ev').forEach(function (g) {
          g.addEventListener('click', function () {
            document.querySelectorAll('#sequence g.pinned').forEach(function (p) { p.classList.remove('pinned'); });
            g.classList.add('pinned');
            document.getElementById('fields').textContent = g.getAttribute('data-detail');
          });
        });
        """;
}
