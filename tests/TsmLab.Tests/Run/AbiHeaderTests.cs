using System.Diagnostics;
using TsmLab.Abi;
using TsmLab.Tests.Cli;

namespace TsmLab.Tests.Run;

/// <summary>`tsmlab abi --header`: the C header generated from the catalog.</summary>
public class AbiHeaderTests
{
    [Fact]
    public void Header_HasEveryIoctlAndAStaticAssertOnEverySizeAndOffset()
    {
        var (rc, o, _) = CliRunner.Run("", "abi", "--header");
        Assert.Equal(0, rc);
        foreach (var i in AbiCatalog.Ioctls(TsmAbiProfile.OpArch))
            Assert.Contains($"#define {i.Name,-32} 0x{i.Number:x8}u", o, StringComparison.Ordinal);
        foreach (var (name, s) in AbiHeader.Structs())
        {
            Assert.Contains($"_Static_assert(sizeof(struct {name}) == {s.Size},", o, StringComparison.Ordinal);
            foreach (var f in s.Fields)
            {
                Assert.Contains($"_Static_assert(offsetof(struct {name}, {f.Name}) == {f.Offset},", o, StringComparison.Ordinal);
                Assert.Contains($"_Static_assert(sizeof(((struct {name} *)0)->{f.Name}) == {f.Size},", o, StringComparison.Ordinal);
            }
        }
        Assert.Contains("struct iommu_vdevice_tsm_req_op_arch {", o, StringComparison.Ordinal);
        Assert.Contains("struct iommu_vdevice_tsm_req_scope {", o, StringComparison.Ordinal);
        Assert.Contains("struct iommu_vdevice_tsm_info {", o, StringComparison.Ordinal);
    }

    [Fact]
    public void CommittedHeaderOfTheExamples_IsTheGeneratedOne()
    {
        var (_, o, _) = CliRunner.Run("", "abi", "--header");
        string committed = File.ReadAllText(Path.Combine(CliRunner.RepoRoot(), "examples", "c", "tsmlab-uapi.h"));
        Assert.True(committed == o, "examples/c/tsmlab-uapi.h is stale: run `tsmlab abi --header > examples/c/tsmlab-uapi.h`");
    }

    [Fact]
    public void HeaderAndJson_AreExclusive()
    {
        var (rc, _, e) = CliRunner.Run("", "abi", "--header", "--json");
        Assert.Equal(2, rc);
        Assert.Contains("exclude", e, StringComparison.Ordinal);
    }

    [RunTheory]
    [InlineData("")]
    [InlineData("-DTSMLAB_PROFILE_SCOPE")]
    public void Header_CompilesWithACCompiler_AndTheTsmReqStructIsTheProfilesSize(string define)
    {
        string dir = Directory.CreateTempSubdirectory("tsmlab-header-").FullName;
        try
        {
            var (_, header, _) = CliRunner.Run("", "abi", "--header");
            File.WriteAllText(Path.Combine(dir, "tsmlab-uapi.h"), header);
            File.WriteAllText(Path.Combine(dir, "t.c"), "#include \"tsmlab-uapi.h\"\nint main(void) { return (int)sizeof(struct iommu_vdevice_tsm_req); }\n");
            var psi = new ProcessStartInfo(NativeRun.CompilerPath) { WorkingDirectory = dir, RedirectStandardError = true };
            foreach (var a in new[] { "-std=c11", "-Wall", "-Wextra", "-pedantic", "-Werror", "-o", "t", "t.c" }) psi.ArgumentList.Add(a);
            if (define.Length > 0) psi.ArgumentList.Add(define);
            using (var cc = System.Diagnostics.Process.Start(psi)!)
            {
                string err = cc.StandardError.ReadToEnd();
                cc.WaitForExit();
                Assert.True(cc.ExitCode == 0, err);
            }
            using var t = System.Diagnostics.Process.Start(Path.Combine(dir, "t"))!;
            t.WaitForExit();
            Assert.Equal(define.Length > 0 ? IommuVdeviceTsmReqScope.SizeOf : IommuVdeviceTsmReqOpArch.SizeOf, t.ExitCode);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
