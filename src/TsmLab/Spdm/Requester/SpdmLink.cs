using System.Security.Cryptography.X509Certificates;
using TsmLab.Kernel.Pci;
using TsmLab.Spdm.Session;
using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Requester;

namespace TsmLab.Spdm.Requester;

/// <summary>
/// A platform TSM's authenticated, secured connection to one device, as its firmware opens it at
/// connect: VCA, DIGESTS, CERTIFICATE (verified to the provisioned root), signed MEASUREMENTS, and a
/// KEY_EXCHANGE + FINISH session, all over a DOE mailbox the host relays; TDISP and IDE_KM then run
/// through <see cref="Tdisp"/> inside the session (<see cref="SecuredVdmTransport"/>), so the host
/// relays only secured objects. The evidence a guest later checks — the SPDM certificate chain and
/// the measurement record — is what these exchanges produced. Not thread-safe: the firmware's own
/// lock (one command at a time) serialises its use.
/// </summary>
public sealed class SpdmLink
{
    private readonly SpdmRequester requester;
    private readonly SpdmSession session;

    private SpdmLink(SpdmRequester requester, SpdmSession session)
    {
        this.requester = requester;
        this.session = session;
        Tdisp = new TdispRequester((ITdispTransport)new SecuredVdmTransport(requester, session));
        CertificateChain = requester.CertificateChain.ToArray();
        MeasurementRecord = requester.MeasurementRecord;
    }

    /// <summary>TDISP and IDE_KM inside the session.</summary>
    public TdispRequester Tdisp { get; }

    /// <summary>The verified slot-0 certificate chain, SPDM format (length, reserved, root hash, DER certificates).</summary>
    public byte[] CertificateChain { get; }

    /// <summary>The measurement blocks of the last signed MEASUREMENTS (DMTF format).</summary>
    public byte[] MeasurementRecord { get; private set; }

    /// <summary>Why the last <see cref="Open"/> failed (one line; empty after a success).</summary>
    [ThreadStatic] private static string? lastFailure;

    /// <summary>The reason the last <see cref="Open"/> on this thread failed.</summary>
    public static string LastFailure => lastFailure ?? "";

    /// <summary>
    /// Runs the SPDM connection and opens the session over <paramref name="mailbox"/>; null (with
    /// <see cref="LastFailure"/>) when any step fails or does not verify to <paramref name="root"/>.
    /// </summary>
    public static SpdmLink? Open(IDoeMailbox mailbox, X509Certificate2 root, ITdispEntropySource? entropy = null)
    {
        var settings = new SpdmRequesterSettings { TrustedRoot = root, Entropy = entropy ?? SystemEntropySource.Instance };
        var requester = new SpdmRequester(new MailboxChannel(mailbox), settings);
        var r = SyncChannelWait.Result(requester.InitConnectionAsync());
        if (r.Ok) r = SyncChannelWait.Result(requester.GetDigestsAsync());
        if (r.Ok) r = SyncChannelWait.Result(requester.GetCertificateAsync());
        if (r.Ok) r = SyncChannelWait.Result(requester.GetMeasurementsAsync(0xFF, signed: true));
        SpdmSession? session = null;
        if (r.Ok)
        {
            (r, session) = SyncChannelWait.Result(requester.KeyExchangeAsync());
            if (r.Ok && session is not null) r = SyncChannelWait.Result(requester.FinishAsync(session));
        }
        if (!r.Ok || session is null)
        {
            lastFailure = r.ToString();
            requester.Dispose();
            return null;
        }
        lastFailure = "";
        return new SpdmLink(requester, session);
    }

    /// <summary>GET_MEASUREMENTS (all, signed) inside the session; the new record, or null when the device did not answer one that verifies.</summary>
    public byte[]? RefreshMeasurements()
    {
        var r = SyncChannelWait.Result(requester.GetMeasurementsAsync(0xFF, signed: true, session: session));
        if (!r.Ok) return null;
        MeasurementRecord = requester.MeasurementRecord;
        return MeasurementRecord;
    }

    /// <summary>END_SESSION (best effort: a device that does not answer still loses the session on this side).</summary>
    public void Close()
    {
        SyncChannelWait.Result(requester.EndSessionAsync(session));
        requester.Dispose();
    }

}
