using System.Collections.Concurrent;
using System.Diagnostics;


namespace TsmLab.Tests.Kernel;

/// <summary>What one stress worker is doing, for the watchdog's report.</summary>
internal sealed class Worker(string name)
{
    private readonly string[] trail = new string[8];
    private int steps;
    private long stepStarted = Stopwatch.GetTimestamp();
    private volatile bool stopping;

    public string Name { get; } = name;
    public bool Stopping => stopping;
    public int Steps => Volatile.Read(ref steps);
    public Random Random { get; } = new(name.GetHashCode(StringComparison.Ordinal));

    /// <summary>Records the operation about to run (what the report shows if it never returns).</summary>
    public void Step(string operation)
    {
        int n = Interlocked.Increment(ref steps);
        trail[n % trail.Length] = operation;
        Volatile.Write(ref stepStarted, Stopwatch.GetTimestamp());
    }

    public void Stop() => stopping = true;

    public string Report()
    {
        int n = Steps;
        var recent = Enumerable.Range(0, Math.Min(n, trail.Length)).Select(i => trail[(n - i) % trail.Length]);
        return $"{Name}: step {n}, in '{trail[n % trail.Length]}' for {Stopwatch.GetElapsedTime(Volatile.Read(ref stepStarted)).TotalMilliseconds:0} ms; recent: {string.Join(" <- ", recent)}";
    }
}

/// <summary>
/// Runs stress workers on their own threads for a bounded time, then stops them. A worker that
/// does not finish within the hang limit fails the test with every worker's current operation and
/// its recent trail (a managed stack of another thread is not available in-process; the trail
/// names the call that hangs, and the test process id is given for dotnet-stack / createdump).
/// An exception in any worker fails the test with that worker's stack.
/// </summary>
internal static class Watchdog
{
    public static IReadOnlyList<Worker> Run(TimeSpan runFor, TimeSpan hangLimit, params (string Name, Action<Worker> Body)[] bodies) =>
        Run(runFor, hangLimit, null, bodies);

    /// <summary>
    /// Runs for <paramref name="runFor"/>, longer (up to four times as long) while
    /// <paramref name="enough"/> says the run has not yet done what it is for (a loaded machine
    /// schedules the workers less often).
    /// </summary>
    public static IReadOnlyList<Worker> Run(TimeSpan runFor, TimeSpan hangLimit, Func<bool>? enough, params (string Name, Action<Worker> Body)[] bodies)
    {
        var workers = bodies.Select(b => new Worker(b.Name)).ToArray();
        var errors = new ConcurrentQueue<(string, Exception)>();
        var threads = new Thread[bodies.Length];
        for (int i = 0; i < bodies.Length; i++)
        {
            var (w, body) = (workers[i], bodies[i].Body);
            threads[i] = new Thread(() =>
            {
                try { body(w); }
                catch (Exception e) { errors.Enqueue((w.Name, e)); }
            }) { IsBackground = true, Name = w.Name };
        }
        foreach (var t in threads) t.Start();
        var until = Stopwatch.StartNew();
        while ((until.Elapsed < runFor || (enough is not null && !enough() && until.Elapsed < 4 * runFor))
               && errors.IsEmpty && threads.Any(t => t.IsAlive))
            Thread.Sleep(10);
        foreach (var w in workers) w.Stop();
        var deadline = Stopwatch.StartNew();
        foreach (var t in threads)
        {
            var left = hangLimit - deadline.Elapsed;
            if (left < TimeSpan.Zero || !t.Join(left))
                throw new Xunit.Sdk.XunitException($"hang: worker threads did not stop within {hangLimit.TotalSeconds} s (pid {Environment.ProcessId}):\n"
                    + string.Join("\n", workers.Zip(threads).Where(x => x.Second.IsAlive).Select(x => "  STUCK " + x.First.Report()))
                    + "\n" + string.Join("\n", workers.Select(w => "  " + w.Report())));
        }
        if (errors.TryDequeue(out var error))
            throw new Xunit.Sdk.XunitException($"worker {error.Item1} failed: {error.Item2}");
        return workers;
    }
}
