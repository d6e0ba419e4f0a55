namespace TsmLab.Kernel.Tsm;

/// <summary>
/// A reader-writer lock whose readers share nothing: each reader counts itself in the stripe of
/// the CPU it runs on (a cache line of its own) and then checks one writer flag it only reads, so
/// guest requests on different devices and CPUs never write the same cache line to take it — the
/// shape of Linux's <c>percpu_rw_semaphore</c>. A writer (TSM registration, connect, disconnect:
/// rare) raises the flag, which turns new readers away to wait on the writers' monitor, and waits
/// for the stripes to drain. Correctness is the usual store-then-load pairing: a reader increments
/// (a full fence) and then reads the flag; a writer sets the flag, fences, and then sums the
/// stripes, so either the reader sees the writer or the writer sees the reader.
/// Not reentrant (as ReaderWriterLockSlim's NoRecursion): a thread holds at most one mode of one
/// lock, and <see cref="IsReadLockHeld"/> / <see cref="IsWriteLockHeld"/> say whether it is this one.
/// </summary>
internal sealed class PerCpuRwsem
{
    private const int Stripes = 16;   // a power of two
    private const int LineLongs = 8;  // 64 bytes per stripe

    private readonly long[] readers = new long[(Stripes + 1) * LineLongs];
    /// <summary>Serialises writers; readers turned away by a writer wait on it.</summary>
    private readonly Lock writers = new();
    private volatile int writerActive;

    [ThreadStatic] private static PerCpuRwsem? heldRead;
    [ThreadStatic] private static int heldStripe;
    [ThreadStatic] private static PerCpuRwsem? heldWrite;

    public bool IsReadLockHeld => ReferenceEquals(heldRead, this);
    public bool IsWriteLockHeld => ReferenceEquals(heldWrite, this);

    public void EnterReadLock()
    {
        if (heldRead is not null || heldWrite is not null) throw new LockRecursionException("the TSM core rwsem is not reentrant");
        while (true)
        {
            int slot = LineLongs + (Thread.GetCurrentProcessorId() & (Stripes - 1)) * LineLongs;
            Interlocked.Increment(ref readers[slot]);
            if (writerActive == 0)
            {
                heldRead = this;
                heldStripe = slot;
                return;
            }
            Interlocked.Decrement(ref readers[slot]);
            // A writer holds or wants the lock: wait for it to finish, then try again.
            lock (writers) { }
        }
    }

    public void ExitReadLock()
    {
        if (!ReferenceEquals(heldRead, this)) throw new SynchronizationLockException("the read lock is not held");
        heldRead = null;
        Interlocked.Decrement(ref readers[heldStripe]);
    }

    public void EnterWriteLock()
    {
        if (heldRead is not null || heldWrite is not null) throw new LockRecursionException("the TSM core rwsem is not reentrant");
        writers.Enter();
        writerActive = 1;
        Interlocked.MemoryBarrier();
        var spin = new SpinWait();
        while (Readers() != 0) spin.SpinOnce();
        heldWrite = this;
    }

    public void ExitWriteLock()
    {
        if (!ReferenceEquals(heldWrite, this)) throw new SynchronizationLockException("the write lock is not held");
        heldWrite = null;
        writerActive = 0;
        writers.Exit();
    }

    private long Readers()
    {
        long sum = 0;
        for (int s = 1; s <= Stripes; s++) sum += Volatile.Read(ref readers[s * LineLongs]);
        return sum;
    }
}
