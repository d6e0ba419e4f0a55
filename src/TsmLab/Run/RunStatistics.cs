namespace TsmLab.Run;

/// <summary>What the supervisor did during one run (for tests, benchmarks and <c>--stats</c>).</summary>
public sealed class RunStatistics
{
    /// <summary>Notifications received.</summary>
    public long Notifications { get; internal set; }
    /// <summary>Syscalls the model answered (opens of its paths, ioctls on its files, access checks).</summary>
    public long Emulated { get; internal set; }
    /// <summary>Syscalls handed back to the kernel (SECCOMP_USER_NOTIF_FLAG_CONTINUE).</summary>
    public long Continued { get; internal set; }
    /// <summary>Notifications whose caller died or was killed before the answer (dropped).</summary>
    public long Dropped { get; internal set; }
    /// <summary>Model files released because the program closed their last descriptor (or exited).</summary>
    public long Released { get; internal set; }
}
