using TsmLab.Abi;

namespace TsmLab.Platforms;

/// <summary>
/// The firmware and guest interfaces a platform model speaks, as tables a user can print and diff
/// (<c>tsmlab abi --platform NAME</c>): the pinned revision and its sources, every call, every
/// status and state enumeration, every struct. Built from the same constants the model runs on;
/// names are spelled as the public headers spell them, and what no public source defines is marked.
/// </summary>
public sealed record PlatformAbi(string Platform, string Revision, IReadOnlyList<string> Sources,
    IReadOnlyList<PlatformCall> Calls, IReadOnlyList<PlatformEnum> Enums, IReadOnlyList<PlatformStruct> Structs);

/// <summary>One call: its interface (RMI, RSI, RHI, PSP, GHCB, SEAMCALL, TDCALL, …), name and id.</summary>
public sealed record PlatformCall(string Interface, string Name, ulong Id, bool TsmLabDefinition = false);

/// <summary>One enumeration: its name and its values by header name.</summary>
public sealed record PlatformEnum(string Name, IReadOnlyList<KeyValuePair<string, ulong>> Values, bool TsmLabDefinition = false)
{
    /// <summary>An enumeration from (header name, value) pairs.</summary>
    public static PlatformEnum Of(string name, bool tsmLabDefinition, params (string Name, ulong Value)[] values) =>
        new(name, [.. values.Select(v => KeyValuePair.Create(v.Name, v.Value))], tsmLabDefinition);
}

/// <summary>One struct: its header name, size and fields (offset and size in bytes).</summary>
public sealed record PlatformStruct(string Name, int Size, IReadOnlyList<AbiField> Fields, bool TsmLabDefinition = false)
{
    /// <summary>A struct from (name, offset, size) triples.</summary>
    public static PlatformStruct Of(string name, int size, bool tsmLabDefinition, params (string Name, int Offset, int Size)[] fields) =>
        new(name, size, [.. fields.Select(f => new AbiField(f.Name, f.Offset, f.Size))], tsmLabDefinition);
}
