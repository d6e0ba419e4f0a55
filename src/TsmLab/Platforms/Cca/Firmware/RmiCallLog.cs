namespace TsmLab.Platforms.Cca.Firmware;

/// <summary>
/// The RMI calls the RMM served, for tests and tracing: a count of every call and the function ids
/// of the last <see cref="Capacity"/> of them, so a long-running host (a replay, a traced program)
/// holds a bounded log. Guarded by the RMM's lock (every write happens inside an RMI call); reads
/// are for a quiescent RMM.
/// </summary>
public sealed class RmiCallLog
{
    /// <summary>How many of the latest calls are kept.</summary>
    public const int Capacity = 4096;

    private readonly ulong[] ring = new ulong[Capacity];

    /// <summary>Calls served since the RMM started.</summary>
    public long Count { get; private set; }

    internal void Add(ulong fid)
    {
        ring[Count % Capacity] = fid;
        Count++;
    }

    /// <summary>The function ids of the calls after the <paramref name="mark"/>-th (a previous <see cref="Count"/>), oldest first; at most the last <see cref="Capacity"/>.</summary>
    public IReadOnlyList<ulong> Since(long mark)
    {
        long first = Math.Max(Math.Max(mark, 0), Count - Capacity);
        var list = new ulong[Math.Max(0, Count - first)];
        for (long i = first; i < Count; i++) list[i - first] = ring[i % Capacity];
        return list;
    }

    /// <summary>Whether one of the kept calls was <paramref name="fid"/>.</summary>
    public bool Contains(ulong fid) => Since(0).Contains(fid);
}
