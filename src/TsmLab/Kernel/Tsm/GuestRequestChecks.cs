using TsmLab.Abi;

namespace TsmLab.Kernel.Tsm;

/// <summary>Where in <c>pci_tsm_guest_req</c> a check runs: which locks are held and whether the payload has been copied in.</summary>
public enum GuestRequestStage
{
    /// <summary>Before any lock: only the request's own fields.</summary>
    Entry,
    /// <summary>Under the TSM core's rwsem held for read: the function's link TSM is known.</summary>
    Connected,
    /// <summary>Under the DSM's mutex: the TDI binding is stable.</summary>
    Bound,
    /// <summary>After copy_from_user of the payload (copied once: no double fetch).</summary>
    Copied,
}

/// <summary>What a check sees: the request's fields, the TSM and TDI found so far, and how the TSM classifies the copied payload.</summary>
public ref struct GuestRequestFacts
{
    public TsmAbiProfile Profile;
    public TsmReqScope Scope;
    public TsmReqOp Op;
    public TvmArch Arch;
    public uint RequestLength;
    public uint ResponseLength;
    public TsmDev? Tsm;
    public TsmTdi? Tdi;
    /// <summary>Scope profile, Copied stage: the TSM's classification of the payload, null when it cannot classify it (classified once, before the Copied rows).</summary>
    public TsmReqClass? PayloadClass;
}

/// <summary>A check that refuses when it returns true.</summary>
public delegate bool GuestRequestRefusal(in GuestRequestFacts facts);

/// <summary>One row of the TSM core's request checks: when it runs, what it refuses, the counted reason and the errno.</summary>
public sealed record GuestRequestCheck(GuestRequestStage Stage, string Refuses, TsmRejection Rejection, Errno Errno, GuestRequestRefusal Fails);

/// <summary>
/// The TSM core's checks on a guest request (<c>pci_tsm_guest_req</c> [DW2] with TsmLab's
/// additions), as an ordered list of rows that <see cref="TsmCore.GuestRequest"/> runs and
/// docs/errno.md mirrors row for row (a test keeps them equal). The first failing row answers;
/// nothing after it runs, and the firmware is never called. The iommufd handler's own checks
/// (struct size, reserved fields, arch tags, the VM's arch) run before these (docs/errno.md).
/// </summary>
public static class GuestRequestChecks
{
    /// <summary>The rows, in the order they run.</summary>
    public static IReadOnlyList<GuestRequestCheck> Rows { get; } =
    [
        new(GuestRequestStage.Entry, "scope profile: DEBUG_READ or DEBUG_WRITE", TsmRejection.DebugScope, Errno.EINVAL,
            static (in GuestRequestFacts f) => f.Profile == TsmAbiProfile.Scope && f.Scope > TsmReqScope.PciStateChange),
        new(GuestRequestStage.Connected, "the function's DSM is not connected to a link TSM", TsmRejection.NotConnected, Errno.ENXIO,
            static (in GuestRequestFacts f) => f.Tsm is null || !f.Tsm.IsLink),
        new(GuestRequestStage.Bound, "the function is not bound as a TDI", TsmRejection.NotBound, Errno.ENXIO,
            static (in GuestRequestFacts f) => f.Tdi is null),
        new(GuestRequestStage.Bound, "the TSM serves another VM architecture", TsmRejection.ArchNotTsm, Errno.EINVAL,
            static (in GuestRequestFacts f) => f.Tsm!.Platform.Arch != f.Arch),
        // resp_len above INT_MAX: its residue could not be the ioctl's int result (TsmLab check).
        new(GuestRequestStage.Bound, "req_len above the TSM's maximum, resp_len above INT_MAX, or an op the TSM does not serve", TsmRejection.NotServed, Errno.EINVAL,
            static (in GuestRequestFacts f) => f.RequestLength > (uint)f.Tsm!.Platform.MaxRequestLength || f.ResponseLength > int.MaxValue ||
                (f.Profile == TsmAbiProfile.OpArch && !Serves(f.Tsm.Platform, f.Op))),
        new(GuestRequestStage.Copied, "scope profile: the TSM cannot classify the payload", TsmRejection.PlatformRejected, Errno.EINVAL,
            static (in GuestRequestFacts f) => f.Profile == TsmAbiProfile.Scope && f.PayloadClass is null),
        new(GuestRequestStage.Copied, "scope profile: the payload does something other than the declared scope", TsmRejection.ScopeMismatch, Errno.EINVAL,
            static (in GuestRequestFacts f) => f.Profile == TsmAbiProfile.Scope && f.PayloadClass is { } c && (uint)c != (uint)f.Scope),
    ];

    private static readonly GuestRequestCheck[] Table = [.. Rows];

    /// <summary>Runs the rows of <paramref name="stage"/> in order; the first that refuses gives its errno (negative) and reason, else 0.</summary>
    public static int Run(GuestRequestStage stage, in GuestRequestFacts facts, out TsmRejection rejection)
    {
        foreach (var row in Table)
        {
            if (row.Stage != stage || !row.Fails(in facts)) continue;
            rejection = row.Rejection;
            return row.Errno.Neg();
        }
        rejection = TsmRejection.None;
        return 0;
    }

    private static bool Serves(ILinkTsmPlatform platform, TsmReqOp op)
    {
        var ops = platform.Ops;
        for (int i = 0; i < ops.Count; i++)
            if (ops[i].Op == op) return true;
        return false;
    }
}
