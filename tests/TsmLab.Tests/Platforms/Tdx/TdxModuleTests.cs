using TsmLab.Platforms.Tdx;
using TsmLab.Platforms.Tdx.Abi;
using TsmLab.Platforms.Tdx.Firmware;
using TsmLab.Tdisp.Device;

namespace TsmLab.Tests.Platforms.Tdx;

public sealed class TdxModuleTests
{
    /// <summary>The device's SPDM object: ids are handed out in order, and init's IOMMU.SETUP took 1.</summary>
    private const ulong Spdm = 2;

    private static TdxRegisters Call(TdxModule m, ushort leaf, ulong rcx = 0, ulong rdx = 0, ulong r8 = 0, ulong r9 = 0, ulong r10 = 0, ulong r11 = 0)
    {
        var r = new TdxRegisters { Rax = TdxRegisters.LeafRax(leaf), Rcx = rcx, Rdx = rdx, R8 = r8, R9 = r9, R10 = r10, R11 = r11 };
        m.Seamcall(ref r);
        return r;
    }

    [Fact]
    public void LeafNumbers_AreTheGen2Numbers_AndRaxCarriesLeafAndVersion()
    {
        Assert.Equal([60, 61, 128, 129, 130, 131, 132, 133, 134, 135, 142, 143, 144],
            TdxLeaves.All.Where(l => l.Kind == TdxCallKind.Seamcall && l.Provenance == LeafProvenance.ByteExact && l.Number != TdxLeaves.MngCreate).Select(l => (int)l.Number).Order());
        Assert.Equal(0x01_008Eul, TdxRegisters.LeafRax(TdxLeaves.SpdmConnect, 1));
        Assert.Equal(0x01071a2bu, TdispFuncId.Of(7, 0x1a2b));
        Assert.Equal(0x1a2bu, TdispFuncId.Of(0, 0x1a2b));
    }

    [Fact]
    public void HpaArray_EncodesPfnAndCountMinusOne()
    {
        ulong v = HpaArray.Encode(0x1_2345_6000, 3);
        Assert.Equal(0x1_2345_6000ul | (2ul << 55), v);
        Assert.Equal(3, HpaArray.Entries(v));
        Assert.False(HpaArray.IsWellFormed(v | 0x10));
    }

    [Fact]
    public void Init_SkipsTheDrhdWithoutTdxMode_AndConnectsTheDevice()
    {
        var s = TdxSession.Start();
        Assert.Equal(TdxStatus.Success, s.Tsm.InitStatus);
        Assert.Equal([0xFED9_0000ul], s.Tsm.SkippedDrhds);
        Assert.Single(s.Tsm.IommuIds);
        Assert.True(s.Tsm.RelayedObjects > 10, "CONNECT and KM(SETUP) went through the host relay");
        Assert.True(s.Module.CallCount("TDH.SPDM.CONNECT") > 1, "CONNECT was called again after each relay");
    }

    [Fact]
    public void SecondExtensionCaller_GetsOperandBusy()
    {
        var s = TdxSession.Start();
        using (s.Module.OccupyExtension())
        {
            var r = Call(s.Module, TdxLeaves.SpdmMng, Spdm, (ulong)SpdmMngOp.Heartbeat, ulong.MaxValue, 0, 0, ulong.MaxValue);
            Assert.Equal(TdxStatus.OperandBusy, r.Rax);
        }
    }

    [Fact]
    public void SpdmRequest_CarriesTheDoeObjectInTheRequestPage_UntilTheHostRelays()
    {
        var s = TdxSession.Start();
        var mem = s.Kernel.Machine.Memory;
        ulong cs = mem.Allocate(), report = mem.Allocate(), rsp = mem.Allocate(), req = mem.Allocate();
        ulong tdr = TsmLab.Platforms.Tdx.Kvm.TdRegistry.Of(s.Kernel).TdrFor(s.Kernel.Vms.Single());
        var r = new TdxRegisters { Rax = TdxRegisters.LeafRax(TdxLeaves.DevifCreate), Rcx = Spdm, Rdx = TdispFuncId.Of(s.Function.Address), R8 = tdr,
            R9 = HpaArray.Encode(cs, 1), R10 = rsp, R11 = req, R12 = 0, R13 = HpaArray.Encode(report, 1) };
        var template = r;
        s.Module.Seamcall(ref r);
        Assert.Equal(TdxStatus.SpdmRequest, r.Rax);
        var page = mem.At(req, (int)r.Rcx);
        Assert.True(TsmLab.Tdisp.Wire.DoeHeader.TryRead(page, out var h));
        Assert.Equal((int)r.Rcx, h.LengthBytes);
        // While it waits for the relay, another extension operation is busy.
        var other = Call(s.Module, TdxLeaves.SpdmMng, Spdm, (ulong)SpdmMngOp.Heartbeat, ulong.MaxValue, rsp, req, ulong.MaxValue);
        Assert.Equal(TdxStatus.OperandBusy, other.Rax);
        // An empty answer ends the operation with an error and frees the extension.
        TsmLab.Tdisp.Wire.DoeHeader.Write(mem.At(rsp, 4096), TsmLab.Tdisp.Wire.DoeObjectType.Spdm, 0);
        r = template;
        s.Module.Seamcall(ref r);
        Assert.Equal(TdxStatus.DevifTdispErrorState, r.Rax);
        // The extension is free again: HEARTBEAT, a real message in the session now, asks the host to relay it.
        other = Call(s.Module, TdxLeaves.SpdmMng, Spdm, (ulong)SpdmMngOp.Heartbeat, ulong.MaxValue, rsp, req, ulong.MaxValue);
        Assert.Equal(TdxStatus.SpdmRequest, other.Rax);
        Assert.True(TsmLab.Tdisp.Wire.DoeHeader.TryRead(mem.At(req, (int)other.Rcx), out var hb));
        Assert.Equal(TsmLab.Tdisp.Wire.DoeObjectType.SecuredSpdm, hb.Type);
    }

    [Fact]
    public void SessionKeyRefresh_IsAnsweredWithKeyUpdate_AndTheCallCompletes()
    {
        var options = new TdxModuleOptions { KeyUpdateInterval = 4 };
        var s = TdxSession.Start(TdxHost.Configuration(TdispPciDevice.CreateDefault(), options));
        Assert.True(s.Prepared);
        Assert.Equal(0, s.Module.KeyUpdates(Spdm));
        Assert.True(s.Guest.Lock().Ok); // DEVIF.CREATE after KM(SETUP)'s 12 messages: refresh demanded, KEY_UPDATE, call again
        Assert.True(s.Module.KeyUpdates(Spdm) >= 1);
        Assert.True(s.Module.CallCount("TDH.SPDM.MNG") >= 1);
    }

    [Fact]
    public void SpdmLifecycle_StatusesForWrongOrder()
    {
        var s = TdxSession.Start();
        var m = s.Module;
        var mem = s.Kernel.Machine.Memory;
        Assert.Equal(TdxStatus.SpdmEntryNotPresent, Call(m, TdxLeaves.SpdmDelete, 99, 0).Rax);
        Assert.Equal(TdxStatus.SpdmInvalidState, Call(m, TdxLeaves.SpdmDelete, Spdm, 0).Rax);               // still connected
        ulong rsp = mem.Allocate(), req = mem.Allocate();
        Assert.Equal(TdxStatus.SpdmHasActiveIdeStreams, Call(m, TdxLeaves.SpdmDisconnect, Spdm, rsp, req).Rax);
        Assert.Equal(TdxStatus.IdeStreamNotBlocked, Call(m, TdxLeaves.IdeStreamDelete, Spdm, 0, 0).Rax);
        Assert.Equal(TdxStatus.IdeStreamNotFree, Enumerable.Range(0, 4).Select(_ => Call(m, TdxLeaves.IdeStreamCreate, IdeStreamInfo.Of(0, true), Spdm, HpaArray.Encode(mem.Allocate(), 1)).Rax).ToArray()[^1]);
        Assert.Equal(TdxStatus.OperandInvalid | TdxStatus.OperandRcx, Call(m, TdxLeaves.IdeStreamCreate, IdeStreamInfo.Of(0, false), Spdm, HpaArray.Encode(mem.Allocate(), 1)).Rax);
        ulong page = mem.Allocate();
        Assert.Equal(TdxStatus.OperandInvalid, Call(m, TdxLeaves.SpdmCreate, 0x0300, HpaArray.Encode(page, 1)).Rax); // spdm_mt needs 2 pages
        ulong list = mem.Allocate();
        mem.Write(list, BitConverter.GetBytes(page));
        mem.Write(list + 8, BitConverter.GetBytes(page));
        Assert.Equal(TdxStatus.PageMetadataIncorrect, Call(m, TdxLeaves.SpdmCreate, 0x0300, HpaArray.Encode(list, 2)).Rax);
        Assert.Equal(TdxStatus.OperandInvalid, Call(m, (ushort)200).Rax);
        Assert.Equal(TdxStatus.OperandInvalid, Call(m, TdxLeaves.IommuSetup, 0xFED9_0000, HpaArray.Encode(mem.Allocate(), 1)).Rax & TdxStatus.Mask);
        Assert.Equal(TdxStatus.IommuInvalidState, Call(m, TdxLeaves.IommuSetup, 0xFED9_1000, HpaArray.Encode(mem.Allocate(), 1)).Rax);
    }
}
