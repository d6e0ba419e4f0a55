using TsmLab.Abi;
using TsmLab.Platforms.Cca;
using TsmLab.Platforms.Cca.Abi;
using TsmLab.Platforms.Cca.Vmm;
using TsmLab.Tdisp.Requester;
using TsmLab.Tdisp.Wire;
using System.Buffers.Binary;

namespace TsmLab.Tests.Platforms.Cca;

/// <summary>The realm flow from KVM_CREATE_VM to DMA enabled and back, and the ways it must fail.</summary>
public sealed class CcaEndToEndTests
{
    private static string Why(CcaRealmSession s) => s.Guest.Failure + "\n" + string.Join("\n", s.Vmm.Log);

    [Theory]
    [InlineData(TsmAbiProfile.OpArch)]
    [InlineData(TsmAbiProfile.Scope)]
    public void RealmFlow_FromCreateVmToDmaEnabled_AndBackToUnlocked(TsmAbiProfile profile)
    {
        var s = CcaRealmSession.Start(profile);
        var g = s.Guest;
        Assert.Equal("KVM_CREATE_VM(type=0x100)", s.Assignment.Steps[2].Call);
        Assert.True(g.Lock(), Why(s));
        Assert.Equal(TdiState.ConfigLocked, s.Device.Interfaces[0].State);
        Assert.NotNull(g.Evidence!.ParsedReport);
        Assert.True(g.Continues >= 3); // LOCKED, GET_INTERFACE_REPORT and GET_MEASUREMENTS each answered INCOMPLETE first
        Assert.True(g.Accept(), Why(s));
        Assert.Equal(TdiState.Run, s.Device.Interfaces[0].State);
        Assert.True(g.DmaEnabled);
        Assert.True(s.Assignment.Discover());
        Assert.Equal(TdiState.Run, s.Assignment.Info!.Value.TdiState);
        Assert.True(g.Unlock(), Why(s));
        Assert.Equal(TdiState.ConfigUnlocked, s.Device.Interfaces[0].State);
        Assert.True(s.Assignment.Discover());
        Assert.False(s.Assignment.Info!.Value.Bound);
    }

    [Fact]
    public void RealmFlow_CanLockAgainAfterUnlock_WithNewNonces()
    {
        var s = CcaRealmSession.Start();
        Assert.True(s.Guest.Lock(), Why(s));
        ulong firstLock = s.Guest.Evidence!.LockNonce;
        Assert.True(s.Guest.Unlock(), Why(s));
        Assert.True(s.Guest.Lock(), Why(s));
        Assert.True(s.Guest.Accept(), Why(s));
        Assert.Equal(1ul, firstLock);
        Assert.Equal(TdiState.Run, s.Device.Interfaces[0].State);
    }

    [Fact]
    public void RefreshEvidence_FetchesNewMeasurementsWithAFreshNonce_AndStaleNoncesStopDmaEnable()
    {
        var s = CcaRealmSession.Start();
        Assert.True(s.Guest.Lock(), Why(s));
        var before = s.Guest.Evidence!;
        Assert.True(s.Guest.RefreshEvidence(), Why(s));
        var after = s.Guest.Evidence!;
        Assert.Equal(before.MeasNonce + 1, after.MeasNonce);
        Assert.False(before.Measurements.AsSpan(0, 32).SequenceEqual(after.Measurements.AsSpan(0, 32)));
        // The RMM checks the guest's nonces: the ones from before the refresh are stale (RSI_ERROR_DEVICE [TR2]).
        var r = s.Guest.Rsi(Rsi.VdevValidateMapping, s.Guest.VdevId, 0x1_0000_0000, 0x1_0000_2000, 0xf000_0000, 0, before.LockNonce, before.MeasNonce, before.ReportNonce);
        Assert.Equal((ulong)RsiStatus.ErrorDevice, r[0]);
        Assert.True(s.Guest.Accept(), Why(s));
    }

    [Fact]
    public void TamperedReport_GuestRefusesTheDevice_AndUnlocksIt()
    {
        var s = CcaRealmSession.Start();
        s.Vcpu.Exits = new TamperingVmm(s, Rhi.ObjInterfaceReport);
        Assert.False(s.Guest.Lock());
        Assert.Equal("device refused: interface report digest mismatch", s.Guest.Failure);
        Assert.Null(s.Guest.Evidence);
        Assert.Equal(TdiState.ConfigUnlocked, s.Device.Interfaces[0].State);
    }

    [Fact]
    public void TamperedCertificate_GuestRefusesTheDevice()
    {
        var s = CcaRealmSession.Start(TsmAbiProfile.Scope);
        s.Vcpu.Exits = new TamperingVmm(s, Rhi.ObjCertificate);
        Assert.False(s.Guest.Lock());
        Assert.Equal("device refused: certificate digest mismatch", s.Guest.Failure);
    }

    [Fact]
    public void StartTamperedByTheHost_DeviceRefuses_StateUnchanged_GuestSeesDevice_AndTheSessionIsOver()
    {
        var s = CcaRealmSession.Start(TsmAbiProfile.OpArch, TamperHost.Configuration(TsmAbiProfile.OpArch, out var tamper));
        Assert.True(s.Guest.Lock(), Why(s));
        tamper.XorNext = 0x5A;
        Assert.False(s.Guest.Accept());
        Assert.Equal(RhiStatus.Device, s.Guest.LastStatus);
        Assert.Equal(TdiState.ConfigLocked, s.Device.Interfaces[0].State);
        Assert.True(s.Assignment.Discover());
        Assert.Equal(TdiState.ConfigLocked, s.Assignment.Info!.Value.TdiState);
        // The host could only flip ciphertext: the device refused to decrypt and ended the session [DSP0277],
        // so nothing more reaches the TDI through this connection.
        Assert.False(s.Guest.Accept());
        Assert.Equal(TdiState.ConfigLocked, s.Device.Interfaces[0].State);
    }

    [Fact]
    public void UnbindDuringTheFlow_GuestsNextStepFails_AndTheDeviceIsUnlocked()
    {
        var s = CcaRealmSession.Start();
        Assert.True(s.Guest.Lock(), Why(s));
        Assert.True(s.Assignment.Unbind());
        Assert.Equal(TdiState.ConfigUnlocked, s.Device.Interfaces[0].State);
        Assert.False(s.Guest.Accept());
        Assert.Equal("VALIDATE_MAPPING: ErrorInput", s.Guest.Failure);
        var size = s.Guest.HostCall(Rhi.DaObjectSize, s.Guest.VdevId, Rhi.ObjInterfaceReport);
        Assert.Equal((ulong)RhiStatus.DataNotAvailable, size.X0);
    }

    [Fact]
    public void DeviceLockedBehindTheRmmsBack_BindFailsWithEio_TheVdevIsCleanedUp_AndABindAfterwardsWorks()
    {
        var s = CcaRealmSession.Start();
        var rogue = new TdispRequester(new DirectTransport(s.Device));
        Assert.True(rogue.LockInterface(s.Device.Interfaces[0].FunctionId, new LockInterfaceParameters(LockInterfaceFlags.None, 0, 0)).IsSuccess);
        Assert.False(s.Guest.Lock());
        Assert.Equal(RhiStatus.Device, s.Guest.LastStatus);
        Assert.True(s.Assignment.Discover());
        Assert.False(s.Assignment.Info!.Value.Bound);
        // The VDEV went to ERROR; tearing it down (VDEV_UNLOCK) sent STOP, so the interface is free again.
        Assert.Equal(TdiState.ConfigUnlocked, s.Device.Interfaces[0].State);
        Assert.Equal(0, s.Assignment.Calls.TsmOp(s.Assignment.IommuFd, s.Assignment.VdeviceId, 1));
        Assert.Equal(TdiState.ConfigLocked, s.Device.Interfaces[0].State);
    }

    [Fact]
    public void HostileVmmRefusingTheMapping_GuestGetsReject()
    {
        var s = CcaRealmSession.Start();
        Assert.True(s.Guest.Lock(), Why(s));
        s.Vcpu.Exits = new RefusingVmm(s);
        Assert.False(s.Guest.Accept());
        Assert.StartsWith("VALIDATE_MAPPING rejected", s.Guest.Failure);
        Assert.Equal(TdiState.ConfigLocked, s.Device.Interfaces[0].State);
    }

    [Fact]
    public void ValidateMappingOfASharedIpa_TheRmmRefusesIt_NeitherKvmNorTheVmmIsAsked()
    {
        var s = CcaRealmSession.Start();
        Assert.True(s.Guest.Lock(), Why(s));
        var e = s.Guest.Evidence!;
        int exits = s.Vcpu.ExitCount;
        var r = s.Guest.Rsi(Rsi.VdevValidateMapping, s.Guest.VdevId, 1ul << 47, (1ul << 47) + 0x2000, 0xf000_0000, 0, e.LockNonce, e.MeasNonce, e.ReportNonce);
        Assert.Equal((ulong)RsiStatus.ErrorInput, r[0]); // outside the PAR: TF-RMM's region_in_rec_par check, before any exit [TR2]
        Assert.Equal(exits, s.Vcpu.ExitCount);
    }

    [Fact]
    public void Rmm20Bet3ExitNumbering_TheFlowStillWorks()
    {
        var config = CcaHost.Configuration(TsmAbiProfile.OpArch, new TsmLab.Platforms.Cca.Firmware.RmmOptions { ValidateMappingExit = ValidateMappingExitNumbering.Rmm20Bet3, ValidatePagesPerCall = 1 });
        var s = CcaRealmSession.Start(config: config);
        Assert.Equal(8ul, s.Link.Rmm.Options.ValidateMappingExitReason);
        Assert.True(s.Guest.Lock(), Why(s));
        Assert.True(s.Guest.Accept(), Why(s));
    }

    [Fact]
    public void SlowWorker_GuestKeepsContinuing_UntilTheCallRan()
    {
        var s = CcaRealmSession.Start(longCallTicks: 4);
        Assert.True(s.Guest.Lock(), Why(s));
        Assert.True(s.Guest.Continues >= 12);
        Assert.Contains("RHI 0xc5000051 -> Incomplete", s.Vmm.Log);
    }

    [Fact]
    public void HostWithoutTheBaseFeatures_GuestRegistersNoTsm_AndNeverLocks()
    {
        var s = CcaRealmSession.Start();
        s.Vcpu.Exits = new FeaturelessVmm(s);
        Assert.False(s.Guest.Probe());
        Assert.False(s.Guest.Lock());
        Assert.Equal("host lacks the base DA features", s.Guest.Failure);
        Assert.Equal(TdiState.ConfigUnlocked, s.Device.Interfaces[0].State);
    }

    /// <summary>A host whose DA_FEATURES lacks GET_MEASUREMENT (b3).</summary>
    private sealed class FeaturelessVmm(CcaRealmSession s) : IRealmExitHandler
    {
        public void HandleExit(ulong kvmRunHva)
        {
            s.Vmm.HandleExit(kvmRunHva);
            var mem = s.Assignment.Calls.Process.Memory;
            Span<byte> run = stackalloc byte[KvmRunArm.Size];
            mem.CopyFromUser(run, kvmRunHva);
            if (BinaryPrimitives.ReadUInt64LittleEndian(run[KvmRunArm.HypercallNr..]) != Rhi.DaFeatures) return;
            BinaryPrimitives.WriteUInt64LittleEndian(run[KvmRunArm.HypercallArgs..], BinaryPrimitives.ReadUInt64LittleEndian(run[KvmRunArm.HypercallArgs..]) & ~Rhi.FeatGetMeasurement);
            mem.CopyToUser(kvmRunHva, run);
        }
    }

    /// <summary>A host that rewrites one byte of an object in the guest's shared buffer after reading it.</summary>
    private sealed class TamperingVmm(CcaRealmSession s, ulong objectType) : IRealmExitHandler
    {
        public void HandleExit(ulong kvmRunHva)
        {
            Span<byte> run = stackalloc byte[KvmRunArm.Size];
            s.Assignment.Calls.Process.Memory.CopyFromUser(run, kvmRunHva);
            ulong fid = BinaryPrimitives.ReadUInt64LittleEndian(run[KvmRunArm.HypercallNr..]), type = BinaryPrimitives.ReadUInt64LittleEndian(run[(KvmRunArm.HypercallArgs + 16)..]), ipa = BinaryPrimitives.ReadUInt64LittleEndian(run[(KvmRunArm.HypercallArgs + 24)..]);
            s.Vmm.HandleExit(kvmRunHva);
            if (BinaryPrimitives.ReadUInt32LittleEndian(run[KvmRunArm.ExitReason..]) == KvmRunArm.ExitHypercall && fid == Rhi.DaObjectRead && type == objectType)
            {
                Span<byte> b = stackalloc byte[1];
                s.Ram.Read(ipa + 20, b);
                b[0] ^= 0x01;
                s.Ram.Write(ipa + 20, b);
            }
        }
    }

    /// <summary>A host that answers every validate-mapping exit with a refusal.</summary>
    private sealed class RefusingVmm(CcaRealmSession s) : IRealmExitHandler
    {
        public void HandleExit(ulong kvmRunHva)
        {
            var mem = s.Assignment.Calls.Process.Memory;
            Span<byte> run = stackalloc byte[KvmRunArm.Size];
            mem.CopyFromUser(run, kvmRunHva);
            if (BinaryPrimitives.ReadUInt32LittleEndian(run[KvmRunArm.ExitReason..]) != KvmRunArm.ExitArm64Tio) { s.Vmm.HandleExit(kvmRunHva); return; }
            BinaryPrimitives.WriteUInt64LittleEndian(run[KvmRunArm.CcaResponse..], 1);
            mem.CopyToUser(kvmRunHva, run);
        }
    }
}
