namespace TsmLab.Bench;

/// <summary>
/// <c>parallel-cpu</c>: ParallelBench's workloads measured in CPU time per request instead of wall
/// time. On a loaded machine a second thread gets little CPU, so wall-clock throughput says more
/// about the neighbours than about the model; CPU time per request says whether the two threads
/// slow each other down (lock contention, spinning, shared cache lines). If two threads cost the
/// same CPU per request as one, two idle cores run them at twice one thread's throughput. The
/// getppid anchor is measured the same way in the same run.
/// </summary>
internal static class ParallelCpuTime
{
    public const string Verb = "parallel-cpu";

    public static int Execute(string[] args)
    {
        int rounds = args.Length > 0 && int.TryParse(args[0], out int r) && r > 0 ? r : 7;
        var b = new ParallelBench();
        b.Setup();
        var proc = System.Diagnostics.Process.GetCurrentProcess();
        double Cpu(Func<long> work, int requests)
        {
            proc.Refresh();
            var t0 = proc.TotalProcessorTime;
            if (work() != 0) throw new InvalidOperationException("a request failed");
            proc.Refresh();
            return (proc.TotalProcessorTime - t0).TotalNanoseconds / requests;
        }
        var rows = new List<double[]>();
        for (int i = 0; i < rounds + 2; i++)
        {
            var row = new[] { Cpu(b.OneThread, ParallelBench.Requests), Cpu(b.TwoThreadsTwoPfs, 2 * ParallelBench.Requests), Cpu(b.TwoThreadsOnePf, 2 * ParallelBench.Requests),
                Cpu(b.SyscallOneThread, ParallelBench.Requests), Cpu(b.SyscallTwoThreads, 2 * ParallelBench.Requests) };
            if (i >= 2) rows.Add(row); // two rounds of warm-up (tier-1 code)
        }
        b.Cleanup();
        double Median(int c) => rows.Select(x => x[c]).Order().ElementAt(rows.Count / 2);
        Console.WriteLine($"CPU time per request, median of {rounds} rounds ({ParallelBench.Requests} requests per thread per round):");
        Console.WriteLine($"  TSM_REQ, 1 thread (PF A)            {Median(0),7:F0} ns");
        Console.WriteLine($"  TSM_REQ, 2 threads (PF A, PF B)     {Median(1),7:F0} ns  ({Median(1) / Median(0):F2}x one thread's)");
        Console.WriteLine($"  TSM_REQ, 2 threads (PF A, VF of A)  {Median(2),7:F0} ns  ({Median(2) / Median(0):F2}x)");
        Console.WriteLine($"  anchor getppid, 1 thread            {Median(3),7:F0} ns");
        Console.WriteLine($"  anchor getppid, 2 threads           {Median(4),7:F0} ns  ({Median(4) / Median(3):F2}x)");
        return 0;
    }
}
