using TsmLab.Tests.Cli;

namespace TsmLab.Tests.Platforms.Tdx;

public sealed class TdxAbiCommandTests
{
    [Fact]
    public void AbiPlatformTdx_ListsEveryLeafWithItsNumberAndMarksTsmLabDefinitions()
    {
        var (rc, o, e) = CliRunner.Run("", "abi", "--platform", "tdx");
        Assert.True(rc == 0, e);
        var lines = o.Split('\n');
        Assert.Contains(lines, l => l.Contains("SEAMCALL TDH.SPDM.CONNECT", StringComparison.Ordinal) && l.TrimEnd().EndsWith("0x8e", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("TDH.DEVIF.CREATE (Gen-1 TDX-IO number)", StringComparison.Ordinal) && l.Contains("0x89", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("TDH.TDI.START", StringComparison.Ordinal) && l.Contains("(TsmLab definition)", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("KVM_EXIT_TDX", StringComparison.Ordinal) && l.TrimEnd().EndsWith("0x28", StringComparison.Ordinal));
        Assert.Contains("spdm_config_info_t", o, StringComparison.Ordinal);
    }
}
