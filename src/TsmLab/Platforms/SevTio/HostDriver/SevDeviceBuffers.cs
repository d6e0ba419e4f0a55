using TsmLab.Hardware;
using TsmLab.Platforms.SevTio.Abi;
using System.Buffers.Binary;

namespace TsmLab.Platforms.SevTio.HostDriver;

/// <summary>A device's context page, SPDM buffers and status page (host side). Guarded by the link TSM's lock.</summary>
/// <remarks>
/// What the host driver keeps per connected device, as the public driver's tsm_dev_tio does [S5]:
/// the donated device context page and the four SPDM buffers of spdm_ctrl (req, resp, scratch,
/// output), each named by a scatter-list address and headed by an sla_buffer_hdr whose capacity_sz
/// the host sets; the output buffer is a scatter list sized from TIO_STATUS and grown when the
/// firmware asks (EXPAND_BUFFER_LENGTH_REQUEST). Also one data page for the status structures
/// (DEV_STATUS, TDI_STATUS, TDI_INFO). Pages come from the machine's PhysicalMemory. Today the
/// req/resp buffers carry nothing: the firmware reaches the device over the host's DOE route
/// (IPspDeviceRoute); the SPDM issue's relay (SEV_RET_SPDM_REQUEST: read the request object from
/// req, carry it over DOE, write the response object into resp, continue the command) slots in at
/// SevTioLinkTsm.SpdmCommand without changing these buffers.
/// </remarks>
internal sealed class SevDeviceBuffers
{
    private const int Page = PhysicalMemory.PageSize;
    private readonly PhysicalMemory memory;

    private SevDeviceBuffers(PhysicalMemory memory) => this.memory = memory;

    public ulong DevCtx { get; private set; }
    public ulong Req { get; private set; }
    public ulong Resp { get; private set; }
    public ulong Scratch { get; private set; }
    public ulong Output { get; private set; }
    /// <summary>The output buffer's size in bytes (what its capacity_sz says).</summary>
    public int OutputLength { get; private set; }
    /// <summary>The page DEV_STATUS, TDI_STATUS and TDI_INFO write their status structure into.</summary>
    public ulong DataPage { get; private set; }

    /// <summary>The device context page only (DEV_CREATE).</summary>
    public static SevDeviceBuffers Create(PhysicalMemory memory, int devctxSize)
    {
        var d = new SevDeviceBuffers(memory) { DevCtx = Alloc(memory, devctxSize), DataPage = memory.Allocate(1) };
        return d;
    }

    /// <summary>The SPDM buffers (before DEV_CONNECT), sized from TIO_STATUS; the response buffer starts with an empty response object.</summary>
    public void AllocateSpdm(int reqSize, int scratchSize, int outSize)
    {
        Req = Alloc(memory, reqSize);
        Resp = Alloc(memory, reqSize);
        Scratch = Alloc(memory, scratchSize);
        Output = Alloc(memory, outSize);
        OutputLength = Pages(outSize) * Page;
        var resp = memory.At(SlaAddress.Data(Resp), Page);
        BinaryPrimitives.WriteUInt32LittleEndian(resp[(SlaBufferHeader.Size + SpdmDataObject.Id)..], SpdmDataObject.IdResp);
        resp[SlaBufferHeader.Size + SpdmDataObject.VersionMajor] = 1;
        BinaryPrimitives.WriteUInt32LittleEndian(resp[SlaBufferHeader.PayloadSz..], SpdmDataObject.RequestHeaderSize);
    }

    /// <summary>Writes the 32-byte spdm_ctrl block.</summary>
    public void FillSpdmCtrl(Span<byte> ctrl)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(ctrl[PspCommandBuffer.SpdmCtrl.Req..], Req);
        BinaryPrimitives.WriteUInt64LittleEndian(ctrl[PspCommandBuffer.SpdmCtrl.Resp..], Resp);
        BinaryPrimitives.WriteUInt64LittleEndian(ctrl[PspCommandBuffer.SpdmCtrl.Scratch..], Scratch);
        BinaryPrimitives.WriteUInt64LittleEndian(ctrl[PspCommandBuffer.SpdmCtrl.Output..], Output);
    }

    /// <summary>
    /// After EXPAND_BUFFER_LENGTH_REQUEST: when the output's capacity_sz no longer says what the
    /// host allocated (the firmware wrote the size it needs, as the driver's sla_expand checks), a
    /// new output buffer of that size replaces it (true); false when it is unchanged or more than
    /// one scatter page can list (the driver's "neither buffer requires expansion" failure).
    /// </summary>
    public bool ExpandOutput()
    {
        if (SlaBuffer.TryOpen(memory, Output, out var buf) != PspStatus.Success) return false;
        Span<byte> cap = stackalloc byte[4];
        buf.Read(SlaBufferHeader.CapacitySz, cap);
        long wanted = BinaryPrimitives.ReadUInt32LittleEndian(cap);
        if (wanted == OutputLength || Pages(wanted) > SlaBuffer.MaxPages) return false;
        Free(memory, Output);
        Output = Alloc(memory, (int)wanted);
        OutputLength = Pages(wanted) * Page;
        return true;
    }

    /// <summary>
    /// Adopts <paramref name="sla"/> as the output buffer with capacity_sz = <paramref name="length"/>
    /// (the old one freed): a host that sizes its output from spdm_out_size_min and lets the
    /// firmware grow it (tests use it to drive EXPAND_BUFFER_LENGTH_REQUEST).
    /// </summary>
    public void UseOutput(ulong sla, int length)
    {
        if (SlaBuffer.TryOpen(memory, sla, out var buf) != PspStatus.Success || length <= 0 || length > buf.Capacity)
            throw new ArgumentException("not an output buffer of that length", nameof(sla));
        Free(memory, Output);
        Output = sla;
        OutputLength = length;
        Span<byte> cap = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(cap, (uint)length);
        buf.Write(SlaBufferHeader.CapacitySz, cap);
    }

    /// <summary>The data of the object the firmware left in the output buffer, when it has the expected id and a consistent length.</summary>
    public byte[]? ReadObject(uint objectId)
    {
        if (SlaBuffer.TryOpen(memory, Output, out var buf) != PspStatus.Success) return null;
        Span<byte> h = stackalloc byte[SlaBufferHeader.Size + SpdmDataObject.ObjectHeaderSize];
        buf.Read(0, h);
        var o = h[SlaBufferHeader.Size..];
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(o[SpdmDataObject.Length..]);
        if (BinaryPrimitives.ReadUInt32LittleEndian(o[SpdmDataObject.Id..]) != objectId || length < SpdmDataObject.ObjectHeaderSize ||
            length > BinaryPrimitives.ReadUInt32LittleEndian(h[SlaBufferHeader.PayloadSz..]) || (long)SlaBufferHeader.Size + length > buf.Capacity)
            return null;
        var data = new byte[length - SpdmDataObject.ObjectHeaderSize];
        buf.Read(h.Length, data);
        return data;
    }

    /// <summary>Gives every page back (after DEV_RECLAIM, or when DEV_CREATE/CONNECT failed).</summary>
    public void Free()
    {
        foreach (ulong sla in (ReadOnlySpan<ulong>)[DevCtx, Req, Resp, Scratch, Output]) Free(memory, sla);
        if (DataPage != 0) memory.Free(DataPage);
        DevCtx = Req = Resp = Scratch = Output = DataPage = 0;
    }

    private static int Pages(long bytes) => (int)Math.Max(1, (bytes + Page - 1) / Page);

    /// <summary>As the driver's sla_alloc: one data page, or a scatter page listing zeroed data pages and SLA_EOL; capacity_sz = the pages' size.</summary>
    internal static ulong Alloc(PhysicalMemory memory, long length)
    {
        int pages = Pages(length);
        ulong sla;
        if (pages == 1) sla = SlaAddress.Data(memory.Allocate(1));
        else
        {
            ulong scatter = memory.Allocate(1);
            var list = memory.At(scatter, Page);
            for (int i = 0; i < pages; i++) BinaryPrimitives.WriteUInt64LittleEndian(list[(i * 8)..], SlaAddress.Data(memory.Allocate(1)));
            BinaryPrimitives.WriteUInt64LittleEndian(list[(pages * 8)..], SlaAddress.Eol);
            sla = SlaAddress.Scatter(scatter);
        }
        SlaBuffer.TryOpen(memory, sla, out var buf);
        Span<byte> cap = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(cap, (uint)(pages * Page));
        buf.Write(SlaBufferHeader.CapacitySz, cap);
        return sla;
    }

    internal static void Free(PhysicalMemory memory, ulong sla)
    {
        if (sla == SlaAddress.Null || !SlaAddress.TryDecode(sla, out ulong pa, out bool scatter, out _)) return;
        if (scatter && memory.TryPage(pa, out var list))
            for (int i = 0; i < Page / 8; i++)
            {
                ulong e = BinaryPrimitives.ReadUInt64LittleEndian(list[(i * 8)..]);
                if (e == SlaAddress.Eol) break;
                memory.Free(e & SlaAddress.PfnMask);
            }
        memory.Free(pa);
    }
}
