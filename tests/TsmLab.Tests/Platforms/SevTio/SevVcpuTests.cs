using System.Buffers.Binary;
using TsmLab.Platforms.SevTio.Abi;
using TsmLab.Platforms.SevTio.Guest;

namespace TsmLab.Tests.Platforms.SevTio;

/// <summary>The SNP vCPU (KVM): the GHCB page in guest memory is the crossing, and KVM refuses what it does not forward [G1].</summary>
public sealed class SevVcpuTests
{
    private static GhcbFields Exit(SevRig rig, Action<byte[]> fill)
    {
        var page = new byte[GhcbPage.Size];
        fill(page);
        rig.Ram.Write(SnpTioGuest.GhcbGpa, page);
        rig.Session.Vcpu.Vmgexit(SnpTioGuest.GhcbGpa);
        rig.Ram.Read(SnpTioGuest.GhcbGpa, page);
        return GhcbFields.Read(page);
    }

    [Fact]
    public void ExitCodeNotMarkedValid_IsRefusedByKvm_WithMissingInput_AndNeverReachesTheVmm()
    {
        var rig = new SevRig();
        int before = rig.Session.Vcpu.ExitCount;
        var g = Exit(rig, p => BinaryPrimitives.WriteUInt64LittleEndian(p.AsSpan(GhcbPage.SwExitCode), SevTioExit.TioOp));
        Assert.Equal(GhcbPage.ResponseMalformedInput, g.ExitInfo1);
        Assert.Equal(GhcbPage.ErrMissingInput, g.ExitInfo2);
        Assert.Equal(before, rig.Session.Vcpu.ExitCount);
    }

    [Fact]
    public void ExitKvmDoesNotForward_IsRefusedWithInvalidEvent()
    {
        var rig = new SevRig();
        int before = rig.Session.Vcpu.ExitCount;
        var g = Exit(rig, p => new GhcbFields { ExitCode = 0x8000_0099 }.WriteTo(p));
        Assert.Equal(GhcbPage.ResponseMalformedInput, g.ExitInfo1);
        Assert.Equal(GhcbPage.ErrInvalidEvent, g.ExitInfo2);
        Assert.Equal(before, rig.Session.Vcpu.ExitCount);
    }

    [Fact]
    public void TioOpBind_WrittenAsBytesIntoTheGhcbPage_IsAnsweredInThePage()
    {
        var rig = new SevRig();
        var g = Exit(rig, p => new GhcbFields { ExitCode = SevTioExit.TioOp, ExitInfo1 = ((ulong)SevTioAction.Bind << 32) | SevRig.GuestAddress.GuestRid }.WriteTo(p));
        Assert.Equal(0ul, g.ExitInfo2);
        Assert.Equal(SevRig.GuestAddress.GuestRid, g.Rcx);
        Assert.NotNull(rig.Function.Tdi);
    }

    [Fact]
    public void GhcbLayout_MatchesLinuxStructGhcb()
    {
        Assert.Equal(0x1F8, GhcbPage.Rax);
        Assert.Equal(0x308, GhcbPage.Rcx);
        Assert.Equal(0x390, GhcbPage.SwExitCode);
        Assert.Equal(0x3F0, GhcbPage.ValidBitmap);
        Assert.Equal(0xFFA, GhcbPage.ProtocolVersion);
        var page = new byte[GhcbPage.Size];
        GhcbPage.MarkValid(page, GhcbPage.SwExitCode);
        Assert.Equal(1 << (114 % 8), page[GhcbPage.ValidBitmap + 114 / 8]); // GHCB_BITMAP_IDX(sw_exit_code) = 0x390 / 8 = 114
    }
}
