using System.Text.RegularExpressions;
using TsmLab.Abi;
using TsmLab.Hosts;
using TsmLab.Hosts.Demo;
using TsmLab.Platforms;
using TsmLab.Tdisp.Wire;
using TsmLab.Tests.Cli;
using TsmLab.Tracing;

namespace TsmLab.Tests.Platforms.Toy;

/// <summary>Registration changes process-wide state: these tests run alone, after the parallel ones.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PlatformRegistryCollection
{
    public const string Name = "platform registry";
}

[Collection(PlatformRegistryCollection.Name)]
public sealed class PlatformSeamTests
{
    private static T WithToy<T>(Func<T> body)
    {
        PlatformRegistry.Register(new ToyPlatform());
        try { return body(); }
        finally { PlatformRegistry.Unregister("toy"); }
    }

    [Fact]
    public void ATestPlatform_RegisteredOnce_RunsTheDemoFlowToRunAndBack()
    {
        var r = WithToy(() => PlatformDemo.Run(PlatformRegistry.Find("toy")!, TsmAbiProfile.OpArch, new TraceLog()));
        Assert.True(r.Passed, string.Join("\n", r.Steps));
        Assert.Equal(TdiState.Run, r.Reached);
        Assert.Equal(ToyPlatform.HostName, r.Host);
        Assert.Equal(["lock: bind, read the object", "accept: RUN", "enable DMA: validate MMIO", "unlock"],
            r.Steps.Where(s => s.Layer == "guest").Select(s => s.Name));
    }

    [Fact]
    public void ATestPlatform_ItsHostIsBuiltIn_ForInfoAndReplay_AndForTheDemoCommand()
    {
        WithToy(() =>
        {
            Assert.Contains(ToyPlatform.HostName, BuiltInHosts.Names);
            var (rc, o, e) = CliRunner.Run("", "info", "--host", ToyPlatform.HostName);
            Assert.True(rc == 0, e);
            Assert.Contains("toy-tsm", o);
            (rc, o, e) = CliRunner.Run("", "demo", "--platform", "toy");
            Assert.True(rc == 0, o + e);
            Assert.Contains("toy", o);
            return 0;
        });
        Assert.DoesNotContain(ToyPlatform.HostName, BuiltInHosts.Names);
    }

    [Fact]
    public void AGuestRefusal_NamesTheStep_TheLayer_AndTheErrno()
    {
        var session = WithToy(() => PlatformRegistry.Find("toy")!.Start(TsmAbiProfile.OpArch, null));
        Assert.True(session.Prepared);
        var r = session.Guest.Accept(); // RUN before LOCK: the TSM refuses
        Assert.False(r.Ok);
        Assert.Equal(GuestStep.Accept, r.Step);
        Assert.Equal(RefusingLayer.Host, r.RefusedBy);
        Assert.True(r.Code < 0);
    }

    /// <summary>Outside Platforms/, src/ never names a platform's own namespace or types (the registry lives inside Platforms/).</summary>
    [Fact]
    public void OutsidePlatformsFolder_NoSourceFileNamesAPlatform()
    {
        string root = CliRunner.RepoRoot();
        string platforms = Path.Combine(root, "src", "TsmLab", "Platforms");
        var names = Directory.GetDirectories(platforms).Select(Path.GetFileName).ToList();
        Assert.NotEmpty(names);
        var pattern = new Regex(@"\bPlatforms\.(" + string.Join("|", names) + @")\b");
        var offenders = Directory.EnumerateFiles(Path.Combine(root, "src"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.StartsWith(platforms + Path.DirectorySeparatorChar, StringComparison.Ordinal) && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"))
            .Where(f => pattern.IsMatch(File.ReadAllText(f)))
            .Select(f => Path.GetRelativePath(root, f))
            .ToList();
        Assert.Empty(offenders);
    }

    /// <summary>No PCI function carries an untyped device handle: the device is reached through config space and DOE only.</summary>
    [Fact]
    public void PciFunction_HasNoObjectDeviceHandle()
    {
        var props = typeof(TsmLab.Kernel.Pci.PciFunction).GetProperties().Concat(typeof(TsmLab.Kernel.PciFunctionSpec).GetProperties());
        Assert.DoesNotContain(props, p => p.PropertyType == typeof(object));
    }
}
