using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using TsmLab.Kernel.Pci;
using TsmLab.Spdm.Requester;
using TsmLab.Spdm.Session;
using TsmLab.Tdisp.Requester;
using TsmLab.Tdisp.Wire;
using TsmLab.Tracing;

namespace TsmLab.EmuSocket;

/// <summary>How one step of <c>tsmlab device connect</c> ended.</summary>
public enum ConnectStepStatus { Ok, Failed, Skipped }

/// <summary>One step: its name, how it ended and what the responder answered (or why it failed).</summary>
public sealed record ConnectStep(string Name, ConnectStepStatus Status, string Answer);

/// <summary>The session <c>tsmlab device connect</c> opens: KEY_EXCHANGE + FINISH, or PSK_EXCHANGE + PSK_FINISH.</summary>
public enum ConnectSessionKind { KeyExchange, Psk }

/// <summary>What <c>tsmlab device connect</c> connects to and trusts.</summary>
public sealed record DeviceConnectOptions
{
    public required string Host { get; init; }
    public required int Port { get; init; }
    /// <summary>The root the device's certificate chain must verify to.</summary>
    public required X509Certificate2 RootCertificate { get; init; }
    /// <summary>The TDISP function id of the interface to lock.</summary>
    public uint FunctionId { get; init; } = 0x0100;
    public ConnectSessionKind Session { get; init; } = ConnectSessionKind.KeyExchange;
    /// <summary>The IDE port index IDE_KM names (TsmLab's device and DMTF's both accept 0).</summary>
    public byte IdePort { get; init; }
    /// <summary>Where every DOE object goes, both directions (null: nowhere).</summary>
    public PcapWriter? Pcap { get; init; }
    /// <summary>The pre-shared key and its hint, for <see cref="ConnectSessionKind.Psk"/>.</summary>
    public byte[]? Psk { get; init; }
    public byte[] PskHint { get; init; } = [];
}

/// <summary>
/// <c>tsmlab device connect</c>: TsmLab's TSM-side requester against an external responder on DMTF's
/// emulator socket protocol [E5] — TEST, DOE discovery, VCA, digests, certificate (verified to the
/// given root), challenge, signed measurements, a secured session, IDE_KM setup, the TDISP flow
/// (version, capabilities, state, lock, report, state, start, state, stop, state), IDE_KM stop,
/// END_SESSION, SHUTDOWN. Stops at the first failing step (the rest are Skipped), but still ends an
/// open session and the connection. Nothing the responder sends makes it throw.
/// </summary>
public static class DeviceConnectFlow
{
    /// <summary>The step names, in order (the table's rows).</summary>
    public static IReadOnlyList<string> StepNames { get; } =
    [
        "connect (TEST)", "DOE discovery", "VERSION / CAPABILITIES / ALGORITHMS", "DIGESTS", "CERTIFICATE", "CHALLENGE", "MEASUREMENTS (signed)",
        "session", "IDE_KM QUERY", "IDE_KM KEY_PROG + K_SET_GO", "TDISP GET_VERSION", "TDISP GET_CAPABILITIES", "TDISP state (unlocked)",
        "TDISP LOCK_INTERFACE", "TDISP GET_DEVICE_INTERFACE_REPORT", "TDISP state (locked)", "TDISP START_INTERFACE", "TDISP state (run)",
        "TDISP STOP_INTERFACE", "TDISP state (unlocked again)", "IDE_KM K_SET_STOP", "END_SESSION", "SHUTDOWN",
    ];

    /// <summary>Runs every step; the result has one entry per <see cref="StepNames"/> row.</summary>
    public static IReadOnlyList<ConnectStep> Run(DeviceConnectOptions options)
    {
        var steps = new List<ConnectStep>();
        bool failed = false;
        void Step(string answer, bool ok)
        {
            if (failed) { steps.Add(new(StepNames[steps.Count], ConnectStepStatus.Skipped, "")); return; }
            steps.Add(new(StepNames[steps.Count], ok ? ConnectStepStatus.Ok : ConnectStepStatus.Failed, answer));
            failed |= !ok;
        }

        var socket = SocketDoeMailbox.Connect(options.Host, options.Port, out string problem);
        Step(socket is null ? problem : $"{options.Host}:{options.Port} greeted", socket is not null);
        if (socket is null) return Finish(steps);
        IDoeMailbox mailbox = options.Pcap is null ? socket : new PcapDoeMailbox(socket, options.Pcap);
        SpdmSession? session = null;
        try
        {
            Step(Discover(mailbox, socket, out bool ok), ok);
            if (failed) return Rest(steps, socket, null, null);
            var settings = new SpdmRequesterSettings { TrustedRoot = options.RootCertificate };
            if (options.Session == ConnectSessionKind.Psk) settings = settings with { Capabilities = settings.Capabilities | Spdm.Wire.SpdmCapabilities.PskNoContext };
            using var requester = new SpdmRequester(new MailboxChannel(mailbox), settings);
            var r = SyncChannelWait.Result(requester.InitConnectionAsync());
            Step(r.Ok ? $"SPDM {requester.Version >> 4}.{requester.Version & 0xF}, {Describe(requester)}" : Why(r, socket), r.Ok);
            r = failed ? default : SyncChannelWait.Result(requester.GetDigestsAsync());
            Step(r.Ok ? "slot 0 digest" : Why(r, socket), r.Ok);
            r = failed ? default : SyncChannelWait.Result(requester.GetCertificateAsync());
            Step(r.Ok ? $"chain of {requester.CertificateChain.Length} bytes verified to {options.RootCertificate.Subject}" : Why(r, socket), r.Ok);
            r = failed ? default : SyncChannelWait.Result(requester.ChallengeAsync());
            Step(r.Ok ? "CHALLENGE_AUTH signature verified" : Why(r, socket), r.Ok);
            r = failed ? default : SyncChannelWait.Result(requester.GetMeasurementsAsync(0xFF, signed: true));
            Step(r.Ok ? $"{Blocks(requester.MeasurementRecord)} blocks, signature verified" : Why(r, socket), r.Ok);
            if (!failed)
            {
                if (options.Session == ConnectSessionKind.Psk)
                {
                    var (px, s) = options.Psk is null ? (Spdm.Requester.SpdmRequesterResult.Fail("no pre-shared key given"), null) : SyncChannelWait.Result(requester.PskExchangeAsync(options.Psk, options.PskHint));
                    if (px.Ok && s is not null)
                    {
                        session = s;
                        px = SyncChannelWait.Result(requester.FinishAsync(s));
                    }
                    Step(px.Ok ? $"PSK_EXCHANGE + PSK_FINISH, session 0x{session!.SessionId:x8}" : Why(px, socket), px.Ok);
                }
                else
                {
                    var (kx, s) = SyncChannelWait.Result(requester.KeyExchangeAsync());
                    if (kx.Ok && s is not null)
                    {
                        session = s;
                        kx = SyncChannelWait.Result(requester.FinishAsync(s));
                    }
                    Step(kx.Ok ? $"KEY_EXCHANGE + FINISH, session 0x{session!.SessionId:x8}" : Why(kx, socket), kx.Ok);
                }
            }
            else Step("", false);
            if (failed || session is null) return Rest(steps, socket, requester, session);

            var transport = new SecuredVdmTransport(requester, session);
            var tdisp = new TdispRequester((ITdispTransport)transport);
            var fid = new TdiFunctionId(options.FunctionId);
            var query = tdisp.QueryIde(options.IdePort);
            Step(query is null ? Vdm("QUERY", transport) : $"port {query.PortIndex}, max port index {query.MaxPortIndex}", query is not null);
            bool keys = !failed && tdisp.ProgramAndStartStream(0, options.IdePort, 0, _ => RandomNumberGenerator.GetBytes(IdeKmStreamMessage.KeySize + IdeKmStreamMessage.IfvSize));
            Step(keys ? "stream 0, key set 0: 6 sub-streams programmed and started" : Vdm("KEY_PROG / K_SET_GO", transport), keys);
            Tdisp(tdisp.GetVersion(fid), v => $"version {Convert.ToHexString(v!)}");
            Tdisp(tdisp.GetCapabilities(fid), c => $"lock flags supported 0x{(ushort)c!.LockFlagsSupported:x4}");
            State(TdiState.ConfigUnlocked);
            var nonce = failed ? default : tdisp.LockInterface(fid, new LockInterfaceParameters(LockInterfaceFlags.NoFwUpdate, 0, 0));
            Tdisp(nonce, _ => "locked, START_INTERFACE nonce received");
            Tdisp(tdisp.GetInterfaceReport(fid, 0x40), rep => $"{rep!.Bytes.Length} bytes, {rep.Ranges.Count} MMIO ranges");
            State(TdiState.ConfigLocked);
            Tdisp(failed ? default : tdisp.StartInterface(fid, nonce.Value), _ => "started");
            State(TdiState.Run);
            Tdisp(failed ? default : tdisp.StopInterface(fid), _ => "stopped");
            State(TdiState.ConfigUnlocked);
            bool stopped = !failed && tdisp.StopStream(0, options.IdePort, 0);
            Step(stopped ? "stream 0, key set 0: 6 sub-streams stopped" : Vdm("K_SET_STOP", transport), stopped);
            return Rest(steps, socket, requester, session);

            void Tdisp<T>(TdispResult<T> result, Func<T?, string> describe)
            {
                if (failed) { Step("", false); return; }
                Step(result.IsSuccess ? describe(result.Value) : $"{result}{(transport.LastFailure.Length > 0 ? ": " + transport.LastFailure : "")}", result.IsSuccess);
            }

            void State(TdiState expected)
            {
                var s = failed ? default : tdisp.GetState(fid);
                if (failed) { Step("", false); return; }
                Step(s.IsSuccess ? s.Value.ToString() : $"{s}", s.IsSuccess && s.Value == expected);
            }
        }
        catch (Exception e) when (e is CryptographicException or InvalidOperationException or ArgumentException)
        {
            // The requester reports what the device sent as results; this is a last line of defence.
            if (!failed) Step($"unexpected: {e.Message}", false);
            return Rest(steps, socket, null, null);
        }

        // Skipped rows up to END_SESSION, then END_SESSION (only for an open session) and SHUTDOWN.
        List<ConnectStep> Rest(List<ConnectStep> done, SocketDoeMailbox sock, SpdmRequester? requester, SpdmSession? open)
        {
            while (done.Count < StepNames.Count - 2) done.Add(new(StepNames[done.Count], ConnectStepStatus.Skipped, ""));
            bool hadFailed = failed;
            failed = false;
            if (open is not null && requester is not null)
            {
                var end = SyncChannelWait.Result(requester.EndSessionAsync(open));
                Step(end.Ok ? "session ended" : Why(end, sock), end.Ok);
            }
            else steps.Add(new(StepNames[steps.Count], ConnectStepStatus.Skipped, "no session"));
            bool shut = sock.Shutdown(out string why);
            steps.Add(new(StepNames[steps.Count], shut ? ConnectStepStatus.Ok : ConnectStepStatus.Failed, shut ? "SHUTDOWN answered" : why));
            failed = hadFailed;
            return done;
        }
    }

    private static IReadOnlyList<ConnectStep> Finish(List<ConnectStep> steps)
    {
        while (steps.Count < StepNames.Count) steps.Add(new(StepNames[steps.Count], ConnectStepStatus.Skipped, ""));
        return steps;
    }

    /// <summary>Walks DOE discovery from index 0 until next index 0; SPDM (1) and secured SPDM (2) must be listed.</summary>
    private static string Discover(IDoeMailbox mailbox, SocketDoeMailbox socket, out bool ok)
    {
        Span<byte> request = stackalloc byte[12];
        var response = new byte[Math.Max(mailbox.MaxResponseSize, 64)];
        var protocols = new List<byte>();
        byte index = 0;
        for (int guard = 0; guard < 256; guard++)
        {
            DoeHeader.Write(request, DoeObjectType.Discovery, 4);
            request[8..].Clear();
            request[8] = index;
            int n = mailbox.Exchange(request, response);
            if (n < 12 || !DoeHeader.TryRead(response, out var h) || h.Type != DoeObjectType.Discovery || BinaryPrimitives.ReadUInt16LittleEndian(response.AsSpan(8)) != DoeHeader.VendorPciSig)
            {
                ok = false;
                return n == 0 ? $"no discovery answer for index {index}{(socket.Problem.Length > 0 ? ": " + socket.Problem : "")}" : $"malformed discovery answer for index {index}";
            }
            protocols.Add(response[10]);
            index = response[11];
            if (index == 0) break;
        }
        ok = protocols.Contains((byte)DoeObjectType.Spdm) && protocols.Contains((byte)DoeObjectType.SecuredSpdm);
        string list = string.Join(", ", protocols);
        return ok ? $"protocols {list}" : $"protocols {list}: SPDM (1) and secured SPDM (2) are needed";
    }

    private static string Describe(SpdmRequester r) =>
        $"hash {r.Algorithms.HashName.Name}, signature {r.Algorithms.SignatureSize * 4}-bit ECDSA, AEAD {AeadName(r.Algorithms.Aead)}";

    private static string AeadName(ushort aead) => aead switch
    {
        Spdm.Wire.SpdmAlgorithmBits.AeadAes128Gcm => "AES-128-GCM",
        Spdm.Wire.SpdmAlgorithmBits.AeadAes256Gcm => "AES-256-GCM",
        Spdm.Wire.SpdmAlgorithmBits.AeadChaCha20Poly1305 => "ChaCha20-Poly1305",
        _ => $"0x{aead:x}",
    };

    /// <summary>The number of DMTF measurement blocks in a record (index u8, spec u8, size u16, then size bytes each).</summary>
    private static int Blocks(ReadOnlySpan<byte> record)
    {
        int count = 0;
        for (int at = 0; at + 4 <= record.Length; at += 4 + BinaryPrimitives.ReadUInt16LittleEndian(record[(at + 2)..])) count++;
        return count;
    }

    private static string Why(Spdm.Requester.SpdmRequesterResult r, SocketDoeMailbox socket) =>
        socket.Problem.Length > 0 ? $"{r}: {socket.Problem}" : r.ToString();

    private static string Vdm(string what, SecuredVdmTransport t) =>
        $"{what} not acknowledged{(t.LastFailure.Length > 0 ? ": " + t.LastFailure : "")}";

}
