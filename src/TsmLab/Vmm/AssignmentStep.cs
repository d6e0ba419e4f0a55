using TsmLab.Abi;

namespace TsmLab.Vmm;

/// <summary>One call of the VMM's assignment sequence and what the kernel answered.</summary>
public sealed record AssignmentStep(string Name, string Call, long Result, string Detail = "")
{
    public bool Ok => Result >= 0;
    /// <summary>"0", "fd 5", or "-22 EINVAL".</summary>
    public string ResultText => Result >= 0 ? Result.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"{Result} {ErrnoNames.NameOf(Result)}";
}
