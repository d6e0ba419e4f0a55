using System.Buffers.Binary;
using TsmLab.Platforms.Cca;
using TsmLab.Platforms.Cca.Abi;

namespace TsmLab.Tests.Platforms.Cca;

/// <summary>The RSI calls a realm makes to the RMM, and their return codes.</summary>
public sealed class CcaRsiTests
{
    private static CcaRealmSession Locked()
    {
        var s = CcaRealmSession.Start();
        Assert.True(s.Guest.Lock(), s.Guest.Failure);
        return s;
    }

    [Fact]
    public void VdevGetInfo_WritesDigestsNoncesAndState_UnknownVdevIsErrorInput()
    {
        var s = Locked();
        Assert.Equal((ulong)RsiStatus.ErrorInput, s.Guest.Rsi(Rsi.VdevGetInfo, 0x20, 0x9000)[0]);
        Assert.Equal((ulong)RsiStatus.ErrorInput, s.Guest.Rsi(Rsi.VdevGetInfo, s.Guest.VdevId, CcaRealmSession.GuestRamSize)[0]);
        Assert.Equal((ulong)RsiStatus.Success, s.Guest.Rsi(Rsi.VdevGetInfo, s.Guest.VdevId, 0x9000)[0]);
        var info = new byte[Rsi.InfoSize];
        s.Ram.Read(0x9000, info);
        Assert.Equal(Rsi.HashSha256, info[Rsi.InfoHashAlgo]);
        Assert.Equal((byte)RsiVdevState.Locked, info[Rsi.InfoState]);          // RsiVdevState LOCKED = 1 [TR1], not the RMI number 2
        Assert.Equal(Rsi.FormatTdisp, info[Rsi.InfoFormatType]);
        Assert.Equal(0x1_0000ul, BinaryPrimitives.ReadUInt64LittleEndian(info.AsSpan(Rsi.InfoFormatVersion))); // TDISP 1.0: major << 16 | minor
        Assert.Equal(1ul, BinaryPrimitives.ReadUInt64LittleEndian(info.AsSpan(Rsi.InfoLockNonce)));
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(s.Guest.Evidence!.Report), info.AsSpan(Rsi.InfoReportDigest, 32).ToArray());
        Assert.Equal(new byte[32], info.AsSpan(Rsi.InfoReportDigest + 32, 32).ToArray());
    }

    [Fact]
    public void RsiVdevInfo_Layout_IsTheRmm20One()
    {
        Assert.Equal((0x30, 0x38, 0x40), (Rsi.InfoFormatType, Rsi.InfoFormatVersion, Rsi.InfoState));
        Assert.Equal((0x80, 0xC0, 0x100, 0x140, 0x180), (Rsi.InfoVcaDigest, Rsi.InfoCertDigest, Rsi.InfoPubkeyDigest, Rsi.InfoMeasDigest, Rsi.InfoReportDigest));
        Assert.Equal((0x1C0, 0x1C8, 0x200), (Rsi.InfoVsmmuAddr, Rsi.InfoVsmmuVsid, Rsi.InfoSize));
        Assert.Equal(5ul, (ulong)RsiStatus.ErrorDevice);
        Assert.Equal((0, 1, 2, 3), ((int)RsiVdevState.Unlocked, (int)RsiVdevState.Locked, (int)RsiVdevState.Started, (int)RsiVdevState.Error));
    }

    [Fact]
    public void VdevGetInfo_AnswersAfterRun_WithStateStarted_AndRefusesAMisalignedOrUnprotectedAddressFirst()
    {
        var s = Locked();
        Assert.True(s.Guest.Accept(), s.Guest.Failure);
        Assert.Equal((ulong)RsiStatus.Success, s.Guest.Rsi(Rsi.VdevGetInfo, s.Guest.VdevId, 0x9000)[0]);
        var info = new byte[Rsi.InfoSize];
        s.Ram.Read(0x9000, info);
        Assert.Equal((byte)RsiVdevState.Started, info[Rsi.InfoState]);
        Assert.Equal((ulong)RsiStatus.ErrorInput, s.Guest.Rsi(Rsi.VdevGetInfo, s.Guest.VdevId, 0x9100)[0]); // not 512-byte aligned
        Assert.Equal((ulong)RsiStatus.ErrorInput, s.Guest.Rsi(Rsi.VdevGetInfo, 0x20, 0x9100)[0]);           // address checked before the vdev_id
        Assert.Equal((ulong)RsiStatus.ErrorInput, s.Guest.Rsi(Rsi.VdevGetInfo, s.Guest.VdevId, 1UL << 47)[0]); // outside the PAR
    }

    [Fact]
    public void VdevGetInfo_ForAVdevNotLocked_IsErrorInputBeforeBind()
    {
        var s = CcaRealmSession.Start();
        Assert.Equal((ulong)RsiStatus.ErrorInput, s.Guest.Rsi(Rsi.VdevGetInfo, s.Guest.VdevId, 0x9000)[0]);
    }

    [Fact]
    public void VdevValidateMapping_RefusesBadRangesFlagsAndAddressesOutsideTheReport()
    {
        var s = Locked();
        var e = s.Guest.Evidence!;
        ulong v = s.Guest.VdevId, g = 0x1_0000_0000;
        ulong[] Vm(ulong b, ulong t, ulong pa, ulong flags = 0) => s.Guest.Rsi(Rsi.VdevValidateMapping, v, b, t, pa, flags, e.LockNonce, e.MeasNonce, e.ReportNonce);
        Assert.Equal((ulong)RsiStatus.ErrorInput, Vm(g, g, 0xf000_0000)[0]);
        Assert.Equal((ulong)RsiStatus.ErrorInput, Vm(g + 1, g + 0x1000, 0xf000_0000)[0]);
        Assert.Equal((ulong)RsiStatus.ErrorInput, Vm(g, g + 0x1000, 0xf000_0000, 4)[0]);
        Assert.Equal((ulong)RsiStatus.ErrorInput, Vm(g, g + 0x1000, 0xf000_2000)[0]);
        Assert.Equal((ulong)RsiStatus.ErrorInput, Vm(g, g + 0x3000, 0xf000_0000)[0]);
        Assert.Equal((ulong)RsiStatus.ErrorInput, s.Guest.Rsi(Rsi.VdevValidateMapping, 0x20, g, g + 0x1000, 0xf000_0000)[0]);
        // TF-RMM's order [TR2]: the range first, then nonces: stale nonces with a bad range are ERROR_INPUT, with a good one ERROR_DEVICE.
        Assert.Equal((ulong)RsiStatus.ErrorInput, s.Guest.Rsi(Rsi.VdevValidateMapping, v, g + 1, g + 0x1000, 0xf000_0000, 0, e.LockNonce + 1, e.MeasNonce, e.ReportNonce)[0]);
        Assert.Equal((ulong)RsiStatus.ErrorDevice, s.Guest.Rsi(Rsi.VdevValidateMapping, v, g, g + 0x1000, 0xf000_0000, 0, e.LockNonce + 1, e.MeasNonce, e.ReportNonce)[0]);
        Assert.Equal((ulong)RsiStatus.ErrorInput, Vm(1UL << 47, (1UL << 47) + 0x1000, 0xf000_0000)[0]); // outside the PAR
        var ok = Vm(g, g + 0x2000, 0xf000_0000, Rsi.MappingCoherent);
        Assert.Equal(((ulong)RsiStatus.Success, g + 0x2000, Rsi.ResponseAccept), (ok[0], ok[1], ok[2]));
    }

    [Fact]
    public void VdevDmaEnable_NeedsRunAndCurrentNonces_ElseErrorDevice_DmaDisableNeedsAKnownVdev()
    {
        var s = Locked();
        var e = s.Guest.Evidence!;
        ulong v = s.Guest.VdevId;
        Assert.Equal((ulong)RsiStatus.ErrorDevice, s.Guest.Rsi(Rsi.VdevDmaEnable, v, 0, 0, e.LockNonce, e.MeasNonce, e.ReportNonce)[0]); // LOCKED, not STARTED [TR2]
        Assert.True(s.Guest.ValidateAndRun(), s.Guest.Failure);
        Assert.Equal((ulong)RsiStatus.ErrorDevice, s.Guest.Rsi(Rsi.VdevDmaEnable, v, 0, 0, e.LockNonce + 1, e.MeasNonce, e.ReportNonce)[0]);
        Assert.Equal((ulong)RsiStatus.Success, s.Guest.Rsi(Rsi.VdevDmaEnable, v, 1, 0, e.LockNonce, e.MeasNonce, e.ReportNonce)[0]); // the pinned revision does not check x2
        Assert.Equal((ulong)RsiStatus.ErrorInput, s.Guest.Rsi(Rsi.VdevDmaEnable, 0x20, 0, 0, e.LockNonce, e.MeasNonce, e.ReportNonce)[0]);
        Assert.Equal((ulong)RsiStatus.ErrorInput, s.Guest.Rsi(Rsi.VdevDmaDisable, 0x20)[0]);
        Assert.Equal((ulong)RsiStatus.Success, s.Guest.Rsi(Rsi.VdevDmaDisable, v)[0]);
    }

    [Fact]
    public void HostCall_WithItsBlockOutsideRealmMemory_IsErrorInput_AndUnknownRsiFidsAreNotSupported()
    {
        var s = CcaRealmSession.Start();
        int exits = s.Vcpu.ExitCount;
        Assert.Equal((ulong)RsiStatus.ErrorInput, s.Guest.Rsi(Rsi.HostCall, CcaRealmSession.GuestRamSize)[0]);
        Assert.Equal(exits, s.Vcpu.ExitCount);
        Assert.Equal(Rhi.NotSupported, s.Guest.Rsi(0xC40001FF)[0]);
    }
}
