using TsmLab.Abi;

namespace TsmLab.Kernel.Iommufd;

/// <summary>
/// An iommufd event queue (<c>struct iommufd_eventq</c>, eventq.c): the object behind a fault
/// queue (<see cref="FaultQueue"/>) or a vEVENTQ (<see cref="Veventq"/>), read and written
/// through its <see cref="EventQueueFile"/>. Records wait in the deliver list until read; when the
/// file is connected to a <see cref="IStreamSink"/> (the program's socket under <c>tsmlab run</c>)
/// each record is pushed there as it is queued, which counts as its read (TsmLab definition:
/// the model cannot see the program's read(2), so a record is read once it is pushed; the read of
/// an empty queue then gives EAGAIN, as the socket is non-blocking, where Linux gives 0).
/// <para>Thread safety: <see cref="Gate"/> (<c>eventq->lock</c> and the fault queue's mutex) guards
/// the lists, the sink and the counters.</para>
/// </summary>
public abstract class EventQueue : IommufdObject
{
    private IStreamSink? sink;

    /// <summary>Guards the queue's lists, counters and sink.</summary>
    internal Lock Gate { get; } = new();

    /// <summary>The sink records are pushed to, or null (caller holds <see cref="Gate"/>).</summary>
    private protected IStreamSink? Sink => sink;

    /// <summary>The program's reads now come from <paramref name="to"/>: what is queued goes at once.</summary>
    internal void Connect(IStreamSink to)
    {
        lock (Gate)
        {
            sink = to;
            Flush();
        }
    }

    /// <summary>Pushes every deliverable record to the sink (caller holds <see cref="Gate"/>; the sink is set).</summary>
    private protected abstract void Flush();

    /// <summary>read(2) of the queue's fd (<c>*ppos</c> is always 0: the files are not seekable).</summary>
    internal abstract long Read(IUserMemory memory, ulong buffer, ulong count);

    /// <summary>write(2) of the queue's fd.</summary>
    internal virtual long Write(IUserMemory memory, ulong buffer, ulong count) => Errno.EINVAL.Neg();

    /// <summary>What the program wrote to its connected end.</summary>
    internal virtual void Written(ReadOnlySpan<byte> data) { }

    /// <summary>The object's destroy: drops what is queued.</summary>
    internal abstract void Destroy();
}
