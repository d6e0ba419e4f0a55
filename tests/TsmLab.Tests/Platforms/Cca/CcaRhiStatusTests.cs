using TsmLab.Kernel;
using TsmLab.Abi;
using TsmLab.Platforms.Cca;
using TsmLab.Platforms.Cca.Abi;

namespace TsmLab.Tests.Platforms.Cca;

/// <summary>Every RHI status the VMM answers, reached through RSI_HOST_CALL from the realm.</summary>
public sealed class CcaRhiStatusTests
{
    private static CcaRealmSession Locked(TsmAbiProfile profile = TsmAbiProfile.OpArch, HostConfiguration? config = null)
    {
        var s = CcaRealmSession.Start(profile, config);
        Assert.True(s.Guest.Lock(), s.Guest.Failure);
        return s;
    }

    private static (ulong X0, ulong X1) Call(CcaRealmSession s, ulong fid, ulong x1 = 0, ulong x2 = 0, ulong x3 = 0, ulong x4 = 0, ulong x5 = 0) =>
        s.Guest.HostCall(fid, x1, x2, x3, x4, x5);

    private static ulong Vdev(CcaRealmSession s) => s.Guest.VdevId;

    [Fact]
    public void DaFeatures_OffersTheBaseSetPlusContinueAndAbort()
    {
        var s = CcaRealmSession.Start();
        Assert.Equal(Rhi.BaseFeatures | Rhi.FeatVdevContinue | Rhi.FeatAbort, Call(s, Rhi.DaFeatures).X0);
        Assert.True(s.Guest.Probe());
    }

    [Fact]
    public void Success_ObjectSizeAndRead_ReturnSizeAndBytes()
    {
        var s = Locked();
        var size = Call(s, Rhi.DaObjectSize, Vdev(s), Rhi.ObjInterfaceReport);
        Assert.Equal(((ulong)RhiStatus.Success, (ulong)s.Guest.Evidence!.Report.Length), size);
        var read = Call(s, Rhi.DaObjectRead, Vdev(s), Rhi.ObjInterfaceReport, 0x10000, 0x1000, 16);
        Assert.Equal(((ulong)RhiStatus.Success, size.X1 - 16), read);
        var b = new byte[read.X1];
        s.Ram.Read(0x10000, b);
        Assert.Equal(s.Guest.Evidence.Report.AsSpan(16).ToArray(), b);
    }

    [Fact]
    public void Incomplete_ThenContinueWithTheCookie_GivesTheResult_AndAnUnknownCookieIsInput()
    {
        var s = Locked();
        var r = Call(s, Rhi.DaVdevGetInterfaceReport, Vdev(s));
        Assert.Equal((ulong)RhiStatus.Incomplete, r.X0);
        Assert.NotEqual(0ul, r.X1);
        Assert.Equal((ulong)RhiStatus.Input, Call(s, Rhi.DaVdevContinue, Vdev(s), r.X1 + 1).X0);
        Assert.Equal((ulong)RhiStatus.Success, Call(s, Rhi.DaVdevContinue, Vdev(s), r.X1).X0);
        Assert.Equal((ulong)RhiStatus.Input, Call(s, Rhi.DaVdevContinue, Vdev(s), r.X1).X0);
    }

    [Fact]
    public void Busy_WhileAnotherCallRuns_TheGuestRetriesTheOriginalCall_AndSucceeds()
    {
        var s = CcaRealmSession.Start(longCallTicks: 4);
        // Another agent of the realm (a second vCPU, say) queued a call and never continued it.
        Assert.Equal((ulong)RhiStatus.Incomplete, Call(s, Rhi.DaVdevSetTdiState, Vdev(s), Rhi.TdiConfigLocked).X0);
        Assert.Equal((ulong)RhiStatus.Busy, Call(s, Rhi.DaVdevGetInterfaceReport, Vdev(s)).X0);
        Assert.True(s.Guest.Lock(), s.Guest.Failure);
        Assert.True(s.Guest.BusyRetries >= 1);
    }

    [Fact]
    public void Busy_ForeverFromTheHost_GuestGivesUpAfterItsBudget()
    {
        var s = CcaRealmSession.Start(longCallTicks: 1000);
        Assert.Equal((ulong)RhiStatus.Incomplete, Call(s, Rhi.DaVdevGetInterfaceReport, Vdev(s)).X0);
        s.Guest.MaxBusyRetries = 3;
        Assert.False(s.Guest.Lock());
        Assert.Equal(RhiStatus.Busy, s.Guest.LastStatus);
        Assert.Equal(3, s.Guest.BusyRetries);
    }

    [Fact]
    public void Abort_BeforeTheCallRan_IsSuccess_AfterIt_AbortedOperationHadCompleted_WithNothing_Input()
    {
        var s = Locked();
        Assert.Equal((ulong)RhiStatus.Incomplete, Call(s, Rhi.DaVdevSetTdiState, Vdev(s), Rhi.TdiRun).X0);
        Assert.Equal((ulong)RhiStatus.Success, Call(s, Rhi.DaVdevAbort, Vdev(s)).X0);
        Assert.Equal(TsmLab.Tdisp.Wire.TdiState.ConfigLocked, s.Device.Interfaces[0].State);
        Assert.Equal((ulong)RhiStatus.Incomplete, Call(s, Rhi.DaVdevGetInterfaceReport, Vdev(s)).X0);
        Call(s, Rhi.DaFeatures); // any exit is a tick of the VMM's worker: the call runs
        Assert.Equal((ulong)RhiStatus.AbortedOperationHadCompleted, Call(s, Rhi.DaVdevAbort, Vdev(s)).X0);
        Assert.Equal((ulong)RhiStatus.Input, Call(s, Rhi.DaVdevAbort, Vdev(s)).X0);
    }

    [Fact]
    public void DataNotAvailable_BeforeLock_AndForMeasurementsNotYetFetched()
    {
        var s = CcaRealmSession.Start();
        Assert.Equal((ulong)RhiStatus.DataNotAvailable, Call(s, Rhi.DaObjectSize, Vdev(s), Rhi.ObjInterfaceReport).X0);
        Assert.Equal((ulong)RhiStatus.DataNotAvailable, Call(s, Rhi.DaObjectRead, Vdev(s), Rhi.ObjVca, 0x10000, 0x100, 0).X0);
        Assert.Equal(0, s.Assignment.Calls.TsmOp(s.Assignment.IommuFd, s.Assignment.VdeviceId, 1));
        Assert.Equal((ulong)RhiStatus.DataNotAvailable, Call(s, Rhi.DaObjectSize, Vdev(s), Rhi.ObjMeasurement).X0);
        Assert.Equal((ulong)RhiStatus.Success, Call(s, Rhi.DaObjectSize, Vdev(s), Rhi.ObjInterfaceReport).X0);
    }

    [Fact]
    public void InvalidVdevId_ForADeviceTheVmmDoesNotKnow()
    {
        var s = Locked();
        Assert.Equal((ulong)RhiStatus.InvalidVdevId, Call(s, Rhi.DaObjectSize, 0x20, Rhi.ObjInterfaceReport).X0);
        Assert.Equal((ulong)RhiStatus.InvalidVdevId, Call(s, Rhi.DaVdevSetTdiState, 0x20, Rhi.TdiRun).X0);
    }

    [Theory]
    [InlineData(0ul)]
    [InlineData(5ul)]
    public void InvalidObject_ForATypeOutsideOneToFour(ulong type)
    {
        var s = Locked();
        Assert.Equal((ulong)RhiStatus.InvalidObject, Call(s, Rhi.DaObjectSize, Vdev(s), type).X0);
        Assert.Equal((ulong)RhiStatus.InvalidObject, Call(s, Rhi.DaObjectRead, Vdev(s), type, 0x10000, 0x100, 0).X0);
    }

    [Fact]
    public void Input_ForAnUnknownTdiState_AndForRunBeforeLock()
    {
        var s = CcaRealmSession.Start();
        Assert.Equal((ulong)RhiStatus.Input, Call(s, Rhi.DaVdevSetTdiState, Vdev(s), 3).X0);
        var r = Call(s, Rhi.DaVdevSetTdiState, Vdev(s), Rhi.TdiRun);
        Assert.Equal((ulong)RhiStatus.Incomplete, r.X0);
        Assert.Equal((ulong)RhiStatus.Input, Call(s, Rhi.DaVdevContinue, Vdev(s), r.X1).X0); // ENXIO: not bound
    }

    [Theory]
    [InlineData(TsmAbiProfile.OpArch)]
    [InlineData(TsmAbiProfile.Scope)]
    public void InvalidOffset_ForAReadBeyondTheObject(TsmAbiProfile profile)
    {
        var s = Locked(profile);
        ulong size = Call(s, Rhi.DaObjectSize, Vdev(s), Rhi.ObjInterfaceReport).X1;
        Assert.Equal(((ulong)RhiStatus.Success, 0ul), Call(s, Rhi.DaObjectRead, Vdev(s), Rhi.ObjInterfaceReport, 0x10000, 0x100, size));
        Assert.Equal((ulong)RhiStatus.InvalidOffset, Call(s, Rhi.DaObjectRead, Vdev(s), Rhi.ObjInterfaceReport, 0x10000, 0x100, size + 1).X0);
    }

    [Fact]
    public void AccessFailed_ForABufferOrParamsOutsideGuestRam()
    {
        var s = Locked();
        Assert.Equal((ulong)RhiStatus.AccessFailed, Call(s, Rhi.DaObjectRead, Vdev(s), Rhi.ObjInterfaceReport, CcaRealmSession.GuestRamSize - 0x10, 0x100, 0).X0);
        Assert.Equal((ulong)RhiStatus.AccessFailed, Call(s, Rhi.DaVdevGetMeasurements, Vdev(s), CcaRealmSession.GuestRamSize).X0);
    }

    [Fact]
    public void Device_WhenTheDeviceRefusesStart()
    {
        var s = Locked(config: TamperHost.Configuration(TsmAbiProfile.OpArch, out var tamper));
        tamper.XorNext = 1;
        var r = Call(s, Rhi.DaVdevSetTdiState, Vdev(s), Rhi.TdiRun);
        Assert.Equal((ulong)RhiStatus.Device, Call(s, Rhi.DaVdevContinue, Vdev(s), r.X1).X0);
    }

    [Fact]
    public void NotSupported_ForAnUnknownFid_AndForHostConfigurationCallsKvmKeeps()
    {
        var s = CcaRealmSession.Start();
        int exits = s.Vcpu.ExitCount;
        Assert.Equal(Rhi.NotSupported, Call(s, 0xC5000055, Vdev(s)).X0);
        Assert.Equal(exits + 1, s.Vcpu.ExitCount);
        Assert.Equal(Rhi.NotSupported, Call(s, Rhi.HostconfVersion).X0);
        Assert.Equal(exits + 1, s.Vcpu.ExitCount);
    }
}
