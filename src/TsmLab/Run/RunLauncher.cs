using System.Runtime.InteropServices;
using System.Text;
using TsmLab.Linux;

namespace TsmLab.Run;

/// <summary>
/// The launcher half of <c>tsmlab run</c>: a fresh TsmLab process that installs the seccomp
/// filter (<see cref="RunFilter"/>) with a listener on its own main thread, reports the
/// listener's fd number through the "ready" FIFO, waits for the supervisor's go byte on the
/// "go" FIFO (the listener is close-on-exec, so the supervisor must hold its own copy, taken
/// with pidfd_getfd, before the exec), and execve()s the program. Everything the exec needs is
/// marshalled before the filter goes in, so nothing between seccomp() and execve() can be
/// trapped. No TSYNC: execve ends the runtime's other threads and keeps the caller's filter.
/// </summary>
public static unsafe class RunLauncher
{
    /// <summary>The hidden first argument that puts the CLI into launcher mode.</summary>
    public const string Verb = "__tsmlab-run-launch";

    /// <summary>
    /// Runs the launcher. <paramref name="args"/>: ready FIFO, go FIFO, the filter's options
    /// ("rw" to trap read/write, "-" for none), resolved program path, then the program's argv
    /// (argv[0] first). Returns only on failure: 125 (no filter, no
    /// supervisor), 126 (not executable) or 127 (not found), after one line on stderr.
    /// </summary>
    public static int Main(string[] args)
    {
        if (args.Length < 5)
        {
            Fail("tsmlab run: internal launcher called without its arguments");
            return 125;
        }
        // Marshal everything first: path, argv, the environment exactly as this process got it.
        byte* path = Utf8z(args[3]);
        var argv = (byte**)NativeMemory.AllocZeroed((nuint)(args.Length - 4 + 1), (nuint)sizeof(byte*));
        for (int i = 4; i < args.Length; i++) argv[i - 4] = Utf8z(args[i]);
        byte** envp = Environ();
        byte[] filter = RunFilter.Build(trapReadWrite: args[2] == "rw");
        byte* insns = (byte*)NativeMemory.Alloc((nuint)filter.Length);
        filter.CopyTo(new Span<byte>(insns, filter.Length));
        // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
        ulong* fprog = (ulong*)NativeMemory.AllocZeroed(2, 8);
        fprog[0] = (ulong)(filter.Length / 8);
        fprog[1] = (ulong)insns;
        byte* failExec = Utf8z($"tsmlab run: cannot execute '{Input.Printable.Of(args[3])}': ");

        long parent = Sys.Call(SysNr.Getppid);
        long ready = Sys.Open(args[0], LinuxConst.ORdwr | LinuxConst.OCloexec);
        long go = Sys.Open(args[1], LinuxConst.ORdwr | LinuxConst.OCloexec);
        if (ready < 0 || go < 0)
        {
            Fail("tsmlab run: the launcher cannot open its FIFOs");
            return 125;
        }

        // SPEC_ALLOW: the filter is not a sandbox, so the program keeps its speculative-store-bypass
        // setting instead of the SSBD mitigation seccomp would switch on (a slowdown of everything).
        const int flags = Seccomp.FilterFlagNewListener | Seccomp.FilterFlagWaitKillableRecv | Seccomp.FilterFlagSpecAllow;
        long listener = Sys.Call(SysNr.Seccomp, Seccomp.SetModeFilter, flags, (long)fprog);
        if (listener == -LinuxErrno.EACCES)
        {
            // Without CAP_SYS_ADMIN a filter needs no_new_privs (as for any unprivileged seccomp user).
            Sys.Call(SysNr.Prctl, LinuxConst.PrSetNoNewPrivs, 1, 0, 0, 0);
            listener = Sys.Call(SysNr.Seccomp, Seccomp.SetModeFilter, flags, (long)fprog);
        }
        if (listener < 0)
        {
            Fail(listener == -LinuxErrno.EINVAL
                ? "tsmlab run: this kernel refuses a seccomp listener with WAIT_KILLABLE_RECV (Linux 5.19 or later is needed)"
                : $"tsmlab run: cannot install the seccomp filter ({Errname(listener)}); a container that forbids seccomp cannot run programs under the model");
            return 125;
        }
        // From here on only syscalls the filter never traps until execve: writev, poll, getppid
        // and readv (with --trap-rw, read and write would wait for a supervisor that has no
        // listener yet), rt_sigaction, rt_sigprocmask, execve.
        int lfd = (int)listener;
        ulong* iov = stackalloc ulong[2];
        iov[0] = (ulong)&lfd;
        iov[1] = 4;
        Sys.Call(SysNr.Writev, ready, (long)iov, 1);
        byte goByte = 0;
        iov[0] = (ulong)&goByte;
        iov[1] = 1;
        // The go FIFO is open read-write here, so a supervisor that died never gives end-of-file:
        // wait in slices and give up when this process has been re-parented.
        while (Sys.PollOne((int)go, LinuxConst.PollIn, 500, out _) == 0)
            if (Sys.Call(SysNr.Getppid) != parent) return 125;
        long n;
        do n = Sys.Call(SysNr.Readv, go, (long)iov, 1);
        while (n == -LinuxErrno.EINTR);
        if (n != 1 || goByte != (byte)'g') return 125; // the supervisor gave up; it has said why

        // The runtime ignores SIGPIPE; an ignored disposition survives execve, a handled one does
        // not. Give the program the default, and an empty signal mask, as a shell would.
        ulong* act = stackalloc ulong[4];
        act[0] = act[1] = act[2] = act[3] = 0;
        Sys.Call(13 /* rt_sigaction */, 13 /* SIGPIPE */, (long)act, 0, 8);
        ulong mask = 0;
        Sys.Call(14 /* rt_sigprocmask */, 2 /* SIG_SETMASK */, (long)&mask, 0, 8);

        long rc = Sys.Call(SysNr.Execve, (long)path, (long)argv, (long)envp);
        // Still here: the exec failed. Report it with raw writes (no runtime I/O under the filter).
        Sys.Call(SysNr.Write, 2, (long)failExec, Strlen(failExec));
        byte[] reason = Encoding.UTF8.GetBytes(Errname(rc) + "\n");
        fixed (byte* r = reason) Sys.Call(SysNr.Write, 2, (long)r, reason.Length);
        return rc == -LinuxErrno.ENOENT || rc == -LinuxErrno.ENOTDIR ? 127 : 126;
    }

    private static void Fail(string line) => Console.Error.WriteLine(line);

    private static string Errname(long rc) => new System.ComponentModel.Win32Exception((int)-rc).Message;

    private static byte* Utf8z(string s)
    {
        int n = Encoding.UTF8.GetByteCount(s);
        byte* p = (byte*)NativeMemory.Alloc((nuint)n + 1);
        Encoding.UTF8.GetBytes(s, new Span<byte>(p, n));
        p[n] = 0;
        return p;
    }

    private static long Strlen(byte* s)
    {
        long n = 0;
        while (s[n] != 0) n++;
        return n;
    }

    /// <summary>envp from /proc/self/environ: the exact bytes this process was started with.</summary>
    private static byte** Environ()
    {
        byte[] raw;
        try { raw = File.ReadAllBytes("/proc/self/environ"); }
        catch (IOException) { raw = []; }
        int count = 0;
        foreach (byte b in raw) if (b == 0) count++;
        var envp = (byte**)NativeMemory.AllocZeroed((nuint)count + 1, (nuint)sizeof(byte*));
        byte* copy = (byte*)NativeMemory.Alloc((nuint)raw.Length + 1);
        raw.CopyTo(new Span<byte>(copy, raw.Length));
        int start = 0, k = 0;
        for (int i = 0; i < raw.Length; i++)
        {
            if (raw[i] != 0) continue;
            envp[k++] = copy + start;
            start = i + 1;
        }
        return envp;
    }
}
