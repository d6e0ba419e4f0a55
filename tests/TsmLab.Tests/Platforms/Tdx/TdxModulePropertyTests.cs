using CsCheck;
using TsmLab.Platforms.Tdx;
using TsmLab.Platforms.Tdx.Abi;

namespace TsmLab.Tests.Platforms.Tdx;

/// <summary>Random SEAMCALLs and TDCALLs against a booted, bound module: never an exception, always a known status, and the module's TDI state agrees with the device's.</summary>
public sealed class TdxModulePropertyTests
{
    private static readonly ushort[] Leaves = [.. TdxLeaves.All.Select(l => l.Number)];
    private static readonly Gen<ushort> Leaf = Gen.OneOf(Gen.Int[0, Leaves.Length - 1].Select(i => Leaves[i]), Gen.UShort);

    /// <summary>Register values: small ids, page-like addresses in and out of DRAM, all ones, anything.</summary>
    private static Gen<ulong> Value(TdxSession s)
    {
        ulong[] special = [0xF000_0000ul, 0x40_0000_0000ul, ulong.MaxValue, s.Kernel.Machine.Memory.Base, s.HostFuncId];
        return Gen.OneOf(Gen.ULong[0, 8], Gen.Int[0, special.Length - 1].Select(i => special[i]), Gen.ULong);
    }

    [Fact]
    public void RandomSeamcallsAndTdcalls_NeverThrow_AnswerKnownStatuses_ModuleAndDeviceAgree()
    {
        var known = typeof(TdxStatus).GetFields().Where(f => f.IsLiteral && f.FieldType == typeof(ulong) && f.Name != nameof(TdxStatus.Mask) && !f.Name.StartsWith("Operand", StringComparison.Ordinal) || f.Name is nameof(TdxStatus.OperandInvalid) or nameof(TdxStatus.OperandBusy))
            .Select(f => (ulong)f.GetRawConstantValue()!).ToHashSet();
        var s = TdxSession.Start();
        Assert.True(s.Guest.Lock().Ok);
        var v = Value(s);
        Gen.Select(Leaf, Gen.Bool, v.Array[8]).Sample((leaf, guest, regs) =>
        {
            var r = new TdxRegisters { Rax = leaf, Rcx = regs[0], Rdx = regs[1], R8 = regs[2], R9 = regs[3], R10 = regs[4], R11 = regs[5], R12 = regs[6], R13 = regs[7] };
            if (leaf == TdxLeaves.ExtMemAdd || leaf == TdxLeaves.MngCreate) return; // they take pages away for good
            if (guest) { if (leaf != TdxLeaves.VpVmcall) s.Module.Tdcall(s.Vcpu.Tdr, ref r, s.Vcpu); }
            else s.Module.Seamcall(ref r);
            Assert.Contains(TdxStatus.Code(r.Rax), known);
        }, iter: 400, threads: 1);
        // The module's view of the TDI and the device's never disagree, whatever was refused.
        var device = s.Device.FindInterface(TsmLab.Tdisp.Wire.TdiFunctionId.FromRid(s.Function.Address.RequesterId))!.State;
        Assert.Equal(device, s.Module.StateOf(s.HostFuncId));
    }
}
