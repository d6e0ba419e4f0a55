using TsmLab.Platforms.SevTio;
using TsmLab.Abi;
using TsmLab.Platforms.SevTio.Guest;
using TsmLab.Platforms.SevTio.Firmware;
using TsmLab.Platforms.SevTio.Vmm;
using TsmLab.Platforms.SevTio.Kvm;
using TsmLab.Tests.Kernel;
using TsmLab.Platforms.SevTio.Abi;

namespace TsmLab.Tests.Platforms.SevTio;

public sealed class SevSecurityTests
{
    [Fact]
    public void HostAndVmm_NeverSeeAPlaintextField()
    {
        var rig = new SevRig();
        var seen = new List<(string What, byte[] Bytes)>();
        rig.Tsm.Observed = (what, bytes) => seen.Add((what, bytes));
        rig.Accepted();
        Assert.Equal(GuestOutcome.Ok, rig.Guest.RefreshMeasurements().Outcome);
        Assert.Equal(GuestOutcome.Ok, rig.Guest.Unlock().Outcome);

        // Everything the VMM handled: each request page at its exit, and the response pages it passed on.
        foreach (var (_, page) in rig.Exits) seen.Add(("vmm request page", page));
        var resp = new byte[4096];
        rig.Ram.Read(SnpTioGuest.ResponseGpa, resp);
        seen.Add(("vmm response page", resp));
        Assert.Contains(seen, s => s.What == "request page");
        Assert.Contains(seen, s => s.What == "response page");
        Assert.Contains(seen, s => s.What == "iommufd payload");

        Assert.True(rig.Guest.Plaintexts.Count >= 20);
        // A payload whose only non-zero field is tdi_id (= the guest RID, public in RCX) carries
        // nothing to hide and may coincide with public bytes; every other payload must not appear.
        var informative = rig.Guest.Plaintexts.Where(p => p.AsSpan(8).ContainsAnyExcept((byte)0)).ToList();
        Assert.True(informative.Count >= 15);
        foreach (var plain in informative)
            foreach (var (what, bytes) in seen)
                Assert.True(bytes.AsSpan().IndexOf(plain) < 0, $"a plaintext payload of {plain.Length} bytes appears in the {what}");

        // Field by field: every 8-byte window of the TDI_INFO answers past tdi_id (digests, flags, algos).
        foreach (var plain in rig.Guest.Plaintexts.Where(p => p.Length == TdiInfoMessage.ResponseSize))
            for (int off = TdiInfoMessage.CertsDigest; off + 16 <= TdiInfoMessage.ReportCount; off += 16)
                foreach (var (what, bytes) in seen)
                    Assert.True(bytes.AsSpan().IndexOf(plain.AsSpan(off, 16)) < 0, $"TDI_INFO bytes at {off} appear in the {what}");
    }

    [Fact]
    public void ReplayedMessage_IsRefusedBySequenceNumber_AndChangesNothing()
    {
        var rig = new SevRig();
        rig.Accepted();
        var (enableGhcb, enablePage) = rig.Exits[^1];
        Assert.Equal(GuestOutcome.Ok, rig.Guest.DisableDma().Outcome);
        Assert.False(rig.Tsm.Iommu.SecureDmaEnabled(SevRig.FunctionId));

        rig.Ram.Write(enableGhcb.ExitInfo1, enablePage);
        var replay = new GhcbFields { ExitCode = enableGhcb.ExitCode, ExitInfo1 = enableGhcb.ExitInfo1, ExitInfo2 = enableGhcb.ExitInfo2, Rax = enableGhcb.Rax, Rbx = enableGhcb.Rbx, Rcx = enableGhcb.Rcx, Rdx = enableGhcb.Rdx };
        rig.Vmm.Vmgexit(ref replay);

        Assert.Equal((ulong)PspStatus.InvalidParam, replay.ExitInfo2);
        Assert.Equal(GuestMessageRefusal.BadSequence, rig.Tsm.Psp.LastRefusal);
        Assert.False(rig.Tsm.Iommu.SecureDmaEnabled(SevRig.FunctionId));
        Assert.False(rig.Tsm.Psp.TryReadSdte(SevRig.FunctionId, new byte[64]));
        Assert.Equal(GuestOutcome.Ok, rig.Guest.EnableDma().Outcome);
    }

    [Fact]
    public void ReorderedMessage_IsRefusedBySequenceNumber_ThenTheRightOneIsServed()
    {
        var rig = new SevRig();
        Assert.True(rig.Guest.Lock().IsOk);
        Assert.True(rig.Guest.Accept().IsOk);
        rig.Guest.NextSeqno += 2;
        var r = rig.Guest.EnableDma();
        Assert.Equal(GuestOutcome.ExitFailed, r.Outcome);
        Assert.Equal((ulong)PspStatus.InvalidParam, r.ExitInfo2);
        Assert.Equal(GuestMessageRefusal.BadSequence, rig.Tsm.Psp.LastRefusal);
        Assert.False(rig.Tsm.Iommu.SecureDmaEnabled(SevRig.FunctionId));
        rig.Guest.NextSeqno -= 2;
        Assert.True(rig.Guest.EnableDma().IsOk);
    }

    [Theory]
    [InlineData(0x60)]   // first ciphertext byte
    [InlineData(0x00)]   // the tag
    [InlineData(0x40)]   // a reserved header byte inside the AAD
    public void TamperedMessage_FailsAuthentication_WithNoStateChange(int offset)
    {
        var rig = new SevRig();
        Assert.True(rig.Guest.Lock().IsOk);
        Assert.True(rig.Guest.Accept().IsOk);
        int validated = rig.Tsm.Rmp.CountValidated(rig.Asid);
        ulong seqno = rig.Guest.NextSeqno;
        rig.BeforeExit = g =>
        {
            var b = new byte[1];
            rig.Ram.Read(g.ExitInfo1 + (ulong)offset, b);
            b[0] ^= 0x5A;
            rig.Ram.Write(g.ExitInfo1 + (ulong)offset, b);
        };
        var r = rig.Guest.ValidateAll(false);
        Assert.Equal(GuestOutcome.ExitFailed, r.Outcome);
        Assert.Equal((ulong)PspStatus.InvalidParam, r.ExitInfo2);
        Assert.Equal(GuestMessageRefusal.AuthenticationFailed, rig.Tsm.Psp.LastRefusal);
        Assert.Equal(validated, rig.Tsm.Rmp.CountValidated(rig.Asid));
        Assert.Equal(seqno, rig.Guest.NextSeqno);
        var r2 = rig.Guest.EnableDma();
        Assert.Equal(GuestMessageRefusal.AuthenticationFailed, rig.Tsm.Psp.LastRefusal);
        Assert.False(r2.IsOk);
        Assert.False(rig.Tsm.Iommu.SecureDmaEnabled(SevRig.FunctionId));

        rig.BeforeExit = null;
        Assert.True(rig.Guest.EnableDma().IsOk);
    }

    [Fact]
    public void TamperedResponse_OrEvidence_IsCaughtByTheGuest()
    {
        var rig = new SevRig();
        Assert.True(rig.Guest.Op(SevTioAction.Bind).IsOk);
        // A hostile VMM rewrites one byte of the certificate blob in the shared data pages.
        var evil = new EvilVmm(rig, corruptData: true);
        var cpu = new SevVcpu(rig.Process, rig.Ram, SevTioSession.KvmRunHva) { Exits = evil };
        var guest = new SnpTioGuest(rig.Ram, cpu, rig.Tsm.Psp.LaunchGuest(rig.Asid)!, SevRig.GuestAddress.GuestRid, new Dictionary<int, ulong>());
        Assert.True(guest.Op(SevTioAction.Bind).IsOk);
        Assert.Equal(GuestOutcome.EvidenceMismatch, guest.Info(TdiInfoParam.Certs).Outcome);
        evil.CorruptData = false;
        evil.CorruptResponse = true;
        Assert.Equal(GuestOutcome.BadResponse, guest.Info(TdiInfoParam.Certs).Outcome);
    }

    private sealed class EvilVmm(SevRig rig, bool corruptData) : ISevExitHandler
    {
        public bool CorruptData { get; set; } = corruptData;
        public bool CorruptResponse { get; set; }

        public void HandleExit(ulong kvmRunHva)
        {
            rig.Vmm.HandleExit(kvmRunHva);
            var run = new byte[48];
            rig.Process.Memory.CopyFromUser(run, kvmRunHva);
            var g = new { ExitCode = BitConverter.ToUInt64(run, KvmRunSevTio.ExitCode) };
            var b = new byte[1];
            ulong at = CorruptData ? SnpTioGuest.DataGpa + 200 : CorruptResponse ? SnpTioGuest.ResponseGpa + 0x70 : 0;
            if (at == 0 || g.ExitCode != SevTioExit.GuestRequest) return;
            rig.Ram.Read(at, b);
            b[0] ^= 1;
            rig.Ram.Write(at, b);
        }
    }

    [Fact]
    public void SevOnlyOps_AreEinval_ForACcaVm()
    {
        var rig = TestHosts.Assigned(TvmArch.Cca);
        var payload = new byte[SevGuestRequestPayload.Size];
        foreach (var op in new[] { TsmReqOp.SevEnableDma, TsmReqOp.SevDisableDma })
        {
            Assert.Equal(Errno.EINVAL.Neg(), rig.Calls.TsmRequest(rig.IommuFd, rig.Vdev, op, TvmArch.Cca, payload, 16, out _, out _));
            Assert.Equal(Errno.EINVAL.Neg(), rig.Calls.TsmRequest(rig.IommuFd, rig.Vdev, op, TvmArch.Sev, payload, 16, out _, out _));
        }
        Assert.Equal(0, rig.Platform.Requests);
    }
}
