using System.Text.Json;

namespace TsmLab.Tests.Cli;

/// <summary><c>tsmlab abi --platform NAME [--json]</c>: the platform's interfaces from the model's own tables.</summary>
public sealed class AbiPlatformCommandTests
{
    [Fact]
    public void Cca_Json_HasTheIssueShape_WithThePinnedRevisionsValues()
    {
        var (rc, o, e) = CliRunner.Run("", "abi", "--platform", "cca", "--json");
        Assert.True(rc == 0, e);
        using var doc = JsonDocument.Parse(o);
        var root = doc.RootElement;
        Assert.Equal("cca", root.GetProperty("platform").GetString());
        Assert.Contains("9a7f8ef", root.GetProperty("revision").GetString());
        var create = root.GetProperty("calls").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "RMI_PDEV_CREATE");
        Assert.Equal("RMI", create.GetProperty("interface").GetString());
        Assert.Equal("0xc4000176", create.GetProperty("id").GetString());
        var rsi = root.GetProperty("enums").EnumerateArray().Single(x => x.GetProperty("name").GetString() == "RsiStatus");
        Assert.Equal(5, rsi.GetProperty("values").GetProperty("RSI_ERROR_DEVICE").GetInt32());
        var pdev = root.GetProperty("enums").EnumerateArray().Single(x => x.GetProperty("name").GetString() == "RmmPdevState");
        Assert.Equal(4, pdev.GetProperty("values").GetProperty("RMI_PDEV_STATE_STOPPED").GetInt32());
        var info = root.GetProperty("structs").EnumerateArray().Single(x => x.GetProperty("name").GetString() == "rsi_vdevice_info");
        Assert.Equal(0x200, info.GetProperty("size").GetInt32());
        Assert.False(info.GetProperty("tsmlab_definition").GetBoolean());
        var state = info.GetProperty("fields").EnumerateArray().Single(f => f.GetProperty("name").GetString() == "state");
        Assert.Equal((64, 8), (state.GetProperty("offset").GetInt32(), state.GetProperty("size").GetInt32()));
        Assert.Contains(root.GetProperty("structs").EnumerateArray(), s => s.GetProperty("tsmlab_definition").GetBoolean());
    }

    [Fact]
    public void Cca_Text_ListsCallsEnumsAndStructs()
    {
        var (rc, o, e) = CliRunner.Run("", "abi", "--platform", "cca");
        Assert.True(rc == 0, e);
        Assert.Contains("RMI_PDEV_SET_PUBKEY", o);
        Assert.Contains("RSI_VDEV_STATE_STARTED", o);
        Assert.Contains("rmi_pdev_params", o);
    }

    [Fact]
    public void UnknownPlatform_IsAUsageError_NamingTheChoices()
    {
        var (rc, _, e) = CliRunner.Run("", "abi", "--platform", "nope");
        Assert.Equal(2, rc);
        Assert.Contains("unknown platform 'nope'", e);
    }
}
