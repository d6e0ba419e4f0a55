using TsmLab.Abi;
using TsmLab.Platforms;
using TsmLab.Platforms.Tdx;
using TsmLab.Platforms.Tdx.Abi;
using TsmLab.Platforms.Tdx.Kvm;

namespace TsmLab.Tests.Platforms.Tdx;

/// <summary>The status and errno rows of docs/tdx.md that the end-to-end and module tests do not already show.</summary>
public sealed class TdxStatusTests
{
    private const ulong Spdm = 2;

    private static TdxRegisters Seamcall(TdxSession s, ushort leaf, ulong rcx = 0, ulong rdx = 0, ulong r8 = 0, ulong r9 = 0, ulong r10 = 0)
    {
        var r = new TdxRegisters { Rax = TdxRegisters.LeafRax(leaf), Rcx = rcx, Rdx = rdx, R8 = r8, R9 = r9, R10 = r10 };
        s.Module.Seamcall(ref r);
        return r;
    }

    private static ulong Tdr(TdxSession s) => TdRegistry.Of(s.Kernel).TdrFor(s.Kernel.Vms.Single());

    [Fact]
    public void ExtInit_Twice_IsConnectInvalidState()
    {
        var s = TdxSession.Start();
        Assert.Equal(TdxStatus.ConnectInvalidState, Seamcall(s, TdxLeaves.ExtInit).Rax);
    }

    [Fact]
    public void DevifRemove_WithPrivateMmioMapped_IsHasMappedMmio_AndBlockWithATdi_IsHasDeviceInterfaces()
    {
        var s = TdxSession.Start();
        Assert.True(s.Guest.Lock().Ok); // the VMM's BIND mapped the TEE ranges
        ulong rsp = s.Kernel.Machine.Memory.Allocate(), req = s.Kernel.Machine.Memory.Allocate();
        Assert.Equal(TdxStatus.DevifHasMappedMmio, Seamcall(s, TdxLeaves.DevifRemove, Spdm, s.HostFuncId, Tdr(s), rsp, req).Rax);
        Assert.Equal(TdxStatus.IdeStreamHasDeviceInterfaces, Seamcall(s, TdxLeaves.IdeStreamBlock, Spdm, 0).Rax);
    }

    [Fact]
    public void DevifRemove_WithTrustedDmaEntry_IsHasMappedDma()
    {
        var s = TdxSession.Start();
        Assert.True(s.Assignment.Bind()); // bind without VALIDATE_MMIO: DMAR.ADD only
        ulong rsp = s.Kernel.Machine.Memory.Allocate(), req = s.Kernel.Machine.Memory.Allocate();
        Assert.Equal(TdxStatus.DevifHasMappedDma, Seamcall(s, TdxLeaves.DevifRemove, Spdm, s.HostFuncId, Tdr(s), rsp, req).Rax);
        Assert.Equal(TdxStatus.EptWalkFailed, Seamcall(s, TdxLeaves.MmioBlock, 0xE000_0000, Tdr(s)).Rax);
    }

    [Fact]
    public void Bind_OfATdNotOptedIn_IsEio_TheModuleRefusesTheTdr()
    {
        var s = TdxSession.Start(configFlags: 0);
        var log = new TsmLab.Tracing.TraceLog();
        s.Module.AttachTrace(log);
        Assert.False(s.Assignment.Bind());
        Assert.Equal(Errno.EIO.Neg(), s.Assignment.Steps[^1].Result);
        Assert.Contains(log.Events, e => e.Name == "SEAMCALL TDH.DEVIF.CREATE" && e.Result == "TDX_OPERAND_INVALID(0x80)");
    }

    [Fact]
    public void Tdcalls_Statuses()
    {
        var s = TdxSession.Start();
        var g = s.Guest;
        var r = new TdxRegisters { Rdx = 0x1234 };
        Assert.Equal(TdxStatus.MetadataFieldNotReadable, g.Tdcall(TdxLeaves.VmRead, ref r));
        Assert.Equal(TdxStatus.DevifInvalid, g.ReadField(TdiReadField.TdispState, out _)); // not bound yet
        Assert.True(g.Lock().Ok);
        Assert.Equal(TdxStatus.OperandInvalid, g.ReadField(9, out _));
        r = new TdxRegisters { Rcx = g.FuncId, Rdx = TdiReadField.TdispState, R12 = 1 };
        Assert.Equal(TdxStatus.OperandInvalid, g.Tdcall(TdxLeaves.TdiRead, ref r));
        r = new TdxRegisters { Rcx = g.FuncId, Rdx = TdiReadField.ReportHash, R8 = 0x30010 };
        Assert.Equal(TdxStatus.OperandInvalid, g.Tdcall(TdxLeaves.TdiRead, ref r));
        Assert.True(g.Accept().Ok);
        r = new TdxRegisters { Rcx = g.FuncId, Rdx = 1 };
        Assert.Equal(TdxStatus.OperandInvalid, g.Tdcall(TdxLeaves.DmarAccept, ref r));
        r = new TdxRegisters();
        Assert.Equal(TdxStatus.OperandInvalid, g.Tdcall(99, ref r));
        var unknown = new TdxRegisters { Rax = TdxRegisters.LeafRax(TdxLeaves.VmRead), Rdx = TdcsField.ConfigFlags };
        s.Module.Tdcall(0xDEAD_0000, ref unknown, s.Vcpu);
        Assert.Equal(TdxStatus.NonRecoverableTd, unknown.Rax);
    }

    [Fact]
    public void GuestRequests_Errnos()
    {
        var s = TdxSession.Start();
        Assert.True(s.Guest.Lock().Ok);
        var c = s.Assignment.Calls;
        int fd = s.Assignment.IommuFd;
        uint v = s.Assignment.VdeviceId;
        Assert.Equal(Errno.EINVAL.Neg(), c.TsmRequest(fd, v, TsmReqOp.SetTdiState, TvmArch.Tdx, BitConverter.GetBytes(1u), 0, out _, out _));
        Assert.Equal(Errno.EINVAL.Neg(), c.TsmRequest(fd, v, TsmReqOp.TdxReadEvidence, TvmArch.Tdx, [0, 0, 0, 0, 1, 0, 0, 0], 4096, out _, out _));
        Assert.Equal(Errno.EINVAL.Neg(), c.TsmRequest(fd, v, TsmReqOp.TdxReadEvidence, TvmArch.Tdx, [7, 0, 0, 0, 0, 0, 0, 0], 4096, out _, out _));
        Assert.Equal(Errno.EINVAL.Neg(), c.TsmRequest(fd, v, TsmReqOp.TdxReadEvidence, TvmArch.Tdx, new byte[8], 16, out _, out _)); // report does not fit
        Assert.Equal(Errno.EINVAL.Neg(), c.TsmRequest(fd, v, TsmReqOp.ValidateMmio, TvmArch.Tdx, new byte[24], 0, out _, out _)); // top <= base
        long devInfo = c.TsmRequest(fd, v, TsmReqOp.TdxReadEvidence, TvmArch.Tdx, [1, 0, 0, 0, 0, 0, 0, 0], 16384, out var info, out _);
        Assert.True(devInfo >= 0 && info.Length > 1000);
    }

    [Fact]
    public void Tdcm_UnknownOperationAndUnknownDevice_AnswerInThePage()
    {
        var s = TdxSession.Start();
        var t = s.Guest.Tdcm(GuestStep.Lock, 77, out _);
        Assert.False(t.Ok);
        Assert.Equal(RefusingLayer.Host, t.RefusedBy);
        Assert.Equal(Errno.EOPNOTSUPP.Neg(), t.Code);
        var other = new TsmLab.Platforms.Tdx.Guest.TdxTsmGuest(s.Ram, s.Vcpu, 0x20, new Dictionary<int, ulong>());
        t = other.Tdcm(GuestStep.Lock, Tdcm.OpCheckTeeioSupp, out _);
        Assert.Equal(Errno.ENODEV.Neg(), t.Code);
    }
}

public sealed class TdxLifecycleStatusTests
{
    private const ulong Spdm = 2;

    private static TdxRegisters Seamcall(TsmLab.Platforms.Tdx.Firmware.TdxModule m, ushort leaf, ulong rcx = 0, ulong rdx = 0, ulong r8 = 0, ulong r9 = 0, ulong r10 = 0)
    {
        var r = new TdxRegisters { Rax = TdxRegisters.LeafRax(leaf), Rcx = rcx, Rdx = rdx, R8 = r8, R9 = r9, R10 = r10 };
        m.Seamcall(ref r);
        return r;
    }

    [Fact]
    public void ExtensionLeaf_BeforeExtInit_IsConnectInvalidState_AndMemAddAfterInit_Too()
    {
        var bare = new TsmLab.Platforms.Tdx.Firmware.TdxModule(new TsmLab.Hardware.PhysicalMemory(0x1_0000_0000), TsmLab.Platforms.Tdx.HostDriver.VtdIommu.DefaultDrhds);
        Assert.Equal(TdxStatus.ConnectInvalidState, Seamcall(bare, TdxLeaves.SpdmConnect, 1).Rax);
        var s = TdxSession.Start();
        Assert.Equal(TdxStatus.ConnectInvalidState, Seamcall(s.Module, TdxLeaves.ExtMemAdd, HpaArray.Encode(s.Kernel.Machine.Memory.Allocate(), 1)).Rax);
    }

    [Fact]
    public void ConnectTwice_IsSpdmInvalidState_AndUnmapBeforeBlock_IsEptEntryStateIncorrect()
    {
        var s = TdxSession.Start();
        var mem = s.Kernel.Machine.Memory;
        ulong conf = mem.Allocate(), rsp = mem.Allocate(), req = mem.Allocate();
        Assert.Equal(TdxStatus.SpdmInvalidState, Seamcall(s.Module, TdxLeaves.SpdmConnect, Spdm, conf, rsp, req, HpaArray.Encode(mem.Allocate(), 1)).Rax);
        Assert.True(s.Guest.Lock().Ok);
        ulong gpa = s.Guest.GuestAddressOf(s.Guest.Ranges[0]);
        ulong tdr = TdRegistry.Of(s.Kernel).TdrFor(s.Kernel.Vms.Single());
        Assert.Equal(TdxStatus.EptEntryStateIncorrect, Seamcall(s.Module, TdxLeaves.MmioUnmap, gpa, tdr).Rax);
        Assert.Equal(TdxStatus.Success, Seamcall(s.Module, TdxLeaves.MmioBlock, gpa, tdr).Rax);
        Assert.Equal(TdxStatus.Success, Seamcall(s.Module, TdxLeaves.MmioUnmap, gpa, tdr).Rax);
    }

    [Fact]
    public void DeviceWithoutSpdm_ConnectIsSpdmAuthFailed_AndBindOfTheUnconnectedDeviceIsEinval()
    {
        var device = TsmLab.Tdisp.Device.TdispPciDevice.CreateDefault();
        var config = TdxHost.Configuration(device) with { Connects = [] };
        // A mailbox with no SPDM responder behind it: GET_VERSION is answered ERROR.
        config = config with { Functions = [config.Functions[0] with { Doe = TsmLab.Tdisp.Device.DoeMailbox.For(device.Dsm) }, .. config.Functions.Skip(1)] };
        var s = TdxSession.Start(config);
        Assert.True(s.Prepared);
        var log = new TsmLab.Tracing.TraceLog();
        s.Module.AttachTrace(log);
        Assert.Equal(Errno.EIO.Neg(), s.Tsm.Connect(s.Function));
        Assert.Contains(log.Events, e => e.Name == "SEAMCALL TDH.SPDM.CONNECT" && e.Result == "TDX_SPDM_AUTH_FAILED");
        Assert.False(s.Assignment.Bind());
        Assert.Equal(Errno.EINVAL.Neg(), s.Assignment.Steps[^1].Result);
    }

    [Fact]
    public void GuestRequests_WrongLengths_AreEinval()
    {
        var s = TdxSession.Start();
        Assert.True(s.Guest.Lock().Ok);
        var c = s.Assignment.Calls;
        int fd = s.Assignment.IommuFd;
        uint v = s.Assignment.VdeviceId;
        Assert.Equal(Errno.EINVAL.Neg(), c.TsmRequest(fd, v, TsmReqOp.ValidateMmio, TvmArch.Tdx, new byte[16], 0, out _, out _));
        Assert.Equal(Errno.EINVAL.Neg(), c.TsmRequest(fd, v, TsmReqOp.SetTdiState, TvmArch.Tdx, new byte[8], 0, out _, out _));
        Assert.Equal(Errno.EINVAL.Neg(), c.TsmRequest(fd, v, TsmReqOp.TdxReadEvidence, TvmArch.Tdx, new byte[4], 4096, out _, out _));
    }
}

public sealed class TdxStateStatusTests
{
    private const ulong Spdm = 2;

    [Fact]
    public void KmSetup_WithKeysActive_IsSpdmInvalidState()
    {
        var s = TdxSession.Start();
        var mem = s.Kernel.Machine.Memory;
        var r = new TdxRegisters { Rax = TdxRegisters.LeafRax(TdxLeaves.IdeStreamKm), Rcx = Spdm, Rdx = 0, R8 = (ulong)IdeKmOp.Setup, R9 = mem.Allocate(), R10 = mem.Allocate() };
        s.Module.Seamcall(ref r);
        Assert.Equal(TdxStatus.SpdmInvalidState, r.Rax);
    }

    [Fact]
    public void AcceptAndStart_AfterRun_AreDevifTdispInvalidState()
    {
        var s = TdxSession.Start();
        Assert.True(s.Guest.Lock().Ok);
        Assert.True(s.Guest.Accept().Ok);
        var range = s.Guest.Ranges[0];
        Assert.Equal(TdxStatus.DevifTdispInvalidState, s.Guest.AcceptMmio(s.Guest.GuestAddressOf(range), 0, 0, 1));
        Assert.Equal(TdxStatus.Success, s.Guest.ReadField(TdiReadField.BindSessionId, out ulong session));
        Assert.Equal(TdxStatus.DevifTdispInvalidState, s.Guest.StartTdi(session));
    }

    [Fact]
    public void DevifCreate_OfATdiTheDeviceHoldsLocked_IsDevifTdispInvalidState()
    {
        var s = TdxSession.Start();
        // Someone else holds the TDI locked (the device's own TDISP responder, reached directly: no host path can).
        var other = new TsmLab.Tdisp.Requester.TdispRequester(new TsmLab.Tdisp.Requester.DirectTransport(TdxHost.DeviceOf(s.Kernel)!.Dsm));
        var fid = TsmLab.Tdisp.Wire.TdiFunctionId.FromRid(s.Function.Address.RequesterId);
        Assert.True(other.LockInterface(fid, new TsmLab.Tdisp.Wire.LockInterfaceParameters(TsmLab.Tdisp.Wire.LockInterfaceFlags.NoFwUpdate, 0, 0)).IsSuccess);
        var log = new TsmLab.Tracing.TraceLog();
        s.Module.AttachTrace(log);
        Assert.False(s.Assignment.Bind());
        Assert.Equal(Errno.EIO.Neg(), s.Assignment.Steps[^1].Result);
        Assert.Contains(log.Events, e => e.Name == "SEAMCALL TDH.DEVIF.CREATE" && e.Result == "TDX_DEVIF_TDISP_INVALID_STATE");
    }

    [Fact]
    public void OpNamespace_Op8_IsTdxOnly()
    {
        Assert.True(TsmOpNamespace.IsValidFor((uint)TsmReqOp.TdxReadEvidence, TvmArch.Tdx));
        Assert.False(TsmOpNamespace.IsValidFor((uint)TsmReqOp.TdxReadEvidence, TvmArch.Cca));
        Assert.False(TsmOpNamespace.IsValidFor((uint)TsmReqOp.TdxReadEvidence, TvmArch.Sev));
        Assert.Equal(TvmArch.Tdx, TsmOpNamespace.OwnerOf(TsmReqOp.TdxReadEvidence));
    }
}

public sealed class TdxVmmTests
{
    [Fact]
    public void Bind_WhoseMmioCannotBeMapped_IsUnboundAgain_TheTdSeesTheRefusal()
    {
        var s = TdxSession.Start();
        s.Vmm.Attach(TdxSession.GuestAddress.RequesterId, s.Assignment.VdeviceId, s.HostFuncId); // no BARs: no range can be placed
        var r = s.Guest.Lock();
        Assert.False(r.Ok);
        Assert.Equal(RefusingLayer.Host, r.RefusedBy);
        Assert.Equal(Errno.EINVAL.Neg(), r.Code);
        Assert.Equal(TsmLab.Tdisp.Wire.TdiState.ConfigUnlocked, s.Module.StateOf(s.HostFuncId));
        Assert.Null(s.Function.Tdi);
    }

    [Fact]
    public void ValidateMmio_FailingHalfway_LeavesNothingMapped()
    {
        var s = TdxSession.Start();
        Assert.True(s.Assignment.Bind());
        var c = s.Assignment.Calls;
        var p = new byte[24];
        // The first two pages of BAR0 are a TEE range; map page 1 alone first, then ask for both: page 0 maps, page 1 is taken (EIO).
        BitConverter.GetBytes(0xE000_1000ul).CopyTo(p, 0); BitConverter.GetBytes(0xE000_2000ul).CopyTo(p, 8); BitConverter.GetBytes(0xF000_1000ul).CopyTo(p, 16);
        Assert.Equal(0, c.TsmRequest(s.Assignment.IommuFd, s.Assignment.VdeviceId, TsmReqOp.ValidateMmio, TvmArch.Tdx, p, 0, out _, out _));
        BitConverter.GetBytes(0xE000_0000ul).CopyTo(p, 0); BitConverter.GetBytes(0xE000_2000ul).CopyTo(p, 8); BitConverter.GetBytes(0xF000_0000ul).CopyTo(p, 16);
        Assert.Equal(Errno.EIO.Neg(), c.TsmRequest(s.Assignment.IommuFd, s.Assignment.VdeviceId, TsmReqOp.ValidateMmio, TvmArch.Tdx, p, 0, out _, out ulong code));
        Assert.Equal(TdxStatus.EptEntryStateIncorrect, code);
        var r = new TdxRegisters { Rax = TdxRegisters.LeafRax(TdxLeaves.MmioBlock), Rcx = 0xE000_0000, Rdx = TdRegistry.Of(s.Kernel).TdrFor(s.Kernel.Vms.Single()) };
        s.Module.Seamcall(ref r);
        Assert.Equal(TdxStatus.EptWalkFailed, r.Rax); // page 0 was unmapped again
    }
}
