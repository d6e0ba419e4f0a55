using TsmLab.Abi;
using TsmLab.Linux;

namespace TsmLab.Run;

/// <summary>
/// The seccomp filter a program runs under with <c>tsmlab run</c>. It traps only what can reach
/// the model: the open family (open, openat, openat2) and the access family (access, faccessat,
/// faccessat2), which name paths, and ioctl whose command's type byte is one the modelled uAPI
/// uses (iommufd and VFIO ';' 0x3b, KVM 0xae; taken from <see cref="AbiCatalog"/>). Every other
/// syscall, and every other ioctl, runs in the kernel untouched. With read/write trapping (the
/// <c>--trap-rw</c> option), read, write, pread64 and pwrite64 notify too, on every descriptor
/// (a shell redirects a model file onto 0-2), so model files answer them; every such call of the
/// program then pays the round trip.
/// Syscalls of another ABI (i386
/// int 0x80, x32) fail with ENOSYS: the filter's numbers are x86-64's, so it could not see them.
/// </summary>
public static class RunFilter
{
    /// <summary>The syscalls that always notify the supervisor.</summary>
    public static IReadOnlyList<(string Name, int Nr)> PathSyscalls { get; } =
    [
        ("open", SysNr.Open), ("openat", SysNr.Openat), ("openat2", SysNr.Openat2),
        ("access", SysNr.Access), ("faccessat", SysNr.Faccessat), ("faccessat2", SysNr.Faccessat2),
    ];

    /// <summary>The ioctl type bytes (bits 8-15 of the command) that notify the supervisor.</summary>
    public static IReadOnlyList<byte> IoctlTypes { get; } =
        AbiCatalog.Ioctls(TsmAbiProfile.OpArch).Concat(AbiCatalog.Ioctls(TsmAbiProfile.Scope))
            .Select(i => (byte)(i.Number >> 8)).Distinct().Order().ToArray();

    /// <summary>The syscalls that notify with read/write trapping.</summary>
    public static IReadOnlyList<(string Name, int Nr)> ReadWriteSyscalls { get; } =
    [
        ("read", SysNr.Read), ("write", SysNr.Write), ("pread64", SysNr.Pread64), ("pwrite64", SysNr.Pwrite64),
    ];

    /// <summary>The filter as struct sock_filter instructions (8 bytes each).</summary>
    public static byte[] Build(bool trapReadWrite = false)
    {
        const uint OffNr = 0, OffArch = 4, OffArg1Low = 24;
        var p = new BpfProgram()
            .Load(OffArch)
            .JumpIfEqual(Seccomp.AuditArchX86_64, null, "enosys")
            .Load(OffNr)
            .JumpIfAtLeast(SysNr.X32Bit, "enosys")
            .JumpIfEqual(SysNr.Ioctl, "ioctl");
        foreach (var (_, nr) in PathSyscalls) p.JumpIfEqual((uint)nr, "notify");
        if (trapReadWrite)
        {
            // Every fd, the standard streams included: a shell redirects a model file onto 0-2.
            foreach (var (_, nr) in ReadWriteSyscalls) p.JumpIfEqual((uint)nr, "notify");
        }
        p.Return(Seccomp.RetAllow);
        p
            .Label("ioctl")
            .Load(OffArg1Low)
            .And(0xff00);
        foreach (byte t in IoctlTypes) p.JumpIfEqual((uint)t << 8, "notify");
        p.Return(Seccomp.RetAllow)
            .Label("notify")
            .Return(Seccomp.RetUserNotif)
            .Label("enosys")
            .Return(Seccomp.RetErrno | LinuxErrno.ENOSYS);
        return p.Encode();
    }
}
