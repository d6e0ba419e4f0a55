using TsmLab.Abi;

namespace TsmLab.Kernel.Tsm;

/// <summary>One TSM that received a number, and how many requests with it.</summary>
public readonly record struct TsmNumberServer(TsmDev Tsm, long Requests);

/// <summary>
/// How one TSM_REQ number was used across the host's TSMs: which TSMs' backends received it and
/// how many meanings it therefore had (TsmLab's answer to "how are overlapping numbers avoided",
/// made countable; docs/proposal.md). In the scope profile the payload grammar is private to each
/// TSM, so a scope value that reached two TSMs had two meanings: it is <see cref="Aliased"/>. In
/// the op-arch profile an op's payload is defined by the uAPI per (op, tvm_arch), the request
/// names both, and the VM's architecture is checked before any backend: one meaning per row.
/// </summary>
public sealed record TsmNumberUse(TsmAbiProfile Profile, uint Number, string Name, TvmArch Arch, IReadOnlyList<TsmNumberServer> Servers)
{
    /// <summary>Distinct meanings the number had: a TSM each in the scope profile, one in op-arch.</summary>
    public int Meanings => Servers.Count == 0 ? 0 : Profile == TsmAbiProfile.Scope ? Servers.Count : 1;

    /// <summary>One number, more than one meaning.</summary>
    public bool Aliased => Meanings > 1;

    /// <summary>Requests that carried the number while it was aliased (all of them, at every TSM).</summary>
    public long AliasedRequests => Aliased ? Servers.Sum(s => s.Requests) : 0;

    /// <summary>
    /// Every number some TSM received: scope values (by value) and ops (by number, grouped by the
    /// architecture of the TSMs that served them), each with its servers in tsmN order.
    /// </summary>
    public static IReadOnlyList<TsmNumberUse> Of(TsmCore core)
    {
        var tsms = core.Devices.OrderBy(t => t.Id).ToArray();
        var uses = new List<TsmNumberUse>();
        foreach (TsmReqScope scope in Enum.GetValues<TsmReqScope>())
        {
            var servers = tsms.Select(t => new TsmNumberServer(t, t.ScopeServed(scope))).Where(s => s.Requests > 0).ToArray();
            if (servers.Length > 0) uses.Add(new(TsmAbiProfile.Scope, (uint)scope, ScopeName(scope), TvmArch.None, servers));
        }
        foreach (TsmReqOp op in Enum.GetValues<TsmReqOp>())
            foreach (var group in tsms.Where(t => t.OpServed(op) > 0).GroupBy(t => t.Platform.Arch))
                uses.Add(new(TsmAbiProfile.OpArch, (uint)op, OpName(op), group.Key, [.. group.Select(t => new TsmNumberServer(t, t.OpServed(op)))]));
        return uses;
    }

    /// <summary>The uAPI's name of a scope value ("PCI_STATE_CHANGE").</summary>
    public static string ScopeName(TsmReqScope scope) => AbiHeader.Snake(scope.ToString());

    /// <summary>The op namespace's name of an op ("SET_TDI_STATE").</summary>
    public static string OpName(TsmReqOp op) => AbiHeader.Snake(op.ToString());
}
