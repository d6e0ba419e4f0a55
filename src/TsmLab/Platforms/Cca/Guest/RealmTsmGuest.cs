using System.Buffers.Binary;
using System.Security.Cryptography;
using TsmLab.Platforms.Cca.Abi;
using TsmLab.Platforms.Cca.Kvm;
using TsmLab.Tdisp.Wire;
using TsmLab.Vmm;

namespace TsmLab.Platforms.Cca.Guest;

/// <summary>
/// The realm guest's TSM driver for one assigned device (Arm CCA guest RFC v3 [A3]). It reaches
/// the host only by RSI_HOST_CALL carrying RHI calls (handling INCOMPLETE with CONTINUE and
/// retrying BUSY) and the RMM by RSI calls. <see cref="Lock"/>: SET_TDI_STATE(LOCKED),
/// GET_INTERFACE_REPORT, GET_MEASUREMENTS with a fresh nonce, OBJECT_SIZE/READ of CERT, VCA,
/// REPORT and MEAS, RSI_VDEV_GET_INFO and the digest checks; <see cref="Accept"/>:
/// VALIDATE_MAPPING per TEE range, SET_TDI_STATE(RUN), DMA_ENABLE; <see cref="Unlock"/>:
/// DMA_DISABLE, SET_TDI_STATE(UNLOCKED); <see cref="RefreshEvidence"/>: new measurements with a
/// fresh nonce. A device whose evidence does not match is refused (and unlocked).
/// </summary>
public sealed class RealmTsmGuest(RealmVcpu cpu, GuestRam ram, ulong vdevId, RealmGuestLayout? layout = null) : ITsmGuest
{
    private readonly RealmGuestLayout at = layout ?? new RealmGuestLayout();
    private readonly byte[] measNonce = new byte[Rhi.NonceSize];

    public ulong VdevId => vdevId;
    public int MaxBusyRetries { get; set; } = 16;
    public int MaxContinues { get; set; } = 64;
    /// <summary>BUSY answers retried and CONTINUE calls made, over the driver's life.</summary>
    public int BusyRetries { get; private set; }
    public int Continues { get; private set; }
    /// <summary>Why the last step failed, or null.</summary>
    public string? Failure { get; private set; }
    /// <summary>The last RHI status a failing host call answered.</summary>
    public RhiStatus? LastStatus { get; private set; }
    /// <summary>The evidence accepted by the last successful lock or refresh.</summary>
    public DeviceEvidence? Evidence { get; private set; }
    public bool DmaEnabled { get; private set; }

    /// <summary>DA_FEATURES must offer the base set b0|b1|b3|b4|b5, else the guest registers no TSM.</summary>
    public bool Probe()
    {
        var r = HostCall(Rhi.DaFeatures);
        if (r.X0 == Rhi.NotSupported || (r.X0 & Rhi.BaseFeatures) != Rhi.BaseFeatures) return Fail("host lacks the base DA features");
        return true;
    }

    /// <summary>Lock and check the evidence; on a mismatch the device is refused and unlocked.</summary>
    public bool Lock()
    {
        Failure = null;
        if (!Probe()) return false;
        if (!LongCall(Rhi.DaVdevSetTdiState, Rhi.TdiConfigLocked)) return false;
        if (!LongCall(Rhi.DaVdevGetInterfaceReport) || !Measure() || !FetchAndCheck())
        {
            string? why = Failure;
            LongCall(Rhi.DaVdevSetTdiState, Rhi.TdiConfigUnlocked);
            Failure = why;
            return false;
        }
        return true;
    }

    /// <summary>Validate every TEE MMIO range, RUN, enable DMA.</summary>
    public bool Accept() => ValidateAndRun() && EnableDma();

    /// <summary>Validate every TEE MMIO range, then SET_TDI_STATE(RUN).</summary>
    public bool ValidateAndRun()
    {
        Failure = null;
        if (Evidence?.ParsedReport is not { } report) return Fail("not locked");
        ulong ipa = at.MmioBase;
        foreach (var r in report.Ranges)
        {
            ulong size = (ulong)r.NumberOfPages * MmioRange.PageSize;
            if ((r.Attributes & MmioRangeAttributes.IsNonTeeMem) == 0 && !ValidateMapping(ipa, ipa + size, r.FirstPage)) return false;
            ipa += size;
        }
        return LongCall(Rhi.DaVdevSetTdiState, Rhi.TdiRun);
    }

    /// <summary>RSI_VDEV_DMA_ENABLE with the nonces of the evidence the guest accepted.</summary>
    public bool EnableDma()
    {
        Failure = null;
        if (Evidence is not { } e) return Fail("not locked");
        var rsi = Rsi(Abi.Rsi.VdevDmaEnable, vdevId, 0, 0, e.LockNonce, e.MeasNonce, e.ReportNonce);
        if (rsi[0] != (ulong)RsiStatus.Success) return FailRsi("DMA_ENABLE", rsi[0]);
        DmaEnabled = true;
        return true;
    }

    /// <summary>DMA off, then SET_TDI_STATE(UNLOCKED). (RIPAS→EMPTY per range is not modelled.)</summary>
    public bool Unlock()
    {
        Failure = null;
        var rsi = Rsi(Abi.Rsi.VdevDmaDisable, vdevId);
        if (rsi[0] != (ulong)RsiStatus.Success) return FailRsi("DMA_DISABLE", rsi[0]);
        DmaEnabled = false;
        if (!LongCall(Rhi.DaVdevSetTdiState, Rhi.TdiConfigUnlocked)) return false;
        Evidence = null;
        return true;
    }

    /// <summary>New measurements with a fresh nonce, fetched and checked again.</summary>
    public bool RefreshEvidence()
    {
        Failure = null;
        return Measure() && FetchAndCheck();
    }

    // ---- steps ----

    private bool Measure()
    {
        RandomNumberGenerator.Fill(measNonce);
        Span<byte> p = stackalloc byte[Rhi.MeasParamsSize];
        p.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(p, 1); // RAW, as the guest sends [A3]
        measNonce.CopyTo(p[Rhi.MeasParamsNonce..]);
        ram.Write(at.MeasParamsIpa, p);
        return LongCall(Rhi.DaVdevGetMeasurements, at.MeasParamsIpa);
    }

    private bool FetchAndCheck()
    {
        var cert = Fetch(Rhi.ObjCertificate);
        var vca = cert is null ? null : Fetch(Rhi.ObjVca);
        var report = vca is null ? null : Fetch(Rhi.ObjInterfaceReport);
        var meas = report is null ? null : Fetch(Rhi.ObjMeasurement);
        if (meas is null) return false;
        var rsi = Rsi(Abi.Rsi.VdevGetInfo, vdevId, at.InfoIpa);
        if (rsi[0] != (ulong)RsiStatus.Success) return FailRsi("VDEV_GET_INFO", rsi[0]);
        var info = new byte[Abi.Rsi.InfoSize];
        ram.Read(at.InfoIpa, info);
        var e = new DeviceEvidence { Certificate = cert!, Vca = vca!, Report = report!, Measurements = meas, Info = info };
        if (e.Check(measNonce) is { } mismatch) return Fail("device refused: " + mismatch);
        Evidence = e;
        return true;
    }

    /// <summary>OBJECT_SIZE, then OBJECT_READ through the shared buffer, offset by offset.</summary>
    private byte[]? Fetch(ulong type)
    {
        var s = HostCall(Rhi.DaObjectSize, vdevId, type);
        if (s.X0 != (ulong)RhiStatus.Success) return FailNull($"OBJECT_SIZE({type})", s.X0);
        if (s.X1 > Rhi.MaxObjectSize) { Fail("object too large"); return null; }
        var obj = new byte[s.X1];
        ulong offset = 0;
        while (offset < (ulong)obj.Length)
        {
            var r = HostCall(Rhi.DaObjectRead, vdevId, type, at.SharedBufferIpa, at.SharedBufferSize, offset);
            if (r.X0 != (ulong)RhiStatus.Success) return FailNull($"OBJECT_READ({type})", r.X0);
            if (r.X1 == 0 || r.X1 > at.SharedBufferSize || offset + r.X1 > (ulong)obj.Length) { Fail("OBJECT_READ returned a bad length"); return null; }
            ram.Read(at.SharedBufferIpa, obj.AsSpan((int)offset, (int)r.X1));
            offset += r.X1;
        }
        return obj;
    }

    private bool ValidateMapping(ulong ipa, ulong top, ulong pa)
    {
        var e = Evidence!;
        while (ipa < top)
        {
            var r = Rsi(Abi.Rsi.VdevValidateMapping, vdevId, ipa, top, pa, 0, e.LockNonce, e.MeasNonce, e.ReportNonce);
            if (r[0] != (ulong)RsiStatus.Success) return FailRsi("VALIDATE_MAPPING", r[0]);
            if (r[2] != Abi.Rsi.ResponseAccept || r[1] <= ipa || r[1] > top) return Fail($"VALIDATE_MAPPING rejected 0x{ipa:x}");
            pa += r[1] - ipa;
            ipa = r[1];
        }
        return true;
    }

    /// <summary>A call that may answer INCOMPLETE (CONTINUE with the cookie until done) or BUSY (retry the original call).</summary>
    private bool LongCall(ulong fid, ulong arg = 0)
    {
        for (int attempt = 0; ; attempt++)
        {
            var r = HostCall(fid, vdevId, arg);
            if (r.X0 == (ulong)RhiStatus.Busy)
            {
                if (attempt >= MaxBusyRetries) return Fail("host stayed BUSY", r.X0);
                BusyRetries++;
                continue;
            }
            for (int n = 0; r.X0 == (ulong)RhiStatus.Incomplete; n++)
            {
                if (n >= MaxContinues) return Fail("operation never completed", r.X0);
                Continues++;
                r = HostCall(Rhi.DaVdevContinue, vdevId, r.X1);
            }
            return r.X0 == (ulong)RhiStatus.Success || Fail($"RHI 0x{fid:x}: {(RhiStatus)r.X0}", r.X0);
        }
    }

    /// <summary>One RSI_HOST_CALL carrying an RHI call (x0..x5); returns the answered x0 and x1.</summary>
    internal (ulong X0, ulong X1) HostCall(ulong fid, ulong x1 = 0, ulong x2 = 0, ulong x3 = 0, ulong x4 = 0, ulong x5 = 0)
    {
        Span<byte> s = stackalloc byte[Abi.Rsi.HostCallSize];
        s.Clear();
        Span<ulong> g = [fid, x1, x2, x3, x4, x5];
        for (int i = 0; i < g.Length; i++) BinaryPrimitives.WriteUInt64LittleEndian(s[(Abi.Rsi.HostCallGprs + 8 * i)..], g[i]);
        ram.Write(at.HostCallIpa, s);
        var rsi = Rsi(Abi.Rsi.HostCall, at.HostCallIpa);
        if (rsi[0] != (ulong)RsiStatus.Success) return (Rhi.NotSupported, 0);
        ram.Read(at.HostCallIpa, s);
        return (BinaryPrimitives.ReadUInt64LittleEndian(s[Abi.Rsi.HostCallGprs..]), BinaryPrimitives.ReadUInt64LittleEndian(s[(Abi.Rsi.HostCallGprs + 8)..]));
    }

    /// <summary>One RSI call; returns x0..x8 after it.</summary>
    internal ulong[] Rsi(ulong fid, params ulong[] args)
    {
        var regs = new ulong[9];
        regs[0] = fid;
        args.CopyTo(regs, 1);
        cpu.Smc(regs);
        return regs;
    }

    private bool Fail(string why, ulong? status = null)
    {
        Failure = why;
        LastStatus = status is { } s ? (RhiStatus)s : null;
        refusedBy = status is null ? RefusingLayer.Guest : RefusingLayer.Host;
        refusalCode = (long)(status ?? 0);
        return false;
    }

    /// <summary>An RSI call into the RMM answered a failure status.</summary>
    private bool FailRsi(string call, ulong status)
    {
        Fail($"{call}: {(RsiStatus)status}");
        refusedBy = RefusingLayer.Firmware;
        refusalCode = (long)status;
        return false;
    }

    // ---- the shape every platform's guest shares (ITsmGuest) ----

    private RefusingLayer refusedBy;
    private long refusalCode;

    private GuestStepResult Result(GuestStep step, bool ok, string success) =>
        ok ? GuestStepResult.Success(step, success) : GuestStepResult.Refused(step, refusedBy, refusalCode, Failure ?? "refused");

    GuestStepResult ITsmGuest.Lock() => Result(GuestStep.Lock, Lock(), "evidence matches the RSI_VDEV_GET_INFO digests");
    GuestStepResult ITsmGuest.Accept() => Result(GuestStep.Accept, ValidateAndRun(), "validated, RUN");
    GuestStepResult ITsmGuest.EnableDma() => Result(GuestStep.EnableDma, EnableDma(), "DMA enabled");
    GuestStepResult ITsmGuest.Unlock() => Result(GuestStep.Unlock, Unlock(), "unlocked");
    GuestStepResult ITsmGuest.RefreshEvidence() => Result(GuestStep.RefreshEvidence, RefreshEvidence(), "fresh measurements match");
    bool ITsmGuest.EvidenceVerified => Evidence is not null;

    private byte[]? FailNull(string why, ulong status)
    {
        Fail($"{why}: {(RhiStatus)status}", status);
        return null;
    }
}
