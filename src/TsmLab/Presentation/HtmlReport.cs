using System.Globalization;
using System.Net;
using System.Text;
using TsmLab.Tracing;

namespace TsmLab.Presentation;

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
          .Append(" boundary crossings (consecutive identical ones drawn once with ×N). Hover an arrow for its decoded fields; click to pin them.</p>");
        sb.Append("<h2>TDI state timeline</h2>");
        var rows = Collapse(events);
        AppendTimeline(sb, events, rows);
        sb.Append("<div id=\"main\"><div id=\"diagram\"><h2>Sequence</h2>");
        AppendSequence(sb, rows);
        sb.Append("</div><div id=\"detail\"><h2>Selected crossing</h2><pre id=\"fields\">(click an arrow)</pre></div></div>");
        sb.Append("<script>//<![CDATA[\n").Append(Script).Append("\n//]]></script></body></html>\n");
        return sb.ToString();
    }

    /// <summary>Consecutive identical crossings (a per-page mapping loop, say) drawn as one arrow with a count.</summary>
    private readonly record struct Row(TraceEvent First, TraceEvent Last, int Count);

    private static List<Row> Collapse(IReadOnlyList<TraceEvent> events)
    {
        var rows = new List<Row>();
        foreach (var e in events)
        {
            if (rows.Count > 0 && rows[^1].Last is var l && l.From == e.From && l.To == e.To && l.Kind == e.Kind && l.Name == e.Name && l.Result == e.Result)
                rows[^1] = rows[^1] with { Last = e, Count = rows[^1].Count + 1 };
            else rows.Add(new Row(e, e, 1));
        }
        return rows;
    }

    private static void AppendSequence(StringBuilder sb, List<Row> rows)
    {
        int width = Left * 2 + LaneWidth * Lanes.Length + 200;
        int height = Top + RowHeight * (rows.Count + 1);
        sb.Append(CultureInfo.InvariantCulture, $"<svg id=\"sequence\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">");
        foreach (var lane in Lanes)
        {
            int x = X(lane);
            sb.Append(CultureInfo.InvariantCulture, $"<text class=\"lane\" x=\"{x}\" y=\"20\" text-anchor=\"middle\">{TraceLog.Name(lane)}</text>");
            sb.Append(CultureInfo.InvariantCulture, $"<line class=\"life\" x1=\"{x}\" y1=\"28\" x2=\"{x}\" y2=\"{height - 4}\"/>");
        }
        for (int i = 0; i < rows.Count; i++)
        {
            var (e, last, count) = rows[i];
            int y = Top + RowHeight * i + RowHeight / 2;
            int x1 = X(e.From), x2 = X(e.To);
            string cls = "ev " + TraceLog.KindName(e.Kind) + (e.Result.Contains("ERR", StringComparison.Ordinal) || e.Result.StartsWith('-') || e.Kind == TraceKind.Rejection ? " bad" : "");
            string fields = string.Join("\n", e.Fields.Select(f => $"{f.Name} = {f.Value}"));
            string seqs = count == 1 ? $"#{e.Seq}" : $"#{e.Seq}..#{last.Seq} ({count} identical crossings; fields of the first)";
            string detail = $"{seqs} {TraceLog.Name(e.From)} -> {TraceLog.Name(e.To)} [{TraceLog.KindName(e.Kind)}]\n{e.Name}\nresult: {e.Result}\n{fields}";
            sb.Append(CultureInfo.InvariantCulture, $"<g class=\"{cls}\" data-seq=\"{e.Seq}\" data-count=\"{count}\" data-detail=\"{E(detail)}\"><title>{E(detail)}</title>");
            if (x1 == x2)
            {
                sb.Append(CultureInfo.InvariantCulture, $"<path d=\"M{x1} {y - 6} h28 v12 h-28\" class=\"arrow\" marker-end=\"url(#head)\"/>");
                sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{x1 + 34}\" y=\"{y + 4}\">{E(Label(e, count))}</text>");
            }
            else
            {
                sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{x1}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" class=\"arrow\" marker-end=\"url(#head)\"/>");
                int tx = Math.Min(x1, x2) + 6;
                sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{tx}\" y=\"{y - 4}\">{E(Label(e, count))}</text>");
            }
            sb.Append("</g>");
        }
        sb.Append("<defs><marker id=\"head\" markerWidth=\"8\" markerHeight=\"8\" refX=\"7\" refY=\"4\" orient=\"auto\"><path d=\"M0 0 L8 4 L0 8 z\"/></marker></defs>");
        sb.Append("</svg>");
    }

    /// <summary>
    /// One lane per TDI: its state over the run, on the same axis as the sequence diagram (one unit
    /// per drawn arrow), so a long run of identical calls does not squeeze the interesting part.
    /// </summary>
    private static void AppendTimeline(StringBuilder sb, IReadOnlyList<TraceEvent> events, List<Row> rows)
    {
        var changes = events.Where(e => e.Kind == TraceKind.StateChange).ToList();
        var position = new Dictionary<long, int>();
        for (int i = 0; i < rows.Count; i++) position[rows[i].First.Seq] = i;
        long last = Math.Max(rows.Count, 1);
        const int width = 900, laneHeight = 26, labelWidth = 260;
        var tdis = changes.Select(c => c.Name).Distinct().ToList();
        int height = 24 + laneHeight * Math.Max(tdis.Count, 1);
        sb.Append(CultureInfo.InvariantCulture, $"<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width + labelWidth + 10}\" height=\"{height}\">");
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
                long to = c is null ? last : position.GetValueOrDefault(c.Seq);
                double x1 = labelWidth + width * (double)from / last, x2 = labelWidth + width * (double)to / last;
                sb.Append(CultureInfo.InvariantCulture, $"<rect class=\"st {state}\" x=\"{x1:0.#}\" y=\"{y}\" width=\"{Math.Max(x2 - x1, 1):0.#}\" height=\"20\"><title>{E(state)} from arrow {from} to arrow {to}</title></rect>");
                sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{x1 + 3:0.#}\" y=\"{y + 14}\" class=\"stl\">{E(state)}</text>");
                if (c is null) break;
                from = to;
                state = c.Fields.FirstOrDefault(f => f.Name == "to").Value ?? state;
            }
        }
        sb.Append("</svg>");
    }

    private static string Label(TraceEvent e, int count)
    {
        string s = count == 1 ? $"{e.Name}: {e.Result}" : $"{e.Name}: {e.Result} ×{count}";
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
