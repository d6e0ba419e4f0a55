using System.Text.Json;

namespace TsmLab.Tests.Cli;

public class InfoAndDemoCommandTests
{
    [Fact]
    public void Demo_OnDefaultHost_RunsTheSequenceAndExits0()
    {
        var (rc, o, _) = CliRunner.Run("", "demo");
        Assert.Equal(0, rc);
        Assert.Contains("IOMMU_VDEVICE_TSM_INFO", o);
        Assert.Contains("-6 ENXIO", o);
        Assert.Contains("has no TSM behind it", o);
    }

    [Fact]
    public void Demo_ScopeProfile_Exits0()
    {
        var (rc, o, _) = CliRunner.Run("", "demo", "--profile", "scope");
        Assert.Equal(0, rc);
        Assert.Contains("scope=PCI_INFO", o);
    }

    [Fact]
    public void Info_Json_DescribesTheDefaultHost()
    {
        var (rc, o, _) = CliRunner.Run("", "info", "--json");
        Assert.Equal(0, rc);
        using var doc = JsonDocument.Parse(o);
        Assert.Equal("default", doc.RootElement.GetProperty("host").GetProperty("name").GetString());
        Assert.Equal(5, doc.RootElement.GetProperty("functions").GetArrayLength());
        Assert.Equal("0xabcd", doc.RootElement.GetProperty("functions")[0].GetProperty("vendor").GetString());
        Assert.Equal("/dev/vfio/devices/vfio0", doc.RootElement.GetProperty("functions")[0].GetProperty("vfio").GetString());
        Assert.Equal(0, doc.RootElement.GetProperty("tsms").GetArrayLength());
    }

    [Fact]
    public void Info_Tree_ShowsFunctions()
    {
        var (rc, o, _) = CliRunner.Run("", "info");
        Assert.Equal(0, rc);
        Assert.Contains("0000:01:00.0", o);
        Assert.Contains("(none registered)", o);
    }

    [Fact]
    public void Info_UnknownHost_Exits2()
    {
        var (rc, _, e) = CliRunner.Run("", "info", "--host", "nope");
        Assert.Equal(2, rc);
        Assert.Contains("unknown host 'nope'", e);
    }
}
