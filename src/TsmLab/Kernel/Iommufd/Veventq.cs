using System.Buffers.Binary;
using TsmLab.Abi;

namespace TsmLab.Kernel.Iommufd;

/// <summary>
/// A vIOMMU's event queue of one type (<c>struct iommufd_veventq</c>, IOMMUFD_OBJ_VEVENTQ, eventq.c,
/// driver.c <c>iommufd_viommu_report_event</c>) made by IOMMU_VEVENTQ_ALLOC. Each vEVENT is an
/// 8-byte <c>iommufd_vevent_header</c> {flags, sequence} and its data; at most <see cref="Depth"/>
/// unread events are kept, and one more while full becomes the lost-events header (flag
/// IOMMU_VEVENTQ_FLAG_LOST_EVENTS, no data), which stays last and takes the newest sequence.
/// Sequences run 0…INT_MAX and wrap to 0. Under <c>tsmlab run</c> an event counts as read once the
/// program's end has been drained (<see cref="IStreamSink.Drained"/>).
/// </summary>
public sealed class Veventq : EventQueue
{
    /// <summary><c>IOMMU_VEVENTQ_FLAG_LOST_EVENTS</c>.</summary>
    public const uint FlagLostEvents = 1;
    private const int HeaderSize = 8;

    private readonly LinkedList<Vevent> deliver = new();
    private readonly Vevent lost = new(FlagLostEvents, []);
    private uint numEvents;
    private uint sequence;
    private uint pushedEvents;

    internal Veventq(Viommu viommu, uint eventType, uint depth)
    {
        Viommu = viommu;
        EventType = eventType;
        Depth = depth;
    }

    public override IommufdObjectType Type => IommufdObjectType.Veventq;
    public Viommu Viommu { get; }
    /// <summary>The event type (<c>enum iommu_veventq_type</c>); one queue per type per vIOMMU.</summary>
    public uint EventType { get; }
    /// <summary><c>veventq_depth</c>.</summary>
    public uint Depth { get; }

    /// <summary>One queued vEVENT (the lost-events header is one shared instance).</summary>
    private sealed class Vevent(uint flags, byte[] data)
    {
        public uint Flags { get; } = flags;
        public uint Sequence { get; set; }
        public byte[] Data { get; } = data;
    }

    /// <summary>
    /// <c>iommufd_viommu_report_event</c> once the queue is found: full (num_events = depth) queues
    /// the lost-events header, else the event; <c>iommufd_vevent_handler</c> moves a lost-events
    /// header that is last behind the new record and gives the record the next sequence.
    /// </summary>
    internal void Report(ReadOnlySpan<byte> data)
    {
        lock (Gate)
        {
            if (Sink is { Drained: true })
            {
                numEvents -= pushedEvents;
                pushedEvents = 0;
            }
            Vevent v;
            if (numEvents == Depth) v = lost;
            else
            {
                v = new Vevent(0, data.ToArray());
                numEvents++;
            }
            if (deliver.Last?.Value == lost) deliver.RemoveLast();
            deliver.AddLast(v);
            v.Sequence = sequence;
            sequence = (sequence + 1) & int.MaxValue;
            if (Sink is not null) Flush();
        }
    }

    private protected override void Flush()
    {
        Span<byte> small = stackalloc byte[64];
        while (deliver.First is { } node)
        {
            var v = node.Value;
            int n = HeaderSize + v.Data.Length;
            // One push per record, so a full socket keeps the whole record queued (the mock's data is 4 bytes).
            var record = n <= small.Length ? small[..n] : new byte[n];
            BinaryPrimitives.WriteUInt32LittleEndian(record, v.Flags);
            BinaryPrimitives.WriteUInt32LittleEndian(record[4..], v.Sequence);
            v.Data.CopyTo(record[HeaderSize..]);
            if (!Sink!.Push(record)) return;
            deliver.RemoveFirst();
            if (v != lost) pushedEvents++;
        }
    }

    /// <summary>
    /// <c>iommufd_veventq_fops_read</c>: records while their header (and, but for the lost-events
    /// header, data) fit; a fault writing EFAULT (the record stays) unless something was read; 0
    /// when nothing is queued. A read event leaves the count of unread ones.
    /// </summary>
    internal override long Read(IUserMemory memory, ulong buffer, ulong count)
    {
        Span<byte> header = stackalloc byte[HeaderSize];
        ulong done = 0;
        int rc = 0;
        lock (Gate)
        {
            while (deliver.First is { } node)
            {
                var v = node.Value;
                if (done >= count || HeaderSize > count - done) break;
                // The kernel compares sizeof(hdr) — a pointer, 8 bytes — plus data_len with what is left.
                if (v != lost && HeaderSize + (ulong)v.Data.Length > count - done) break;
                BinaryPrimitives.WriteUInt32LittleEndian(header, v.Flags);
                BinaryPrimitives.WriteUInt32LittleEndian(header[4..], v.Sequence);
                if (memory.CopyToUser(buffer + done, header) < 0) { rc = Errno.EFAULT.Neg(); break; }
                if (v.Data.Length > 0 && memory.CopyToUser(buffer + done + HeaderSize, v.Data) < 0) { rc = Errno.EFAULT.Neg(); break; }
                deliver.RemoveFirst();
                if (v != lost) numEvents--;
                done += HeaderSize + (ulong)v.Data.Length;
            }
        }
        return done == 0 ? rc : (long)done;
    }

    internal override void Destroy()
    {
        lock (Gate) deliver.Clear();
    }
}
