using TsmLab.Platforms;
using TsmLab.Platforms.Tdx;
using TsmLab.Platforms.Tdx.Abi;
using TsmLab.Platforms.Tdx.Vmm;
using TsmLab.Tdisp.Wire;
using TsmLab.Tracing;

namespace TsmLab.Tests.Platforms.Tdx;

public sealed class TdxEndToEndTests
{
    [Fact]
    public void TdGuest_LocksAcceptsEnablesDmaAndUnlocks_DeviceReachesRunWithTrustedDma()
    {
        var s = TdxSession.Start();
        Assert.True(s.Prepared);
        Assert.True(s.Guest.Lock().Ok);
        Assert.Equal(TdiState.ConfigLocked, s.Module.StateOf(s.HostFuncId));
        var a = s.Guest.Accept();
        Assert.True(a.Ok, a.Detail);
        Assert.Equal(TdiState.Run, s.Device.FindInterface(TdiFunctionId.FromRid(s.Function.Address.RequesterId))!.State);
        Assert.False(s.Module.TrustedDmaEnabled(s.HostFuncId));
        Assert.True(s.Guest.EnableDma().Ok);
        Assert.True(s.Module.TrustedDmaEnabled(s.HostFuncId));
        Assert.True(s.Guest.RefreshEvidence().Ok);
        Assert.True(s.Guest.Unlock().Ok);
        Assert.False(s.Module.TrustedDmaEnabled(s.HostFuncId));
        Assert.Equal(TdiState.ConfigUnlocked, s.Device.FindInterface(TdiFunctionId.FromRid(s.Function.Address.RequesterId))!.State);
    }

    [Fact]
    public void Trace_NamesSeamcallsTdcallsAndTdvmcallsWithStatuses()
    {
        var log = new TraceLog();
        var s = TdxSession.Start(onBoot: k => k.Trace = log);
        s.Guest.Lock();
        s.Guest.Accept();
        var names = log.Events.Select(e => $"{e.Name} {e.Result}").ToList();
        Assert.Contains(names, n => n == "SEAMCALL TDH.MNG.CREATE TDX_SUCCESS");
        Assert.Contains(names, n => n == "SEAMCALL TDH.DEVIF.CREATE TDX_SPDM_REQUEST");
        Assert.Contains(names, n => n == "SEAMCALL TDH.MMIO.MAP TDX_SUCCESS");
        Assert.Contains(names, n => n == "TDCALL TDG.TDI.RD TDX_SUCCESS");
        Assert.Contains(names, n => n == "TDCALL TDG.MMIO.ACCEPT TDX_INTERRUPTED_RESUMABLE");
        Assert.Contains(names, n => n == "TDG.VP.VMCALL<TDCM> BIND COMPLETED");
        Assert.Contains(names, n => n == "SEAMCALL TDH.TDI.START TDX_SUCCESS");
    }

    /// <summary>An interposed VMM that changes one byte of the TDI report it delivers.</summary>
    private sealed class TamperingVmm(Func<TdxVmm> vmm, Func<TsmLab.Vmm.GuestRam> ram, byte op, int offset, byte mask) : ITdxExitHandler
    {
        public void HandleExit(ulong kvmRunHva)
        {
            vmm().HandleExit(kvmRunHva);
            var b = new byte[Tdcm.HeaderSize];
            ram().Read(TsmLab.Platforms.Tdx.Guest.TdxTsmGuest.SharedGpa, b);
            if (b[Tdcm.Operation] != op) return;
            var one = new byte[1];
            ulong at = TsmLab.Platforms.Tdx.Guest.TdxTsmGuest.SharedGpa + (ulong)(Tdcm.Data + offset);
            ram().Read(at, one);
            one[0] ^= mask;
            ram().Write(at, one);
        }
    }

    private static TdxSession Tampered(byte op, int offset, byte mask = 0x01)
    {
        TdxSession? s = null;
        s = TdxSession.Start(interposer: new TamperingVmm(() => s!.Vmm, () => s!.Ram, op, offset, mask));
        return s;
    }

    [Fact]
    public void TamperedReport_RefusedByTheGuest_ReportHashMismatch()
    {
        var s = Tampered(Tdcm.OpGetTdiReport, 20); // inside the first MMIO range
        var r = s.Guest.Lock();
        Assert.False(r.Ok);
        Assert.Equal(RefusingLayer.Guest, r.RefusedBy);
        Assert.Contains("REPORT_HASH", r.Detail);
        Assert.False(s.Guest.EvidenceVerified);
    }

    [Fact]
    public void TamperedDeviceInfo_RefusedByTheGuest()
    {
        var s = Tampered(Tdcm.OpGetDeviceInfo, 100);
        var r = s.Guest.Lock();
        Assert.False(r.Ok);
        Assert.Equal(RefusingLayer.Guest, r.RefusedBy);
        Assert.Contains("device info", r.Detail);
    }

    [Fact]
    public void WrongHash_AReportThatParsesButWhoseRangeMoved_RefusedByTheGuest()
    {
        // Byte 17 is bits 8-15 of the first MMIO_RANGE's first_page: the report still parses, its hash is not the module's.
        var s = Tampered(Tdcm.OpGetTdiReport, 17, 0x10);
        var r = s.Guest.Lock();
        Assert.False(r.Ok);
        Assert.Equal(RefusingLayer.Guest, r.RefusedBy);
        Assert.Contains("REPORT_HASH", r.Detail);
    }

    [Fact]
    public void WrongSessionId_TdgTdiStart_RefusedByTheModule_AndTheHostCannotStart()
    {
        var s = TdxSession.Start();
        Assert.True(s.Guest.Lock().Ok);
        Assert.Equal(TdxStatus.Success, s.Guest.ReadField(TdiReadField.BindSessionId, out ulong session));
        Assert.Equal(TdxStatus.OperandInvalid, s.Guest.StartTdi(session ^ 1));
        var t = s.Guest.Tdcm(GuestStep.Accept, Tdcm.OpStartTdi, out _);
        Assert.False(t.Ok);
        Assert.Equal(RefusingLayer.Firmware, t.RefusedBy);
        Assert.Equal(TdxStatus.DevifTdispInvalidState, unchecked((ulong)t.Code));
    }

    [Fact]
    public void StaleSessionId_AfterARebind_IsRefused()
    {
        var s = TdxSession.Start();
        Assert.True(s.Guest.Lock().Ok);
        s.Guest.ReadField(TdiReadField.BindSessionId, out ulong old);
        Assert.True(s.Assignment.Unbind());
        Assert.True(s.Assignment.Bind());
        Assert.Equal(TdxStatus.OperandInvalid, s.Guest.StartTdi(old));
    }

    [Fact]
    public void RangeNotInTheReport_MmioAccept_RefusedByTheModule()
    {
        var s = TdxSession.Start();
        Assert.True(s.Guest.Lock().Ok);
        var range = s.Guest.Ranges[0];
        ulong gpa = s.Guest.GuestAddressOf(range);
        Assert.Equal(TdxStatus.OperandInvalid, s.Guest.AcceptMmio(gpa, (ulong)s.Guest.Ranges.Count, 0, 1));
        Assert.Equal(TdxStatus.MmioAcceptSizeMismatch, s.Guest.AcceptMmio(gpa, 0, 0, range.NumberOfPages + 1));
        Assert.Equal(TdxStatus.EptWalkFailed, s.Guest.AcceptMmio(gpa + 0x1000_0000, 0, 0, 1));
        Assert.Equal(TdxStatus.Success, s.Guest.AcceptMmio(gpa, 0, 0, 1));
        Assert.Equal(TdxStatus.MmioPageAlreadyAccepted, s.Guest.AcceptMmio(gpa, 0, 0, 1));
    }

    [Fact]
    public void TdNotOptedIn_LockRefusedByTheGuest_BeforeAnyTdvmcall()
    {
        var s = TdxSession.Start(configFlags: 0);
        var r = s.Guest.Lock();
        Assert.False(r.Ok);
        Assert.Equal(RefusingLayer.Guest, r.RefusedBy);
        Assert.Contains("bit 5", r.Detail);
        Assert.Equal(0, s.Vcpu.ExitCount);
    }

    [Fact]
    public void DmarAccept_BeforeRun_RefusedByTheModule()
    {
        var s = TdxSession.Start();
        Assert.True(s.Guest.Lock().Ok);
        var r = s.Guest.EnableDma();
        Assert.False(r.Ok);
        Assert.Equal(RefusingLayer.Firmware, r.RefusedBy);
        Assert.Equal(TdxStatus.DevifTdispInvalidState, unchecked((ulong)r.Code));
    }

    [Fact]
    public void UnknownTdvmcall_IsSubfuncUnsupported_AndNeverReachesTheVmm()
    {
        var s = TdxSession.Start();
        var r = new TdxRegisters { Rax = 0, R10 = 0, R11 = 0x10002 };
        s.Vcpu.Tdcall(ref r);
        Assert.Equal(TdxStatus.Success, r.Rax);
        Assert.Equal(TdvmcallStatus.SubfuncUnsupported, r.R10);
        Assert.Equal(0, s.Vcpu.ExitCount);
    }

    [Fact]
    public void TdcmBuffer_NotPageAligned_IsAlignError()
    {
        var s = TdxSession.Start();
        var r = new TdxRegisters { R11 = Tdcm.SubFunction, R12 = TdxSession.GuestAddress.RequesterId, R13 = 0x40010, R14 = 4096 };
        s.Vcpu.Tdcall(ref r);
        Assert.Equal(TdvmcallStatus.AlignError, r.R10);
        r = new TdxRegisters { R11 = Tdcm.SubFunction, R12 = TdxSession.GuestAddress.RequesterId, R13 = 0x40000, R14 = 8 };
        s.Vcpu.Tdcall(ref r);
        Assert.Equal(TdvmcallStatus.InvalidOperand, r.R10);
    }
}
