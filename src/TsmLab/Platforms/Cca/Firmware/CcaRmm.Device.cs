using System.Buffers.Binary;
using System.Security.Cryptography;
using TsmLab.Platforms.Cca.Abi;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Platforms.Cca.Firmware;

/// <summary>
/// What the RMM says to a device at COMMUNICATE: connect (TDISP version and capabilities, IDE_KM
/// key programming for the link's stream, the certificate), and per VDEV the TDISP LOCK,
/// GET_DEVICE_INTERFACE_REPORT, START (with the LOCK nonce), STOP, and the measurement
/// transcript. Only bytes through the requester; a device error leaves the VDEV's state as it was.
/// </summary>
public sealed partial class CcaRmm
{
    /// <summary>
    /// The connect phase of a NEW PDEV (TF-RMM's CONNECT_INIT): TDISP version and capabilities (the
    /// VCA object) and the certificate chain, both handed to the host to cache.
    /// </summary>
    private bool ConnectInit(RmmPdev d)
    {
        var id = d.FunctionId;
        var version = d.Requester.GetVersion(id);
        if (!version.IsSuccess || version.Value is not { Length: > 0 } versions || Array.IndexOf(versions, TdispHeader.Version10) < 0) return false;
        var caps = d.Requester.GetCapabilities(id);
        if (!caps.IsSuccess) return false;
        d.TdispVersion = TdispHeader.Version10;
        d.Vca = Vca(versions, caps.Value);
        d.Outbox.Enqueue(new OutgoingObject(CacheObject.Vca, d.Vca));
        if (d.Evidence is not { } e) return false;
        d.Certificate = e.CertificateChain();
        d.Outbox.Enqueue(new OutgoingObject(CacheObject.Certificate, d.Certificate));
        return true;
    }

    /// <summary>
    /// The secured-link phase of a PDEV with a key (TF-RMM's SECURE_SESSION): IDE_KM programs key set
    /// 0 for every direction and sub-stream of the stream, then K_SET_GO [D4]. (The SPDM session
    /// itself is not modelled yet: IDE_KM travels in the clear.)
    /// </summary>
    private bool SecureSession(RmmPdev d) =>
        d.Requester.ProgramAndStartStream(Options.IdeStreamId, 0, 0, _ => RandomNumberGenerator.GetBytes(40));

    /// <summary>The stop phase: IDE_KM K_SET_STOP for the stream (best effort: the link goes down either way).</summary>
    private void StopConnection(RmmPdev d) => d.Requester.StopStream(Options.IdeStreamId, 0, 0);

    /// <summary>
    /// The VCA object (TsmLab layout; SPDM's VERSION/CAPABILITIES/ALGORITHMS are not modelled):
    /// version_count u8, versions, dsm_caps u32, lock_flags_supported u16, dev_addr_width u8,
    /// num_req_this u8, num_req_all u8, req_msgs_supported[16].
    /// </summary>
    private static byte[] Vca(byte[] versions, TdispCapabilities c)
    {
        var b = new byte[1 + versions.Length + 4 + 2 + 3 + 16];
        b[0] = (byte)versions.Length;
        versions.CopyTo(b, 1);
        var s = b.AsSpan(1 + versions.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(s, c.DsmCaps);
        BinaryPrimitives.WriteUInt16LittleEndian(s[4..], (ushort)c.LockFlagsSupported);
        s[6] = c.DeviceAddressWidth;
        s[7] = c.NumRequestsThis;
        s[8] = c.NumRequestsAll;
        BinaryPrimitives.WriteUInt128LittleEndian(s[9..], c.RequestsSupported);
        return b;
    }

    private bool RunDeviceOp(RmmVdev v, DeviceOp op)
    {
        var rq = v.Pdev.Requester;
        var id = v.FunctionId;
        switch (op)
        {
            case DeviceOp.Create:
            {
                var s = rq.GetState(id);
                if (!s.IsSuccess) return false;
                if (s.Value != TdiState.ConfigUnlocked) { v.State = VdevState.Error; return false; }
                v.State = VdevState.Unlocked;
                return true;
            }
            case DeviceOp.Lock:
            {
                var nonce = rq.LockInterface(id, new LockInterfaceParameters(LockInterfaceFlags.NoFwUpdate, Options.IdeStreamId, 0));
                if (!nonce.IsSuccess) return false;
                nonce.Value!.CopyTo(v.LockNonce, 0);
                v.LockGeneration++;
                if (!FetchReport(v))
                {
                    rq.StopInterface(id);
                    return false;
                }
                v.State = VdevState.Locked;
                return true;
            }
            case DeviceOp.Start:
            {
                Span<byte> nonce = stackalloc byte[32];
                v.LockNonce.CopyTo(nonce);
                if (!rq.StartInterface(id, nonce).IsSuccess) return false;
                v.State = VdevState.Started;
                return true;
            }
            case DeviceOp.Unlock:
            {
                v.DmaEnabled = false;
                DropMappings(v);
                v.Report = null;
                v.Measurements = null;
                v.Ranges = [];
                Array.Clear(v.LockNonce);
                v.Outbox.Clear();
                bool stopped = rq.StopInterface(id).IsSuccess;
                v.State = stopped ? VdevState.Unlocked : VdevState.Error;
                return stopped;
            }
            case DeviceOp.GetReport:
                return FetchReport(v);
            case DeviceOp.GetMeasurements:
            {
                if (v.Pdev.Evidence is not { } e) return false;
                v.Measurements = e.SignedMeasurements(v.MeasNonce, v.MeasFlags == 1);
                v.MeasGeneration++;
                v.Outbox.Enqueue(new OutgoingObject(CacheObject.Measurements, v.Measurements));
                return true;
            }
            default:
                return false;
        }
    }

    private static bool FetchReport(RmmVdev v)
    {
        var r = v.Pdev.Requester.GetInterfaceReport(v.FunctionId);
        if (!r.IsSuccess) return false;
        v.Report = r.Value!.Bytes;
        v.Ranges = r.Value.Ranges;
        v.ReportGeneration++;
        v.Outbox.Enqueue(new OutgoingObject(CacheObject.InterfaceReport, v.Report));
        return true;
    }

    /// <summary>The digest the realm sees for an object: SHA-256, SHA-384 or SHA-512 per the PDEV's hash_algo, zero-padded to 64 bytes.</summary>
    internal static void Digest(byte hashAlgo, ReadOnlySpan<byte> data, Span<byte> digest64) => Abi.HashAlgorithms.Digest(hashAlgo, data, digest64);
}
