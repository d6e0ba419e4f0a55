using System.Buffers.Binary;
using TsmLab.Abi;

namespace TsmLab.Kernel.Iommufd;

/// <summary>
/// An IOPF queue (<c>struct iommufd_fault</c>, IOMMUFD_OBJ_FAULT, eventq.c) made by
/// IOMMU_FAULT_QUEUE_ALLOC. A HWPT allocated with IOMMU_HWPT_FAULT_ID_VALID sends the page faults of
/// its devices here (<see cref="Report"/>, reached from IOMMU_TEST_OP_TRIGGER_IOPF); a read gives
/// each as a 40-byte <c>struct iommu_hwpt_pgfault</c> with a cookie (the lowest free from 1,
/// <c>xa_alloc</c> of the response table) and the program answers with 8-byte
/// <c>struct iommu_hwpt_page_response</c> records naming the cookie. Destroying the queue
/// answers every pending fault INVALID (<c>iommufd_fault_destroy</c>).
/// </summary>
public sealed class FaultQueue : EventQueue
{
    /// <summary><c>sizeof(struct iommu_hwpt_pgfault)</c> and <c>sizeof(struct iommu_hwpt_page_response)</c>.</summary>
    public const int FaultSize = 40, ResponseSize = 8;
    /// <summary><c>IOMMUFD_PAGE_RESP_SUCCESS</c>, <c>IOMMUFD_PAGE_RESP_INVALID</c>.</summary>
    public const uint RespSuccess = 0, RespInvalid = 1;
    /// <summary><c>IOMMU_FAULT_PAGE_REQUEST_PASID_VALID</c>, <c>IOMMU_FAULT_PAGE_REQUEST_LAST_PAGE</c> (include/linux/iommu.h).</summary>
    public const uint FlagPasidValid = 1u << 0, FlagLastPage = 1u << 1;

    private readonly List<Fault> deliver = new();
    private readonly SortedDictionary<uint, Fault> response = new();
    private readonly byte[] partial = new byte[ResponseSize];
    private int partialLength;

    public override IommufdObjectType Type => IommufdObjectType.Fault;

    /// <summary>One page fault of one device (an <c>iopf_group</c> of one fault).</summary>
    internal sealed record Fault(uint Flags, uint DevId, uint Pasid, uint Grpid, uint Perm, ulong Addr);

    /// <summary>Faults queued and not yet read (observation for tests).</summary>
    public int Pending
    {
        get { lock (Gate) return deliver.Count; }
    }

    /// <summary>Faults read and not yet answered (observation for tests).</summary>
    public int AwaitingResponse
    {
        get { lock (Gate) return response.Count; }
    }

    /// <summary><c>iommufd_fault_iopf_handler</c>: the fault joins the deliver list (and goes to a connected sink).</summary>
    internal void Report(Fault fault)
    {
        lock (Gate)
        {
            deliver.Add(fault);
            if (Sink is not null) Flush();
        }
    }

    private protected override void Flush()
    {
        Span<byte> record = stackalloc byte[FaultSize];
        while (deliver.Count > 0)
        {
            var f = deliver[0];
            uint cookie = NextCookie();
            Compose(f, cookie, record);
            if (!Sink!.Push(record)) return;
            deliver.RemoveAt(0);
            response.Add(cookie, f);
        }
    }

    /// <summary>
    /// <c>iommufd_fault_fops_read</c>: a count not a multiple of 40 ESPIPE; then whole faults while
    /// they fit, each given a cookie and kept for its response; a fault writing the buffer EFAULT
    /// (the fault stays queued) unless something was read. 0 when nothing is queued.
    /// </summary>
    internal override long Read(IUserMemory memory, ulong buffer, ulong count)
    {
        if (count % FaultSize != 0) return Errno.ESPIPE.Neg();
        Span<byte> record = stackalloc byte[FaultSize];
        ulong done = 0;
        int rc = 0;
        lock (Gate)
        {
            while (deliver.Count > 0 && done < count && FaultSize <= count - done)
            {
                var f = deliver[0];
                uint cookie = NextCookie();
                Compose(f, cookie, record);
                if (memory.CopyToUser(buffer + done, record) < 0)
                {
                    rc = Errno.EFAULT.Neg();
                    break;
                }
                deliver.RemoveAt(0);
                response.Add(cookie, f);
                done += FaultSize;
            }
        }
        return done == 0 ? rc : (long)done;
    }

    /// <summary>
    /// <c>iommufd_fault_fops_write</c>: a count not a multiple of 8 ESPIPE; then each response: a
    /// code other than SUCCESS or INVALID EINVAL, a cookie not awaiting a response EINVAL, else the
    /// fault is answered and forgotten. An unreadable response stops the loop and, when nothing was
    /// consumed, the kernel returns copy_from_user's count of bytes not copied (8 here).
    /// </summary>
    internal override long Write(IUserMemory memory, ulong buffer, ulong count)
    {
        if (count % ResponseSize != 0) return Errno.ESPIPE.Neg();
        Span<byte> r = stackalloc byte[ResponseSize];
        ulong done = 0;
        long rc = 0;
        lock (Gate)
        {
            while (count > done)
            {
                if (memory.CopyFromUser(r, buffer + done) < 0)
                {
                    rc = ResponseSize;
                    break;
                }
                rc = Respond(r);
                if (rc < 0) break;
                done += ResponseSize;
            }
        }
        return done == 0 ? rc : (long)done;
    }

    /// <summary>Responses the program wrote to its connected end, in any split: each whole one is applied (errors dropped, as nobody can see them).</summary>
    internal override void Written(ReadOnlySpan<byte> data)
    {
        lock (Gate)
        {
            while (data.Length > 0)
            {
                int n = Math.Min(ResponseSize - partialLength, data.Length);
                data[..n].CopyTo(partial.AsSpan(partialLength));
                partialLength += n;
                data = data[n..];
                if (partialLength < ResponseSize) break;
                Respond(partial);
                partialLength = 0;
            }
        }
    }

    /// <summary>Drops the faults of <paramref name="devId"/> (<c>iommufd_auto_response_faults</c> when the device leaves the HWPT).</summary>
    internal void AutoRespond(uint devId)
    {
        lock (Gate)
        {
            deliver.RemoveAll(f => f.DevId == devId);
            foreach (var cookie in response.Where(p => p.Value.DevId == devId).Select(p => p.Key).ToList()) response.Remove(cookie);
        }
    }

    internal override void Destroy()
    {
        lock (Gate)
        {
            deliver.Clear();
            response.Clear();
        }
    }

    private int Respond(ReadOnlySpan<byte> r)
    {
        uint cookie = BinaryPrimitives.ReadUInt32LittleEndian(r);
        uint code = BinaryPrimitives.ReadUInt32LittleEndian(r[4..]);
        if (code != RespSuccess && code != RespInvalid) return Errno.EINVAL.Neg();
        return response.Remove(cookie) ? 0 : Errno.EINVAL.Neg();
    }

    /// <summary>The lowest free cookie from 1 (<c>xa_alloc</c>, XA_FLAGS_ALLOC1).</summary>
    private uint NextCookie()
    {
        uint c = 1;
        foreach (uint used in response.Keys)
        {
            if (used != c) break;
            c++;
        }
        return c;
    }

    /// <summary><c>iommufd_compose_fault_message</c>: flags, dev_id, pasid, grpid, perm, 0, addr, length 0, cookie.</summary>
    private static void Compose(Fault f, uint cookie, Span<byte> record)
    {
        record.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(record, f.Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], f.DevId);
        BinaryPrimitives.WriteUInt32LittleEndian(record[8..], f.Pasid);
        BinaryPrimitives.WriteUInt32LittleEndian(record[12..], f.Grpid);
        BinaryPrimitives.WriteUInt32LittleEndian(record[16..], f.Perm);
        BinaryPrimitives.WriteUInt64LittleEndian(record[24..], f.Addr);
        BinaryPrimitives.WriteUInt32LittleEndian(record[36..], cookie);
    }
}
