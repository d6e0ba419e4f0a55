// The PSP's private state: one context per device (DEV_CREATE), per TDI (TDI_CREATE) and per
// guest (ASID, VMPCK0 and its message sequence number). None of it is visible to the host.
using System.Security.Cryptography;
using TsmLab.Tdisp.Requester;
using TsmLab.Tdisp.Wire;
using TsmLab.Platforms.SevTio.Abi;
using TsmLab.Platforms.SevTio.HostDriver;
using TsmLab.Platforms.SevTio.Vmm;
using TsmLab.Platforms.SevTio.Kvm;
using TsmLab.Platforms.SevTio.Guest;

namespace TsmLab.Platforms.SevTio.Firmware;

/// <summary>A device context: the DSM, its link and its evidence.</summary>
internal sealed class DeviceContext(ulong handle, uint deviceId, byte streamId)
{
    public ulong Handle { get; } = handle;
    public uint DeviceId { get; } = deviceId;
    public byte StreamId { get; } = streamId;
    public bool Connected { get; set; }
    public TdispRequester? Requester { get; set; }
    public byte[] Certificates { get; set; } = [];
    public byte[] MeasurementRecord { get; set; } = [];
    /// <summary>The measurement blob (nonce[32] then the DMTF record) last produced by DEV_MEASUREMENTS.</summary>
    public byte[] Measurements { get; set; } = [];
    /// <summary>DEV_MEASUREMENTS ran with a nonce since the last guest TDI_INFO.</summary>
    public bool MeasurementsFresh { get; set; }
    public int Tdis { get; set; }
}

/// <summary>A TDI context: the function, the guest it belongs to, its firmware bind state, report and SDTE.</summary>
internal sealed class TdiContext(ulong handle, DeviceContext device, TdiFunctionId function, uint guestRid, uint asid)
{
    public ulong Handle { get; } = handle;
    public DeviceContext Device { get; } = device;
    public TdiFunctionId Function { get; } = function;
    /// <summary>The guest RID; the firmware's tdi_id (TsmLab definition: tdi_id = guest RID).</summary>
    public uint GuestRid { get; } = guestRid;
    public uint Asid { get; } = asid;
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
        Asid = asid;
        Vmpck0 = vmpck0;
        Aead = new AesGcm(vmpck0, SnpGuestMessage.TagSize);
    }

    public uint Asid { get; }
    public byte[] Vmpck0 { get; }
    public AesGcm Aead { get; }
    /// <summary>The seqno the next request must carry (odd; the response carries it + 1).</summary>
    public ulong NextSeqno { get; set; } = 1;

    public void Dispose() => Aead.Dispose();
}
