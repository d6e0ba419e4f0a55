using TsmLab.Kernel.Tsm;

namespace TsmLab.Tests.Kernel.Tsm;

/// <summary>The TSM core's per-CPU reader-writer lock: writers exclude readers and each other, readers run together, no reentrancy.</summary>
public sealed class PerCpuRwsemTests
{
    [Fact]
    public void WritersExcludeReaders_AndEachOther_UnderContention()
    {
        var rw = new PerCpuRwsem();
        long a = 0, b = 0; // a writer keeps a == b; a reader must never see them differ
        int readers = 0, violations = 0;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        var threads = new List<Thread>();
        for (int t = 0; t < 4; t++)
            threads.Add(new Thread(() =>
            {
                while (!stop.IsCancellationRequested)
                {
                    rw.EnterReadLock();
                    Interlocked.Increment(ref readers);
                    if (Volatile.Read(ref a) != Volatile.Read(ref b)) Interlocked.Increment(ref violations);
                    Interlocked.Decrement(ref readers);
                    rw.ExitReadLock();
                }
            }));
        for (int t = 0; t < 2; t++)
            threads.Add(new Thread(() =>
            {
                while (!stop.IsCancellationRequested)
                {
                    rw.EnterWriteLock();
                    if (Volatile.Read(ref readers) != 0) Interlocked.Increment(ref violations);
                    Volatile.Write(ref a, a + 1);
                    Thread.SpinWait(50);
                    Volatile.Write(ref b, b + 1);
                    rw.ExitWriteLock();
                    Thread.Yield();
                }
            }));
        threads.ForEach(t => t.Start());
        threads.ForEach(t => Assert.True(t.Join(TimeSpan.FromSeconds(20))));
        Assert.Equal(0, violations);
        Assert.True(a > 0);
    }

    [Fact]
    public void HeldFlags_AreThisThreadsAndThisLocks_AndRecursionThrows()
    {
        var rw = new PerCpuRwsem();
        var other = new PerCpuRwsem();
        Assert.False(rw.IsReadLockHeld);
        rw.EnterReadLock();
        Assert.True(rw.IsReadLockHeld);
        Assert.False(other.IsReadLockHeld);
        Assert.Throws<LockRecursionException>(rw.EnterReadLock);
        Assert.Throws<LockRecursionException>(rw.EnterWriteLock);
        bool seenElsewhere = true;
        var t = new Thread(() => seenElsewhere = rw.IsReadLockHeld);
        t.Start();
        t.Join();
        Assert.False(seenElsewhere);
        rw.ExitReadLock();
        Assert.Throws<SynchronizationLockException>(rw.ExitReadLock);
        rw.EnterWriteLock();
        Assert.True(rw.IsWriteLockHeld);
        rw.ExitWriteLock();
        Assert.Throws<SynchronizationLockException>(rw.ExitWriteLock);
    }
}
