using System.Text;
using CsCheck;
using TsmLab.Hosts;
using TsmLab.Kernel;
using TsmLab.Tdisp.Device;


namespace TsmLab.Tests.Input;

/// <summary>Mutated host and device files: only the documented refusal, never another exception.</summary>
public class InputPropertyTests
{
    private static readonly byte[] DefaultDeviceBytes = Encoding.UTF8.GetBytes(DefaultDevice.Json);

    /// <summary>The text with a few bytes replaced, inserted or deleted.</summary>
    private static Gen<byte[]> Mutated(byte[] original) =>
        Gen.Select(Gen.Int[0, original.Length - 1], Gen.Byte, Gen.Int[0, 2]).Array[1, 6].Select(edits =>
        {
            var b = new List<byte>(original);
            foreach (var (at, value, kind) in edits)
            {
                int i = Math.Min(at, b.Count - 1);
                if (i < 0) break;
                if (kind == 0) b[i] = value;
                else if (kind == 1) b.Insert(i, value);
                else b.RemoveAt(i);
            }
            return b.ToArray();
        });

    [Fact]
    public void MutatedDeviceFiles_AreRefusedAsConfigurationErrors_OrBuildADevice()
    {
        Mutated(DefaultDeviceBytes).Sample(bytes =>
        {
            DeviceConfiguration config;
            try { config = DeviceConfigurationJson.Parse(bytes, "device file 'm.json'"); }
            catch (DeviceConfigurationException e)
            {
                Assert.StartsWith("device file 'm.json'", e.Message, StringComparison.Ordinal);
                return;
            }
            _ = new TdispPciDevice(config);
        }, iter: 300, threads: 1);
    }

    [Fact]
    public void MutatedHostFiles_AreRefusedAsHostFileErrors_OrBoot()
    {
        var host = Encoding.UTF8.GetBytes("""{ "name": "lab1", "base": "cca", "profile": "scope", "description": "the CCA host" }""");
        Mutated(host).Sample(bytes =>
        {
            HostConfiguration config;
            try { config = HostFile.Parse(bytes, "/nonexistent/h.json"); }
            catch (HostFileException e)
            {
                Assert.Contains("host file '/nonexistent/h.json'", e.Message, StringComparison.Ordinal);
                return;
            }
            HostKernel.Boot(config);
        }, iter: 200, threads: 1);
    }
}
