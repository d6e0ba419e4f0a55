namespace TsmLab.Input;

/// <summary>
/// JSON input that cannot be used. <see cref="Origin"/> names the input (e.g. <c>device file
/// 'dev.json'</c>; null for a replay line, whose answer carries the line itself), <see cref="Line"/>
/// is the 1-based line the offending value starts on, <see cref="Field"/> its path
/// (<c>msix.tableOffset</c>, <c>bars[1].size</c>; empty for the document), and <see cref="Detail"/>
/// says what is wrong, naming the field.
/// </summary>
public sealed class JsonInputException(string? origin, int line, string field, string detail)
    : FormatException(origin is null ? detail : $"{origin}, line {line}: {detail}")
{
    public string? Origin { get; } = origin;
    public int Line { get; } = line;
    public string Field { get; } = field;
    /// <summary>What is wrong, naming the field, without origin or line.</summary>
    public string Detail { get; } = detail;
}
