using TsmLab.Abi;

namespace TsmLab.Kernel.Iommufd;

/// <summary>
/// The fd of an event queue (eventq.c <c>iommufd_eventq_init</c>, <c>INIT_EVENTQ_FOPS</c>):
/// <c>anon_inode:[iommufd-pgfault]</c> of a <see cref="FaultQueue"/> or
/// <c>anon_inode:[iommufd-viommu-event]</c> of a <see cref="Veventq"/>. It holds a user of its
/// queue (so IOMMU_DESTROY of the queue is EBUSY while it is open) and a reference to the iommufd;
/// its release drops both. Reads and writes go to the queue; under <c>tsmlab run</c> the program's
/// end is a socket the queue pushes records into (<see cref="IStreamFile"/>).
/// </summary>
public sealed class EventQueueFile : KernelFile, IStreamFile
{
    private readonly IommufdContext context;

    internal EventQueueFile(EventQueue queue, IommufdContext context, string name)
    {
        Queue = queue;
        this.context = context;
        Name = name;
        context.Get();
    }

    public override string Name { get; }

    /// <summary>The queue it reads and writes.</summary>
    public EventQueue Queue { get; }

    /// <summary>read(2) at position 0 (the files are not seekable): bytes read, or -errno.</summary>
    public long Read(IUserMemory memory, ulong buffer, ulong count) => Queue.Read(memory, buffer, count);

    /// <summary>write(2) at position 0: bytes consumed, or -errno.</summary>
    public long Write(IUserMemory memory, ulong buffer, ulong count) => Queue.Write(memory, buffer, count);

    public void Connect(IStreamSink sink) => Queue.Connect(sink);

    public void Written(ReadOnlySpan<byte> data) => Queue.Written(data);

    /// <summary><c>iommufd_eventq_fops_release</c>: the queue loses the file's user, the iommufd its reference.</summary>
    protected override void Release()
    {
        context.DropUser(Queue);
        context.Put();
    }
}
