using System.Security.Cryptography;
using TsmLab.Platforms.Cca.Abi;
using TsmLab.Spdm.Requester;
using TsmLab.Tdisp.Requester;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Platforms.Cca.Firmware;

/// <summary>
/// What the RMM says to a device, as resumable flows the host drives one DOE object per COMMUNICATE:
/// connect (SPDM VCA, DIGESTS, CERTIFICATE), the secured link once the host gave the key (KEY_EXCHANGE
/// + FINISH verified with that key, signed MEASUREMENTS in the session, then TDISP version and
/// capabilities and IDE_KM QUERY / KEY_PROG / K_SET_GO inside it), the stop (K_SET_STOP, END_SESSION),
/// and per VDEV the TDISP LOCK, GET_DEVICE_INTERFACE_REPORT, START (with the LOCK nonce), STOP and a
/// signed measurement refresh, all inside the session [TR1,TR2,SP1,SP2,D1,D4]. A flow awaits the
/// PDEV's <see cref="RelayChannel"/>; the COMMUNICATE that brings the answer resumes it. A device
/// error leaves the VDEV's state as it was.
/// </summary>
public sealed partial class CcaRmm
{
    /// <summary>The connect phase of a NEW PDEV (TF-RMM's CONNECT_INIT): the VCA and the certificate chain, handed to the host to cache.</summary>
    private async ValueTask<bool> ConnectInitAsync(RmmPdev d)
    {
        var s = d.Spdm;
        var r = await s.InitConnectionAsync().ConfigureAwait(false);
        if (r.Ok) r = await s.GetDigestsAsync().ConfigureAwait(false);
        if (r.Ok) r = await s.GetCertificateAsync().ConfigureAwait(false);
        if (!r.Ok) return Failed(d, "SPDM authentication", r.ToString());
        d.Vca = s.Vca;
        d.Certificate = s.CertificateChain.ToArray();
        d.Outbox.Enqueue(new OutgoingObject(CacheObject.Vca, d.Vca));
        d.Outbox.Enqueue(new OutgoingObject(CacheObject.Certificate, d.Certificate));
        return true;
    }

    /// <summary>
    /// The secured-link phase of a PDEV with a key (TF-RMM's SECURE_SESSION): KEY_EXCHANGE + FINISH,
    /// signed GET_MEASUREMENTS in the session, TDISP version and capabilities, then IDE_KM QUERY and key
    /// set 0 programmed and started for every direction and sub-stream of the stream [D4]. A failure
    /// stops what was started and ends the session.
    /// </summary>
    private async ValueTask<bool> SecureSessionAsync(RmmPdev d)
    {
        var s = d.Spdm;
        var (r, session) = await s.KeyExchangeAsync().ConfigureAwait(false);
        if (r.Ok && session is not null) r = await s.FinishAsync(session).ConfigureAwait(false);
        if (!r.Ok || session is null) return Failed(d, "SPDM authentication", r.ToString());
        d.Session = session;
        var tdisp = d.Tdisp = new TdispRequester((IAsyncTdispTransport)new SecuredVdmTransport(s, session));
        r = await s.GetMeasurementsAsync(0xFF, signed: true, session: session).ConfigureAwait(false);
        if (!r.Ok) return await EndAfterFailure(d, "SPDM authentication", r.ToString(), keys: false).ConfigureAwait(false);
        var id = d.FunctionId;
        var version = await tdisp.GetVersionAsync(id).ConfigureAwait(false);
        if (!version.IsSuccess || version.Value is not { } versions || Array.IndexOf(versions, TdispHeader.Version10) < 0)
            return await EndAfterFailure(d, "TDISP", $"GET_VERSION: {version}", keys: false).ConfigureAwait(false);
        var caps = await tdisp.GetCapabilitiesAsync(id).ConfigureAwait(false);
        if (!caps.IsSuccess) return await EndAfterFailure(d, "TDISP", $"GET_CAPABILITIES: {caps}", keys: false).ConfigureAwait(false);
        d.TdispVersion = TdispHeader.Version10;
        if (await tdisp.QueryIdeAsync(0).ConfigureAwait(false) is null)
            return await EndAfterFailure(d, "IDE_KM", "QUERY was not answered", keys: false).ConfigureAwait(false);
        if (!await tdisp.ProgramAndStartStreamAsync(Options.IdeStreamId, 0, 0, _ => RandomNumberGenerator.GetBytes(40)).ConfigureAwait(false))
            return await EndAfterFailure(d, "IDE_KM", "KEY_PROG or K_SET_GO was refused", keys: true).ConfigureAwait(false);
        return true;
    }

    /// <summary>The stop phase: IDE_KM K_SET_STOP for the stream, then END_SESSION (best effort: the link goes down either way).</summary>
    private async ValueTask<bool> StopConnectionAsync(RmmPdev d)
    {
        if (d.Tdisp is { } tdisp) await tdisp.StopStreamAsync(Options.IdeStreamId, 0, 0).ConfigureAwait(false);
        await EndSessionAsync(d).ConfigureAwait(false);
        return true;
    }

    private async ValueTask EndSessionAsync(RmmPdev d)
    {
        if (d.Session is { } session) await d.Spdm.EndSessionAsync(session).ConfigureAwait(false);
        d.Session = null;
        d.Tdisp = null;
    }

    private async ValueTask<bool> EndAfterFailure(RmmPdev d, string step, string reason, bool keys)
    {
        if (keys && d.Tdisp is { } tdisp) await tdisp.StopStreamAsync(Options.IdeStreamId, 0, 0).ConfigureAwait(false);
        await EndSessionAsync(d).ConfigureAwait(false);
        return Failed(d, step, reason);
    }

    /// <summary>Records why a device operation failed (the PDEV's <see cref="RmmPdev.Failure"/> and the trace); false.</summary>
    private bool Failed(RmmPdev d, string step, string reason)
    {
        d.Failure = $"{step}: {reason}";
        trace?.Record(Tracing.TraceLayer.Firmware, Tracing.TraceLayer.Device, Tracing.TraceKind.Decision, step, "failed",
            new Tracing.TraceField("pdev_id", $"0x{d.PdevId:x}"), new Tracing.TraceField("reason", reason));
        return false;
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> RunDeviceOpAsync(RmmVdev v, DeviceOp op)
    {
        var d = v.Pdev;
        if (d.Tdisp is not { } rq) return Failed(d, "TDISP", "no secured session");
        var id = v.FunctionId;
        switch (op)
        {
            case DeviceOp.Create:
            {
                var s = await rq.GetStateAsync(id).ConfigureAwait(false);
                if (!s.IsSuccess) return Failed(d, "TDISP", $"GET_DEVICE_INTERFACE_STATE: {s}");
                if (s.Value != TdiState.ConfigUnlocked) { v.State = VdevState.Error; return false; }
                v.State = VdevState.Unlocked;
                return true;
            }
            case DeviceOp.Lock:
            {
                var nonce = await rq.LockInterfaceAsync(id, new LockInterfaceParameters(LockInterfaceFlags.NoFwUpdate, Options.IdeStreamId, 0)).ConfigureAwait(false);
                if (!nonce.IsSuccess) return Failed(d, "TDISP", $"LOCK_INTERFACE: {nonce}");
                nonce.Value!.CopyTo(v.LockNonce, 0);
                v.LockGeneration++;
                if (!await FetchReportAsync(v).ConfigureAwait(false))
                {
                    await rq.StopInterfaceAsync(id).ConfigureAwait(false);
                    return false;
                }
                v.State = VdevState.Locked;
                return true;
            }
            case DeviceOp.Start:
            {
                var started = await rq.StartInterfaceAsync(id, v.LockNonce).ConfigureAwait(false);
                if (!started.IsSuccess) return Failed(d, "TDISP", $"START_INTERFACE: {started}");
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
                bool stopped = (await rq.StopInterfaceAsync(id).ConfigureAwait(false)).IsSuccess;
                v.State = stopped ? VdevState.Unlocked : VdevState.Error;
                return stopped || Failed(d, "TDISP", "STOP_INTERFACE was refused");
            }
            case DeviceOp.GetReport:
                return await FetchReportAsync(v).ConfigureAwait(false);
            case DeviceOp.GetMeasurements:
            {
                if (d.Session is not { } session) return Failed(d, "SPDM", "no secured session");
                var r = await d.Spdm.GetMeasurementsAsync(0xFF, signed: true, raw: v.MeasFlags == 1, session: session, nonce: v.MeasNonce).ConfigureAwait(false);
                if (!r.Ok) return Failed(d, "SPDM measurements", r.ToString());
                v.Measurements = d.Spdm.MeasurementExchange;
                v.MeasGeneration++;
                v.Outbox.Enqueue(new OutgoingObject(CacheObject.Measurements, v.Measurements));
                return true;
            }
            default:
                return false;
        }
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> FetchReportAsync(RmmVdev v)
    {
        var r = await v.Pdev.Tdisp!.GetInterfaceReportAsync(v.FunctionId).ConfigureAwait(false);
        if (!r.IsSuccess) return Failed(v.Pdev, "TDISP", $"GET_DEVICE_INTERFACE_REPORT: {r}");
        v.Report = r.Value!.Bytes;
        v.Ranges = r.Value.Ranges;
        v.ReportGeneration++;
        v.Outbox.Enqueue(new OutgoingObject(CacheObject.InterfaceReport, v.Report));
        return true;
    }

    /// <summary>The digest the realm sees for an object: SHA-256, SHA-384 or SHA-512 per the PDEV's hash_algo, zero-padded to 64 bytes.</summary>
    internal static void Digest(byte hashAlgo, ReadOnlySpan<byte> data, Span<byte> digest64) => Abi.HashAlgorithms.Digest(hashAlgo, data, digest64);
}
