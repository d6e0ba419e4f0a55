namespace TsmLab.Tests;

public class SmokeTests
{
    [Fact]
    public void Abi_PrintsProfile()
    {
        var o = new StringWriter();
        Assert.Equal(0, TsmLab.Cli.Program.Run(["abi"], TextReader.Null, o, new StringWriter()));
        Assert.Contains("op-arch", o.ToString());
    }
}
