using System.Security.Cryptography;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Tdisp.Device;

/// <summary>One TDI: a function the DSM serves, with its TDISP state, lock parameters, nonce and report.</summary>
/// <remarks>
/// A TDISP device interface (TDI): one function of the device (the PF or a VF) and its state
/// machine (§5.6) [D1,V1,E1-E4]. The TDISP requests reach it only through the DSM's dispatch; the
/// methods here model what the device itself observes on the link: config-space writes, BAR moves
/// and function-level resets, which move LOCKED/RUN to ERROR (PCIe 6.x §11; the register set
/// treated as locked is a modelling choice, see docs/tdisp.md).
/// </remarks>
public sealed class Tdi
{
    /// <summary>Config-space offsets of a type-0 header treated as locked while LOCKED/RUN:
    /// Command, BAR0-5 and the Expansion ROM BAR (MSI-X Message Control too when LOCK_MSIX).</summary>
    private static readonly (int Start, int End)[] LockedRegisters = [(0x04, 0x06), (0x10, 0x28), (0x30, 0x34)];

    private readonly DeviceSecurityManager dsm;
    private readonly InterfaceReportLayout layout;
    private readonly ulong[] barAddresses;
    private readonly byte[] nonce = new byte[LockInterfaceResponse.NonceSize];
    private readonly byte[] report;
    private readonly ulong[] boundP2pStreams = new ulong[4];

    internal Tdi(DeviceSecurityManager dsm, TdiFunctionId functionId, int vfIndex, FunctionLayout layout, int deviceSpecificInfoLength)
    {
        this.dsm = dsm;
        FunctionId = functionId;
        VfIndex = vfIndex;
        this.layout = new InterfaceReportLayout(layout);
        barAddresses = new ulong[layout.Bars.Count];
        for (int i = 0; i < barAddresses.Length; i++)
            barAddresses[i] = layout.Bars[i].Address + (vfIndex < 0 ? 0 : (ulong)vfIndex * layout.Bars[i].Size);
        report = new byte[this.layout.ReportSize(deviceSpecificInfoLength)];
    }

    /// <summary>The function_id this TDI answers to (RID; segment per the DSM).</summary>
    public TdiFunctionId FunctionId { get; }
    /// <summary>-1 for the PF, else the VF number (0-based).</summary>
    public int VfIndex { get; }
    public bool IsVirtualFunction => VfIndex >= 0;
    public TdiState State { get; private set; }
    public FunctionLayout Layout => layout.Layout;
    /// <summary>The parameters of the LOCK that holds, or null while UNLOCKED/after STOP.</summary>
    public LockInterfaceParameters? LockParameters { get; private set; }
    /// <summary>The report built at LOCK time (empty while UNLOCKED).</summary>
    public ReadOnlySpan<byte> Report => report.AsSpan(0, ReportLength);
    public int ReportLength { get; private set; }
    /// <summary>Number of MMIO ranges the report carries.</summary>
    public int ReportRangeCount => layout.RangeCount;
    /// <summary>The current address of BAR slot <paramref name="barIndex"/> (by BAR index).</summary>
    public ulong GetBarAddress(int barIndex) => barAddresses[SlotOf(barIndex)];
    /// <summary>The MSI-X Message Control value reported when LOCK_MSIX is set (table size - 1).</summary>
    public ushort MsixMessageControl => Layout.Msix is { } m ? (ushort)(m.TableSize - 1) : (ushort)0;

    public bool IsP2pStreamBound(byte streamId) => (boundP2pStreams[streamId >> 6] & (1UL << (streamId & 63))) != 0;

    /// <summary>A config-space write of <paramref name="length"/> bytes at <paramref name="offset"/>.
    /// A write touching a locked register while LOCKED/RUN moves the TDI to ERROR; returns whether it did.</summary>
    public bool ConfigWrite(int offset, int length)
    {
        if (State is not (TdiState.ConfigLocked or TdiState.Run) || length <= 0)
            return false;
        bool locked = false;
        foreach (var (start, end) in LockedRegisters)
            locked |= offset < end && offset + length > start;
        if (Layout.Msix is { } m && LockParameters is { } p && (p.Flags & LockInterfaceFlags.LockMsix) != 0)
            locked |= offset < m.CapabilityOffset + 4 && offset + length > m.CapabilityOffset + 2;
        if (locked)
            EnterError(TdiStateChangeCause.ConfigWrite);
        return locked;
    }

    /// <summary>The host moves BAR <paramref name="barIndex"/> to <paramref name="newAddress"/>. Allowed while
    /// UNLOCKED (the next report shows it); while LOCKED/RUN the TDI goes to ERROR.</summary>
    public void ChangeBar(int barIndex, ulong newAddress)
    {
        barAddresses[SlotOf(barIndex)] = newAddress;
        if (State is TdiState.ConfigLocked or TdiState.Run)
            EnterError(TdiStateChangeCause.BarChange);
    }

    /// <summary>A function-level reset of this function. While LOCKED/RUN the TDI goes to ERROR;
    /// a PF reset does the same to its VFs (their VF Enable is cleared).</summary>
    public void FunctionLevelReset()
    {
        if (State is TdiState.ConfigLocked or TdiState.Run)
            EnterError(TdiStateChangeCause.FunctionLevelReset);
        if (!IsVirtualFunction)
            dsm.ResetVirtualFunctions();
    }

    internal void ResetAsVirtualFunction()
    {
        if (State is TdiState.ConfigLocked or TdiState.Run)
            EnterError(TdiStateChangeCause.FunctionLevelReset);
    }

    internal bool ReportFits(ulong reportingOffset) => layout.FitsWithOffset(barAddresses, reportingOffset);

    /// <summary>Commits a LOCK: records the parameters and nonce, builds the report. Validation is the caller's.</summary>
    internal void Lock(in LockInterfaceParameters p, ReadOnlySpan<byte> nonce, InterfaceInfo info, ReadOnlySpan<byte> deviceSpecificInfo)
    {
        nonce.CopyTo(this.nonce);
        LockParameters = p;
        ReportLength = layout.Write(report, barAddresses, p, info, MsixMessageControl, deviceSpecificInfo);
        SetState(TdiState.ConfigLocked, TdiStateChangeCause.LockInterface);
    }

    internal bool NonceMatches(ReadOnlySpan<byte> nonce) => CryptographicOperations.FixedTimeEquals(nonce, this.nonce);

    internal void Start()
    {
        CryptographicOperations.ZeroMemory(nonce);
        SetState(TdiState.Run, TdiStateChangeCause.StartInterface);
    }

    internal void Stop()
    {
        CryptographicOperations.ZeroMemory(nonce);
        Array.Clear(boundP2pStreams);
        LockParameters = null;
        ReportLength = 0;
        if (State != TdiState.ConfigUnlocked)
            SetState(TdiState.ConfigUnlocked, TdiStateChangeCause.StopInterface);
    }

    internal void BindP2p(byte streamId) => boundP2pStreams[streamId >> 6] |= 1UL << (streamId & 63);
    internal void UnbindP2p(byte streamId) => boundP2pStreams[streamId >> 6] &= ~(1UL << (streamId & 63));

    /// <summary>Finds the reported range equal to <paramref name="range"/> except for attributes; -1 if none.</summary>
    internal int FindReportedRange(in MmioRange range)
    {
        if (!InterfaceReport.TryRead(Report, out var report))
            return -1;
        for (int i = 0; i < report.RangeCount; i++)
        {
            var r = report.GetRange(i);
            if (r.FirstPage == range.FirstPage && r.NumberOfPages == range.NumberOfPages && r.RangeId == range.RangeId)
                return i;
        }
        return -1;
    }

    internal MmioRange GetReportedRange(int index) => MmioRange.Read(report.AsSpan(InterfaceReport.FixedSize + index * MmioRange.Size, MmioRange.Size));

    internal void SetReportedRange(int index, in MmioRange range) => InterfaceReport.WriteRange(report, index, range);

    private void EnterError(TdiStateChangeCause cause)
    {
        CryptographicOperations.ZeroMemory(nonce);
        SetState(TdiState.Error, cause);
    }

    private void SetState(TdiState to, TdiStateChangeCause cause)
    {
        var from = State;
        State = to;
        dsm.StateChanged?.Invoke(new TdiStateChange(FunctionId, from, to, cause));
    }

    private int SlotOf(int barIndex)
    {
        for (int i = 0; i < Layout.Bars.Count; i++)
            if (Layout.Bars[i].Index == barIndex)
                return i;
        throw new ArgumentOutOfRangeException(nameof(barIndex), $"function {FunctionId} has no BAR {barIndex}");
    }

    public override string ToString() => $"TDI {FunctionId} {State}";
}
