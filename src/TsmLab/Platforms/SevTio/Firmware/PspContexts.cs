using System.Security.Cryptography;
using TsmLab.Tdisp.Requester;
using TsmLab.Tdisp.Wire;
using TsmLab.Platforms.SevTio.Abi;

namespace TsmLab.Platforms.SevTio.Firmware;

/// <summary>A device context: the DSM, its link and its evidence.</summary>
/// <remarks>
/// The PSP's private state: one context per device (DEV_CREATE), per TDI (TDI_CREATE) and per guest
/// (ASID, VMPCK0 and its message sequence number). The device and TDI contexts live in pages the
/// host donated (named by their SLA [S5]); the firmware keeps its state beside them, keyed by the
/// page, and never writes it where the host can read it.
/// </remarks>
internal sealed class DeviceContext(ulong page, ushort rid, ushort rootPortId, byte segment)
{
    /// <summary>The donated context page (its SLA's address).</summary>
    public ulong Page { get; } = page;
    public ushort Rid { get; } = rid;
    public ushort RootPortId { get; } = rootPortId;
    public byte Segment { get; } = segment;
    /// <summary>The route key: segment &lt;&lt; 16 | RID of PF0.</summary>
    public uint DeviceId => (uint)Segment << 16 | Rid;
    /// <summary>DEV_CONNECT's ide_stream_id[0] (the stream of traffic class 0).</summary>
    public byte StreamId { get; set; }
    public byte TcMask { get; set; }
    public byte CertSlot { get; set; }
    public bool Connected { get; set; }
    public TdispRequester? Requester { get; set; }
    /// <summary>The SPDM connection and session DEV_CONNECT opened (null when not connected).</summary>
    public TsmLab.Spdm.Requester.SpdmLink? Link { get; set; }
    public byte[] Certificates { get; set; } = [];
    public byte[] MeasurementRecord { get; set; } = [];
    /// <summary>The measurement blob (nonce[32] then the DMTF record) last produced by DEV_MEASUREMENTS.</summary>
    public byte[] Measurements { get; set; } = [];
    /// <summary>DEV_MEASUREMENTS ran with a nonce since the last guest TDI_INFO.</summary>
    public bool MeasurementsFresh { get; set; }
    public int Tdis { get; set; }
}

/// <summary>A TDI context: the function, the guest it belongs to, its firmware bind state, report and SDTE.</summary>
internal sealed class TdiContext(ulong page, DeviceContext device, TdiFunctionId function)
{
    /// <summary>The donated context page (its SLA's address).</summary>
    public ulong Page { get; } = page;
    public DeviceContext Device { get; } = device;
    public TdiFunctionId Function { get; } = function;
    /// <summary>TDI_BIND's guest_device_id; the firmware's tdi_id (TsmLab definition: tdi_id = guest RID). Set by the last TDI_BIND.</summary>
    public uint GuestRid { get; set; }
    /// <summary>The ASID of the guest context the last TDI_BIND named; 0 before the first.</summary>
    public uint Asid { get; set; }
    public TdiFirmwareState State { get; set; }
    public uint LockFlags { get; set; }
    public byte[] StartNonce { get; set; } = [];
    public byte[] Report { get; set; } = [];
    public MmioRange[] Ranges { get; set; } = [];
    public ulong ReportCount { get; set; }
    public ulong TdiId => GuestRid;
}

/// <summary>A guest context: ASID, VMPCK0 and the next request sequence number.</summary>
internal sealed class GuestContext : IDisposable
{
    public GuestContext(uint asid, byte[] vmpck0)
    {
        ArgumentOutOfRangeException.ThrowIfZero(asid);
        Asid = asid;
        Vmpck0 = vmpck0;
        Aead = new AesGcm(vmpck0, SnpGuestMessage.TagSize);
    }

    public uint Asid { get; }
    /// <summary>The guest context page KVM donated (SNP_GCTX_CREATE, not modelled); 0 until the host names one.</summary>
    public ulong Gctx { get; set; }
    public byte[] Vmpck0 { get; }
    public AesGcm Aead { get; }
    /// <summary>The seqno the next request must carry (odd; the response carries it + 1).</summary>
    public ulong NextSeqno { get; set; } = 1;

    public void Dispose() => Aead.Dispose();
}
