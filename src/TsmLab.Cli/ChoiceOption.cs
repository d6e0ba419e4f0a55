using System.CommandLine;

namespace TsmLab.Cli;

/// <summary>
/// An option whose value is one of a fixed list: help shows the list, completion offers it, and
/// any other value is one uniform parse error, "unknown WHAT 'VALUE'; use A, B or C".
/// </summary>
internal static class ChoiceOption
{
    public static Option<string> Create(string name, string what, string description, IReadOnlyList<string> values, string? defaultValue = null)
    {
        var option = new Option<string>(name) { Description = description, HelpName = string.Join('|', values) };
        if (defaultValue is not null) option.DefaultValueFactory = _ => defaultValue;
        option.CompletionSources.Add(values.ToArray());
        option.Validators.Add(result =>
        {
            foreach (var token in result.Tokens)
                if (!values.Contains(token.Value))
                    result.AddError($"unknown {what} '{token.Value}'; use {List(values)}");
        });
        return option;
    }

    /// <summary>"a, b or c".</summary>
    public static string List(IReadOnlyList<string> values) =>
        values.Count <= 1 ? string.Join("", values) : string.Join(", ", values.Take(values.Count - 1)) + " or " + values[^1];
}
