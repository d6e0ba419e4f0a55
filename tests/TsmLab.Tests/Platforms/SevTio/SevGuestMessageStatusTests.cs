using TsmLab.Abi;
using TsmLab.Platforms.SevTio.Guest;
using TsmLab.Platforms.SevTio.Firmware;
using TsmLab.Tdisp.Wire;
using TsmLab.Platforms.SevTio.Abi;
using System.Buffers.Binary;

namespace TsmLab.Tests.Platforms.SevTio;

/// <summary>Every TIO status the PSP can put in an encrypted answer, from the guest's side.</summary>
public sealed class SevGuestMessageStatusTests
{
    private static SevRig Running()
    {
        var rig = new SevRig();
        Assert.True(rig.Guest.Lock().IsOk);
        Assert.True(rig.Guest.Op(SevTioAction.Run).IsOk);
        return rig;
    }

    private static MmioValidateStatus Validate(SevRig rig, uint offset, uint pages, ushort rangeId = 0, ushort flags = MmioValidateMessage.FlagValidated,
        bool hostAssigns = true, ulong? tdiId = null, bool? expectChanged = null)
    {
        ulong gpa = (rangeId == 2 ? SevRig.GuestBar2 : SevRig.GuestBar0) + offset;
        Span<byte> rq = stackalloc byte[MmioValidateMessage.Size];
        rq.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(rq[MmioValidateMessage.TdiId..], tdiId ?? rig.Guest.TdiId);
        BinaryPrimitives.WriteUInt64LittleEndian(rq[MmioValidateMessage.SubrangeBase..], gpa >> 12);
        BinaryPrimitives.WriteUInt32LittleEndian(rq[MmioValidateMessage.PageCount..], pages);
        BinaryPrimitives.WriteUInt32LittleEndian(rq[MmioValidateMessage.RangeOffset..], offset);
        BinaryPrimitives.WriteUInt16LittleEndian(rq[MmioValidateMessage.Flags..], flags);
        BinaryPrimitives.WriteUInt16LittleEndian(rq[MmioValidateMessage.RangeId..], rangeId);
        var r = rig.Guest.Exchange(SnpMsgType.MmioValidateRequest, rq, (gpa & ~0xFFFul) | (hostAssigns ? 1ul : 0), (ulong)pages << 32, out var rsp, out _);
        Assert.Equal(GuestOutcome.Ok, r.Outcome);
        if (expectChanged is { } c) Assert.Equal(c, (BinaryPrimitives.ReadUInt16LittleEndian(rsp.AsSpan(MmioValidateMessage.Flags)) & MmioValidateMessage.FlagChanged) != 0);
        return (MmioValidateStatus)BinaryPrimitives.ReadUInt16LittleEndian(rsp.AsSpan(MmioValidateMessage.Status));
    }

    [Fact]
    public void MmioValidate_Success_SetsRmpValidated_AndReportsChange()
    {
        var rig = Running();
        Assert.Equal(MmioValidateStatus.Success, Validate(rig, 0, 2, expectChanged: true));
        Assert.Equal(2, rig.Tsm.Rmp.CountValidated(rig.Asid));
        Assert.True(rig.Tsm.Rmp.Lookup(0xF000_1000).Validated);
        Assert.Equal(MmioValidateStatus.Success, Validate(rig, 0, 2, hostAssigns: false, expectChanged: false));
        Assert.Equal(MmioValidateStatus.Success, Validate(rig, 0, 2, flags: 0, hostAssigns: false, expectChanged: true));
        Assert.Equal(0, rig.Tsm.Rmp.CountValidated(rig.Asid));
    }

    [Fact]
    public void MmioValidate_EveryRefusal_HasItsStatus_AndValidatesNothing()
    {
        var rig = Running();
        Assert.Equal(MmioValidateStatus.InvalidTdi, Validate(rig, 0, 1, tdiId: 0x99));
        Assert.Equal(MmioValidateStatus.Not4K, Validate(rig, 0x800, 1, hostAssigns: false));
        Assert.Equal(MmioValidateStatus.NotReported, Validate(rig, 0, 1, rangeId: 4, hostAssigns: false));
        Assert.Equal(MmioValidateStatus.OutOfRange, Validate(rig, 0x10_0000, 1, hostAssigns: false));
        Assert.Equal(MmioValidateStatus.OutOfRange, Validate(rig, 0, 0, hostAssigns: false));
        Assert.Equal(MmioValidateStatus.NotImmutable, Validate(rig, 0x2000, 1));          // the MSI-X table, host-owned without LOCK_MSIX
        Assert.Equal(MmioValidateStatus.NotAssigned, Validate(rig, 0x4000, 2, hostAssigns: false));
        for (ulong i = 0; i < 2; i++)   // a hypervisor assigning the BAR pages at another GPA
            rig.Tsm.Rmp.Update(0xF000_4000 + i * 4096, rig.Asid, ((SevRig.GuestBar0 + 0x4000) >> 12) + 0x100 + i, mmio: true);
        Assert.Equal(MmioValidateStatus.NotMapped, Validate(rig, 0x4000, 2, hostAssigns: false));
        rig.Tsm.Rmp.Update(0xF000_8000, rig.Asid, (SevRig.GuestBar0 + 0x8000) >> 12, mmio: false);   // a hypervisor mapping the BAR page as RAM
        Assert.Equal(MmioValidateStatus.NotIo, Validate(rig, 0x8000, 1, hostAssigns: false));
        Assert.Equal(0, rig.Tsm.Rmp.CountValidated(rig.Asid));

        Assert.Equal(MmioValidateStatus.Success, Validate(rig, 0, 2));
        Assert.Equal(MmioValidateStatus.Success, Validate(rig, 0, 1, flags: 0, hostAssigns: false));
        Assert.Equal(MmioValidateStatus.NotUniform, Validate(rig, 0, 2, hostAssigns: false));
        Assert.Equal(1, rig.Tsm.Rmp.CountValidated(rig.Asid));
        Assert.Equal(MmioValidateStatus.Success, Validate(rig, 0, 2, flags: MmioValidateMessage.FlagValidated | MmioValidateMessage.FlagForce, hostAssigns: false));
        Assert.Equal(2, rig.Tsm.Rmp.CountValidated(rig.Asid));

        Assert.True(rig.Guest.Op(SevTioAction.Stop).IsOk);
        Assert.Equal(0, rig.Tsm.Rmp.CountValidated(rig.Asid));
        Assert.Equal(MmioValidateStatus.TdiUnbound, Validate(rig, 0, 2));
    }

    [Fact]
    public void TdiInfo_Bound_Invalid_Unbound()
    {
        var rig = Running();
        Span<byte> rq = stackalloc byte[TdiInfoMessage.RequestSize];
        rq.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(rq, 0x77);
        Assert.True(rig.Guest.Exchange(SnpMsgType.TdiInfoRequest, rq, 0, 0, out var rsp, out _).IsOk);
        Assert.Equal((ushort)TdiInfoStatus.Invalid, BinaryPrimitives.ReadUInt16LittleEndian(rsp.AsSpan(TdiInfoMessage.Status)));
        Assert.True(rig.Guest.Info(TdiInfoParam.State).IsOk);
        Assert.Equal(TdiState.Run, rig.Guest.Evidence!.TdispState);
        Assert.True(rig.Guest.Op(SevTioAction.Stop).IsOk);
        var r = rig.Guest.Info(TdiInfoParam.State);
        Assert.Equal(new GuestResult(GuestOutcome.Refused, 0, (ushort)TdiInfoStatus.Unbound), r);
    }

    [Fact]
    public void SdteWrite_Success_InvalidTdi_TdiNotBound_Reserved()
    {
        var rig = new SevRig();
        Assert.True(rig.Guest.Lock().IsOk);
        Assert.Equal(new GuestResult(GuestOutcome.Refused, 0, (ushort)SdteWriteStatus.TdiNotBound), rig.Guest.EnableDma());
        Assert.True(rig.Guest.Op(SevTioAction.Run).IsOk);
        Assert.Equal(new GuestResult(GuestOutcome.Refused, 0, (ushort)SdteWriteStatus.Reserved),
            rig.Guest.SdteWrite(s => { Sdte.WriteEnable(s, 0); BinaryPrimitives.WriteUInt32LittleEndian(s[Sdte.AsidWord..], 5); }, 1));
        Assert.Equal(new GuestResult(GuestOutcome.Refused, 0, (ushort)SdteWriteStatus.Reserved),
            rig.Guest.SdteWrite(s => BinaryPrimitives.WriteUInt64LittleEndian(s, Sdte.IrBit), 1));
        Assert.False(rig.Tsm.Psp.TryReadSdte(SevRig.FunctionId, new byte[64]));
        Span<byte> rq = stackalloc byte[SdteWriteMessage.RequestSize];
        rq.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(rq, 0x55);
        Assert.True(rig.Guest.Exchange(SnpMsgType.SdteWriteRequest, rq, 0, 0, out var rsp, out _).IsOk);
        Assert.Equal((ushort)SdteWriteStatus.InvalidTdi, BinaryPrimitives.ReadUInt16LittleEndian(rsp.AsSpan(SdteWriteMessage.Status)));

        Assert.True(rig.Guest.EnableDma(vtom: 1ul << 40).IsOk);
        var sdte = new byte[64];
        Assert.True(rig.Tsm.Psp.TryReadSdte(SevRig.FunctionId, sdte));
        Assert.Equal(Sdte.ValidBit | Sdte.IrBit | Sdte.IwBit, BinaryPrimitives.ReadUInt64LittleEndian(sdte));
        Assert.Equal(rig.Asid | (SevRig.GuestAddress.GuestRid << 16), BinaryPrimitives.ReadUInt32LittleEndian(sdte.AsSpan(Sdte.AsidWord)));
        Assert.Equal(1u | (uint)((1ul << 40) >> 21 << 1), BinaryPrimitives.ReadUInt32LittleEndian(sdte.AsSpan(Sdte.VtomWord)));
        Assert.True(rig.Tsm.Iommu.SecureDmaEnabled(SevRig.FunctionId));
    }

    [Fact]
    public void MmioConfig_EveryStatus()
    {
        var rig = new SevRig();
        Assert.True(rig.Guest.Lock().IsOk);
        Assert.Equal(new GuestResult(GuestOutcome.Refused, 0, (ushort)MmioConfigStatus.TdiNotBound), rig.Guest.MmioConfig(2, false, 0, out _));
        Assert.True(rig.Guest.Op(SevTioAction.Run).IsOk);
        Assert.True(rig.Guest.MmioConfig(2, false, 0, out ushort now).IsOk);
        Assert.Equal((ushort)MmioRangeAttributes.IsMemAttrUpdatable, now);
        Assert.True(rig.Guest.MmioConfig(2, true, (ushort)MmioRangeAttributes.IsNonTeeMem, out now).IsOk);
        Assert.Equal((ushort)(MmioRangeAttributes.IsMemAttrUpdatable | MmioRangeAttributes.IsNonTeeMem), now);
        Assert.Equal(new GuestResult(GuestOutcome.Refused, 0, (ushort)MmioConfigStatus.DeviceRefused), rig.Guest.MmioConfig(0, true, (ushort)MmioRangeAttributes.IsNonTeeMem, out _));
        Assert.Equal(new GuestResult(GuestOutcome.Refused, 0, (ushort)MmioConfigStatus.Reserved), rig.Guest.MmioConfig(2, false, 0, out _, flagsOverride: 2));
        Assert.Equal(new GuestResult(GuestOutcome.Refused, 0, (ushort)MmioConfigStatus.NotReported), rig.Guest.MmioConfig(4, false, 0, out _));
        Span<byte> rq = stackalloc byte[MmioConfigMessage.Size];
        rq.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(rq, 0x66);
        Assert.True(rig.Guest.Exchange(SnpMsgType.MmioConfigRequest, rq, 0, 0, out var rsp, out _).IsOk);
        Assert.Equal((ushort)MmioConfigStatus.InvalidTdi, BinaryPrimitives.ReadUInt16LittleEndian(rsp.AsSpan(MmioConfigMessage.Status)));
    }

    [Fact]
    public void DeviceInError_RunFails_WithSpdmError()
    {
        var rig = new SevRig();
        Assert.True(rig.Guest.Lock().IsOk);
        var dsm = rig.Device;
        dsm.Interfaces[0].ConfigWrite(0x10, 4);
        var r = rig.Guest.Op(SevTioAction.Run);
        Assert.Equal(GuestOutcome.ExitFailed, r.Outcome);
        Assert.Equal((ulong)PspStatus.SpdmError, r.ExitInfo2);                 // SEV_RET_SPDM_ERROR 0x33 [S6]
        Assert.Equal(0x33ul, r.ExitInfo2);
        Assert.Equal(Errno.EIO.Neg(), rig.Vmm.LastIoctl);
        Assert.Equal(TdiFirmwareState.BindLocked, rig.Tsm.Psp.StateOf(SevRig.FunctionId));
    }

    [Fact]
    public void PayloadLengthNotTheTypes_IsRefused_WithoutConsumingTheSequenceNumber()
    {
        var rig = Running();
        var r = rig.Guest.Exchange(SnpMsgType.TdiInfoRequest, new byte[15], 0, 0, out _, out _);
        Assert.Equal((ulong)PspStatus.InvalidParam, r.ExitInfo2);
        Assert.Equal(GuestMessageRefusal.BadLength, rig.Tsm.Psp.LastRefusal);
        Assert.True(rig.Guest.Info(TdiInfoParam.None).IsOk);
    }

    [Fact]
    public void WrongMessageVersionOrVmpck_IsRefused_WithoutConsumingTheSequenceNumber()
    {
        var rig = Running();
        rig.Tsm.Psp.TioVersion = TioMessageVersion.Feb2026;
        var r = rig.Guest.Info(TdiInfoParam.None);
        Assert.Equal((ulong)PspStatus.InvalidParam, r.ExitInfo2);
        Assert.Equal(GuestMessageRefusal.BadHeader, rig.Tsm.Psp.LastRefusal);
        rig.Tsm.Psp.TioVersion = TioMessageVersion.Current;
        rig.BeforeExit = g => rig.Ram.Write(g.ExitInfo1 + SnpGuestMessage.VmpckOffset, [1]);
        Assert.Equal((ulong)PspStatus.InvalidParam, rig.Guest.Info(TdiInfoParam.None).ExitInfo2);
        Assert.Equal(GuestMessageRefusal.WrongVmpck, rig.Tsm.Psp.LastRefusal);
        rig.BeforeExit = null;
        Assert.True(rig.Guest.Info(TdiInfoParam.None).IsOk);
    }
}
