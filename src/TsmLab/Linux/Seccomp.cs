using System.Buffers.Binary;

namespace TsmLab.Linux;

/// <summary>
/// The seccomp user-notification uAPI (include/uapi/linux/seccomp.h): constants, the ioctls on
/// the listener, and the layouts of <c>struct seccomp_notif</c> (80 bytes),
/// <c>struct seccomp_notif_resp</c> (24) and <c>struct seccomp_notif_addfd</c> (24).
/// </summary>
internal static unsafe class Seccomp
{
    public const int SetModeFilter = 1;
    public const int FilterFlagSpecAllow = 1 << 2;
    public const int FilterFlagNewListener = 1 << 3;
    public const int FilterFlagWaitKillableRecv = 1 << 5;

    public const uint RetKillProcess = 0x8000_0000;
    public const uint RetErrno = 0x0005_0000;
    public const uint RetUserNotif = 0x7fc0_0000;
    public const uint RetAllow = 0x7fff_0000;

    /// <summary>AUDIT_ARCH_X86_64 (EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE).</summary>
    public const uint AuditArchX86_64 = 0xc000_003e;

    public const uint IoctlNotifRecv = 0xc050_2100;   // _IOWR('!', 0, struct seccomp_notif)
    public const uint IoctlNotifSend = 0xc018_2101;   // _IOWR('!', 1, struct seccomp_notif_resp)
    public const uint IoctlNotifIdValid = 0x4008_2102; // _IOW('!', 2, __u64)
    public const uint IoctlNotifAddfd = 0x4018_2103;   // _IOW('!', 3, struct seccomp_notif_addfd)

    public const uint UserNotifFlagContinue = 1;
    public const uint AddfdFlagSetfd = 1;
    public const uint AddfdFlagSend = 2;

    public const int NotifSize = 80;
    public const int RespSize = 24;
    public const int AddfdSize = 24;

    // struct seccomp_notif { __u64 id; __u32 pid; __u32 flags; struct seccomp_data data; }
    // struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; }
    public const int NotifId = 0, NotifPid = 8, NotifNr = 16, NotifArch = 20, NotifArgs = 32;

    /// <summary>One received notification, decoded.</summary>
    public readonly struct Notification(ulong id, int tid, int nr, uint arch, ulong a0, ulong a1, ulong a2, ulong a3)
    {
        public ulong Id { get; } = id;
        /// <summary>The calling thread's id in the supervisor's pid namespace.</summary>
        public int Tid { get; } = tid;
        public int Nr { get; } = nr;
        public uint Arch { get; } = arch;
        public ulong Arg0 { get; } = a0;
        public ulong Arg1 { get; } = a1;
        public ulong Arg2 { get; } = a2;
        public ulong Arg3 { get; } = a3;
    }

    /// <summary>SECCOMP_IOCTL_NOTIF_RECV: 0 with the notification, or -errno (ENOENT: the caller died before we read it).</summary>
    public static long Receive(int listener, out Notification n)
    {
        byte* b = stackalloc byte[NotifSize];
        new Span<byte>(b, NotifSize).Clear();
        long rc = Sys.Call(SysNr.Ioctl, listener, IoctlNotifRecv, (long)b);
        if (rc < 0)
        {
            n = default;
            return rc;
        }
        var s = new ReadOnlySpan<byte>(b, NotifSize);
        n = new Notification(
            BinaryPrimitives.ReadUInt64LittleEndian(s[NotifId..]),
            BinaryPrimitives.ReadInt32LittleEndian(s[NotifPid..]),
            BinaryPrimitives.ReadInt32LittleEndian(s[NotifNr..]),
            BinaryPrimitives.ReadUInt32LittleEndian(s[NotifArch..]),
            BinaryPrimitives.ReadUInt64LittleEndian(s[NotifArgs..]),
            BinaryPrimitives.ReadUInt64LittleEndian(s[(NotifArgs + 8)..]),
            BinaryPrimitives.ReadUInt64LittleEndian(s[(NotifArgs + 16)..]),
            BinaryPrimitives.ReadUInt64LittleEndian(s[(NotifArgs + 24)..]));
        return 0;
    }

    /// <summary>SECCOMP_IOCTL_NOTIF_SEND: the syscall returns <paramref name="value"/> (error 0) or fails with -<paramref name="negErrno"/>.</summary>
    public static long Send(int listener, ulong id, long value, int negErrno, uint flags = 0)
    {
        byte* b = stackalloc byte[RespSize];
        var s = new Span<byte>(b, RespSize);
        BinaryPrimitives.WriteUInt64LittleEndian(s, id);
        BinaryPrimitives.WriteInt64LittleEndian(s[8..], negErrno == 0 ? value : 0);
        BinaryPrimitives.WriteInt32LittleEndian(s[16..], negErrno);
        BinaryPrimitives.WriteUInt32LittleEndian(s[20..], flags);
        return Sys.Call(SysNr.Ioctl, listener, IoctlNotifSend, (long)b);
    }

    /// <summary>Lets the trapped syscall run in the kernel as if it had not been trapped.</summary>
    public static long Continue(int listener, ulong id) => Send(listener, id, 0, 0, UserNotifFlagContinue);

    /// <summary>SECCOMP_IOCTL_NOTIF_ID_VALID: true while the notification's caller still waits for it.</summary>
    public static bool IdValid(int listener, ulong id)
    {
        ulong v = id;
        return Sys.Call(SysNr.Ioctl, listener, IoctlNotifIdValid, (long)&v) == 0;
    }

    /// <summary>
    /// SECCOMP_IOCTL_NOTIF_ADDFD: installs a copy of our <paramref name="srcFd"/> in the caller
    /// (lowest free number); with <paramref name="send"/> the syscall also returns that number
    /// atomically. Returns the caller's new fd, or -errno.
    /// </summary>
    public static long AddFd(int listener, ulong id, int srcFd, bool cloexec, bool send)
    {
        byte* b = stackalloc byte[AddfdSize];
        var s = new Span<byte>(b, AddfdSize);
        BinaryPrimitives.WriteUInt64LittleEndian(s, id);
        BinaryPrimitives.WriteUInt32LittleEndian(s[8..], send ? AddfdFlagSend : 0);
        BinaryPrimitives.WriteUInt32LittleEndian(s[12..], (uint)srcFd);
        BinaryPrimitives.WriteUInt32LittleEndian(s[16..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(s[20..], cloexec ? (uint)LinuxConst.OCloexec : 0);
        return Sys.Call(SysNr.Ioctl, listener, IoctlNotifAddfd, (long)b);
    }
}
