namespace TsmLab.Kernel;

/// <summary>
/// A model file that a program reads as a stream of records the model produces and writes
/// records to (iommufd's fault and vEVENTQ fds, <see cref="Iommufd.EventQueueFile"/>). Where the
/// program's read(2) and write(2) do not reach the model — a real program under <c>tsmlab run</c>,
/// whose placeholder is a socket — the file table connects a <see cref="IStreamSink"/>: from then on
/// each record is pushed to the program's side when it is queued (what a read would return), and
/// what the program writes comes back through <see cref="Written"/>. Called by the file table
/// (<c>Run.TargetFiles</c>, the supervisor's poll loop); in-process callers use the file's own
/// read and write.
/// </summary>
public interface IStreamFile
{
    /// <summary>The program's reads now come from <paramref name="sink"/>: queued records go there at once and later ones as they come.</summary>
    void Connect(IStreamSink sink);

    /// <summary>Bytes the program wrote to its end (any split of its writes).</summary>
    void Written(ReadOnlySpan<byte> data);
}

/// <summary>Where a connected <see cref="IStreamFile"/> puts what the program will read.</summary>
public interface IStreamSink
{
    /// <summary>Appends <paramref name="data"/> to what the program can read; false when it cannot take it (the program's end is gone or full).</summary>
    bool Push(ReadOnlySpan<byte> data);

    /// <summary>True when the program has read everything pushed so far (the queue may count those records as read).</summary>
    bool Drained { get; }
}
