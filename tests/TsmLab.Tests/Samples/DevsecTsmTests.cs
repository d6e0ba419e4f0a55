using System.Buffers.Binary;
using System.Text.Json;
using TsmLab.Abi;
using TsmLab.Hosts;
using TsmLab.Kernel;
using TsmLab.Kernel.Tsm;
using TsmLab.Platforms;
using TsmLab.Samples.Devsec;
using TsmLab.Tdisp.Wire;
using TsmLab.Tests.Cli;
using TsmLab.Vmm;

namespace TsmLab.Tests.Samples;

/// <summary>
/// The reviewers' "multiple TSMs" case: the NAME-devsec hosts (a platform's link TSM plus the
/// samples/devsec test TSM serving its own device), the devsec TSM's errno rows
/// (docs/proposal.md, "Two TSMs on one host"), and the TSM_REQ number accounting that makes
/// scope aliasing visible.
/// </summary>
public sealed class DevsecTsmTests
{
    private const string Host = "cca-devsec";

    [Fact]
    public void EveryPlatform_HasADevsecHost_WithTwoTsmsServingDifferentDevices()
    {
        foreach (var platform in PlatformRegistry.All)
        {
            string name = platform.Hosts[0].Name + DevsecBus.HostSuffix;
            Assert.Contains(name, BuiltInHosts.Names);
            var k = HostKernel.Boot(BuiltInHosts.Find(name)!);
            var tsms = k.Tsm.Devices.ToArray();
            Assert.Equal(2, tsms.Length);
            Assert.Equal(DevsecLinkTsm.DriverName, tsms[1].Platform.Name);
            Assert.Equal(platform.Arch, tsms[1].Platform.Arch);
            Assert.NotSame(tsms[0], k.FindFunction(DevsecBus.Pf0)!.ConnectedTsm);
            Assert.Same(tsms[1], k.FindFunction(DevsecBus.Pf0)!.ConnectedTsm);
            Assert.Same(tsms[1], k.FindFunction(DevsecBus.Function1)!.ConnectedTsm);
            Assert.Same(tsms[0], k.Functions[0].ConnectedTsm);
        }
    }

    [Fact]
    public void Connect_OfADeviceOutsideTheDevsecBus_IsEnxio()
    {
        var k = HostKernel.Boot(BuiltInHosts.Find(Host)!);
        var pf0 = k.Functions[0];
        Assert.Equal(0, k.Tsm.Disconnect(pf0, "tsm0"));
        Assert.Equal(-(int)Errno.ENXIO, k.Tsm.Connect(pf0, "tsm1"));
        Assert.Null(pf0.ConnectedTsm);
    }

    [Fact]
    public void Bind_ForAVmOfAnotherArchitecture_IsEinval()
    {
        // A default (non-confidential) VM: the TSM core binds it, the devsec TSM refuses the architecture.
        var a = Assign(vmType: KvmVmType.ArmIpaSizeMask & 40);
        Assert.Equal(-(int)Errno.EINVAL, a.Calls.TsmOp(a.IommuFd, a.VdeviceId, IommuVdeviceTsmOp.TypeBind));
    }

    [Theory]
    [InlineData(new uint[] { 2 }, new[] { 0 }, TdiState.Run)]                     // LOCKED -> RUN
    [InlineData(new uint[] { 0 }, new[] { 0 }, TdiState.ConfigUnlocked)]          // LOCKED -> UNLOCKED
    [InlineData(new uint[] { 2, 0 }, new[] { 0, 0 }, TdiState.ConfigUnlocked)]    // RUN -> UNLOCKED
    [InlineData(new uint[] { 2, 2 }, new[] { 0, -22 }, TdiState.Run)]             // RUN -> RUN: EINVAL
    [InlineData(new uint[] { 1 }, new[] { -22 }, TdiState.ConfigLocked)]          // LOCKED -> LOCKED: EINVAL (bind locks)
    [InlineData(new uint[] { 0, 2 }, new[] { 0, -22 }, TdiState.ConfigUnlocked)]  // UNLOCKED -> RUN: EINVAL
    [InlineData(new uint[] { 3 }, new[] { -22 }, TdiState.ConfigLocked)]          // ERROR is not a target: EINVAL
    public void SetTdiState_FollowsTdisp_AndRefusesOtherTransitionsWithEinval(uint[] targets, int[] results, TdiState final)
    {
        var a = Assign();
        Assert.Equal(0, a.Calls.TsmOp(a.IommuFd, a.VdeviceId, IommuVdeviceTsmOp.TypeBind));
        Span<byte> p = stackalloc byte[4];
        for (int i = 0; i < targets.Length; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(p, targets[i]);
            Assert.Equal(results[i], a.Calls.TsmRequest(a.IommuFd, a.VdeviceId, TsmReqOp.SetTdiState, TvmArch.Cca, p, 0, out _, out ulong code));
            Assert.Equal(0ul, code);
        }
        Assert.Equal(0, a.Calls.TsmInfo(a.IommuFd, a.VdeviceId, out var info));
        Assert.Equal(final, info.TdiState);
    }

    [Fact]
    public void SetTdiState_WithAPayloadOfTheWrongLength_IsEinval_FromTheCoreBeforeTheBackend()
    {
        var a = Assign();
        Assert.Equal(0, a.Calls.TsmOp(a.IommuFd, a.VdeviceId, IommuVdeviceTsmOp.TypeBind));
        // 8 bytes fit the TSM's maximum, so the core lets them through; the backend refuses the length.
        Assert.Equal(-(int)Errno.EINVAL, a.Calls.TsmRequest(a.IommuFd, a.VdeviceId, TsmReqOp.SetTdiState, TvmArch.Cca, new byte[8], 0, out _, out _));
        // 9 bytes exceed it: the core refuses (NotServed) and the backend never sees them.
        Assert.Equal(-(int)Errno.EINVAL, a.Calls.TsmRequest(a.IommuFd, a.VdeviceId, TsmReqOp.SetTdiState, TvmArch.Cca, new byte[9], 0, out _, out _));
        var tsm1 = a.Calls.Process.Kernel.Tsm.Find(1)!;
        Assert.Equal(1, tsm1.OpServed(TsmReqOp.SetTdiState));
    }

    [Fact]
    public void ScopePayload_IsEightBytes_CommandOne_AndAlwaysAStateChange()
    {
        Assert.True(DevsecScopeRequest.TryDecode([1, 0, 0, 0, 2, 0, 0, 0], out uint state, out var cls));
        Assert.Equal(2u, state);
        Assert.Equal(TsmReqClass.StateChange, cls);
        Assert.False(DevsecScopeRequest.TryDecode([2, 0, 0, 0, 2, 0, 0, 0], out _, out _));
        Assert.False(DevsecScopeRequest.TryDecode([1, 0, 0, 0, 2, 0, 0], out _, out _));
        Assert.False(DevsecScopeRequest.TryDecode([1, 0, 0, 0, 2, 0, 0, 0, 0], out _, out _));
        Assert.False(DevsecScopeRequest.TryDecode([], out _, out _));
    }

    [Fact]
    public void ExampleTwoTsm_OpArch_EveryLineGivesItsStatedAnswer_AndSetTdiStateHasOneMeaning()
    {
        var (_, answers) = ExampleScript.Check("two-tsm.jsonl", "--host", Host);
        Assert.True(answers.Count > 60);
        var uses = NumberUses("two-tsm.jsonl");
        var set = Assert.Single(uses, u => u.GetProperty("op").GetString() == "SET_TDI_STATE");
        Assert.Equal(1, set.GetProperty("meanings").GetInt32());
        Assert.False(set.GetProperty("aliased").GetBoolean());
        Assert.Equal(1, set.GetProperty("requests").GetProperty("tsm0").GetInt32());
        Assert.Equal(1, set.GetProperty("requests").GetProperty("tsm1").GetInt32());
        // Nothing refused reached a backend: READ_OBJECT and OBJECT_INFO never counted at tsm1.
        Assert.DoesNotContain(uses, u => u.TryGetProperty("op", out var op) && op.GetString() is "READ_OBJECT" or "OBJECT_INFO" or "SEV_ENABLE_DMA");
    }

    [Fact]
    public void ExampleTwoTsm_Scope_EveryLineGivesItsStatedAnswer_AndCountsTheAliasing()
    {
        var (_, answers) = ExampleScript.Check("two-tsm-scope.jsonl", "--host", Host, "--profile", "scope");
        Assert.True(answers.Count > 60);
        var uses = NumberUses("two-tsm-scope.jsonl", "--profile", "scope");
        var change = Assert.Single(uses, u => u.GetProperty("scope").GetString() == "PCI_STATE_CHANGE");
        Assert.Equal(2, change.GetProperty("meanings").GetInt32());
        Assert.True(change.GetProperty("aliased").GetBoolean());
        Assert.Equal(2, change.GetProperty("aliased_requests").GetInt64());
        var info = Assert.Single(uses, u => u.GetProperty("scope").GetString() == "PCI_INFO");
        Assert.False(info.GetProperty("aliased").GetBoolean());
    }

    [Fact]
    public void NumberUse_OnOneTsm_IsNeverAliased_AndOpArchNeverIs()
    {
        var k = HostKernel.Boot(BuiltInHosts.Find(Host)!);
        var tsm0 = k.Tsm.Find(0)!;
        var tsm1 = k.Tsm.Find(1)!;
        tsm0.CountServed(TsmAbiProfile.OpArch, 0, TsmReqOp.SetTdiState);
        tsm1.CountServed(TsmAbiProfile.OpArch, 0, TsmReqOp.SetTdiState);
        tsm0.CountServed(TsmAbiProfile.Scope, TsmReqScope.PciInfo, 0);
        var uses = TsmNumberUse.Of(k.Tsm);
        Assert.False(uses.Single(u => u.Profile == TsmAbiProfile.OpArch).Aliased);
        Assert.False(uses.Single(u => u.Profile == TsmAbiProfile.Scope).Aliased);
        tsm1.CountServed(TsmAbiProfile.Scope, TsmReqScope.PciInfo, 0);
        var aliased = TsmNumberUse.Of(k.Tsm).Single(u => u.Profile == TsmAbiProfile.Scope);
        Assert.True(aliased.Aliased);
        Assert.Equal(2, aliased.AliasedRequests);
        Assert.Equal("PCI_INFO", aliased.Name);
    }

    [Fact]
    public void Info_OfADevsecHost_ListsBothTsms()
    {
        var (rc, o, e) = CliRunner.Run("", "info", "--host", "sev-devsec");
        Assert.True(rc == 0, e);
        Assert.Contains("tsm1: parent devsec_link_tsm, platform devsec, arch Sev", o);
        Assert.Contains("0001:01:00.0 [abcd:00de] DSM TDISP", o);
        Assert.Contains("/sys/bus/pci/devices/0001:01:00.0/tsm/connect = tsm1", o);
    }

    private static JsonElement[] NumberUses(string example, params string[] extra)
    {
        string path = Path.Combine(CliRunner.RepoRoot(), "examples", example);
        var (rc, o, e) = CliRunner.Run("", ["replay", path, "--host", Host, .. extra, "--info", "--json"]);
        Assert.True(rc == 0, e);
        var last = o.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];
        using var doc = JsonDocument.Parse(last);
        return [.. doc.RootElement.GetProperty("tsm_req_numbers").EnumerateArray().Select(x => x.Clone())];
    }

    /// <summary>vfio5 (the devsec PF0) assigned to a VM of <paramref name="vmType"/> (a realm by default), not bound.</summary>
    private static DeviceAssignment Assign(ulong vmType = KvmVmType.ArmRealm)
    {
        var k = HostKernel.Boot(BuiltInHosts.Find(Host)!);
        var plan = new AssignmentPlan("/dev/vfio/devices/vfio5", vmType, IommuViommuAlloc.TypeArmRealmSmmuV3OrAmd, new(0, 0, 4, 0));
        var a = new DeviceAssignment(k.CreateProcess(), plan);
        Assert.True(a.Prepare(), string.Join("\n", a.Steps.Select(s => $"{s.Call}: {s.ResultText}")));
        return a;
    }
}
