using System.Text;
using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Requester;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Fuzz;

/// <summary>
/// Writes the seed corpora (fuzz/corpus/TARGET/): real conversations recorded from the model, so
/// the fuzzer starts from messages the device accepts in every state.
/// </summary>
internal static class Seeds
{
    /// <summary>Records every exchange (request and answer, protocol byte included).</summary>
    private sealed class Recorder(ITdispTransport inner) : ITdispTransport
    {
        public List<(byte[] Request, byte[] Response)> Exchanges { get; } = new();

        public int Exchange(ReadOnlySpan<byte> request, Span<byte> response)
        {
            int n = inner.Exchange(request, response);
            Exchanges.Add((request.ToArray(), response[..n].ToArray()));
            return n;
        }
    }

    private static Recorder Flow(bool keyFirst, bool withRequesterKeys)
    {
        var dsm = FuzzTargets.NewDevice();
        if (keyFirst) FuzzTargets.KeyDefaultStream(dsm);
        var rec = new Recorder(new DirectTransport(dsm));
        var r = new TdispRequester(rec);
        var pf = TdiFunctionId.FromRid(0x0100);
        var vf = TdiFunctionId.FromRid(0x0101);
        r.GetVersion(pf);
        r.GetCapabilities(pf);
        r.QueryIde(0);
        if (withRequesterKeys) r.ProgramAndStartStream(0, 0, 0, slot => new byte[40]);
        var nonce = r.LockInterface(pf, new LockInterfaceParameters((LockInterfaceFlags)0x4, 0, 0));
        r.GetInterfaceReport(pf, 64);
        r.GetState(pf);
        r.StartInterface(pf, nonce.Value is { Length: 32 } v ? v : new byte[32]);
        r.GetState(pf);
        r.BindP2pStream(pf, 1);
        r.UnbindP2pStream(pf, 1);
        r.SetMmioAttribute(pf, default);
        r.SendVdm(pf, 0, [0x01, 0x00], [1, 2, 3]);
        r.StopInterface(pf);
        r.LockInterface(vf, new LockInterfaceParameters((LockInterfaceFlags)0x4, 0, 0x1000));
        r.GetInterfaceReport(vf);
        r.KeySetStop(0, IdeKeySubStream.Create(0, IdeKeyDirection.Receive, IdeSubStream.PostedRequest), 0);
        return rec;
    }

    public static void Write(string root)
    {
        void Put(string target, string name, byte[] bytes)
        {
            string d = Path.Combine(root, target);
            Directory.CreateDirectory(d);
            File.WriteAllBytes(Path.Combine(d, name), bytes);
        }

        // tdisp: after the keyed prelude, the TDISP part of a whole flow, and each message alone.
        var flow = Flow(keyFirst: true, withRequesterKeys: false);
        var tdisp = flow.Exchanges.Where(x => x.Request[0] == (byte)VdmProtocolId.Tdisp).Select(x => x.Request[1..]).ToList();
        Put("tdisp", "flow", FuzzInput.Frame(tdisp));
        for (int i = 0; i < tdisp.Count; i++) Put("tdisp", $"msg-{i:d2}", FuzzInput.Frame([tdisp[i]]));

        var full = Flow(keyFirst: false, withRequesterKeys: true);
        var ide = full.Exchanges.Where(x => x.Request[0] == (byte)VdmProtocolId.IdeKm).Select(x => x.Request[1..]).ToList();
        Put("ide-km", "flow", FuzzInput.Frame(ide));
        Put("ide-km", "query", FuzzInput.Frame([ide[0]]));
        Put("ide-km", "keyprog-go", FuzzInput.Frame(ide.Skip(1).Take(2)));

        // vdm and doe: the whole conversation (IDE_KM then TDISP), framed as SPDM and DOE would carry it.
        var payloads = full.Exchanges.Select(x => x.Request).ToList();
        var spdm = payloads.Select(p => Spdm(p, large: false)).ToList();
        Put("vdm", "flow-classic", FuzzInput.Frame(spdm));
        Put("vdm", "flow-large", FuzzInput.Frame(payloads.Select(p => Spdm(p, large: true))));
        Put("vdm", "one", FuzzInput.Frame([spdm[0]]));
        Put("doe", "flow", FuzzInput.Frame(spdm.Select(Doe)));
        Put("doe", "one", FuzzInput.Frame([Doe(spdm[0])]));

        // tdisp-requester: a real device's answers to the requester's script, in order.
        var answers = new Recorder(new DirectTransport(FuzzTargets.NewDevice()));
        FuzzTargets.RequesterScript(new TdispRequester(answers));
        Put("tdisp-requester", "answers", FuzzInput.Frame(answers.Exchanges.Select(x => x.Response)));

        // replay: the examples, on the host each was written for (first byte: 0 default, 1 cca, 2 sev, 3 tdx).
        foreach (var (file, host) in new[] { ("assign.jsonl", (byte)0), ("cca-assign.jsonl", (byte)1), ("sev-assign.jsonl", (byte)2), ("tdx-assign.jsonl", (byte)3) })
        {
            string path = Path.Combine(FindRepo(), "examples", file);
            Put("replay", file, [host, .. File.ReadAllBytes(path)]);
        }
        Put("replay", "memory", [0, .. Encoding.UTF8.GetBytes("""
            {"op":"mmap","addr":"0x7f0000000000","len":8192,"prot":"rw"}
            {"op":"write","addr":"0x7f0000000ffe","hex":"deadbeef"}
            {"op":"mprotect","addr":"0x7f0000000000","len":4096,"prot":"r"}
            {"op":"read","addr":"0x7f0000000ffe","len":4}
            {"op":"munmap","addr":"0x7f0000001000","len":4096}
            """)]);

        // spdm: a requester's whole conversation (discovery, VCA, digests, certificate, challenge, measurements, KEY_EXCHANGE, FINISH, in-session requests).
        Put("spdm", "flow", FuzzInput.Frame(SpdmConversation()));

        Put("host-file", "cca", Encoding.UTF8.GetBytes("""{ "name": "lab1", "base": "cca", "profile": "scope", "description": "x" }"""));
        Put("host-file", "sev", Encoding.UTF8.GetBytes("""{ "base": "sev", /* comment */ "profile": "op-arch", }"""));

        Put("device-file", "default", Encoding.UTF8.GetBytes(DefaultDevice.Json));
        Put("device-file", "minimal", Encoding.UTF8.GetBytes("""{"segment":2,"bus":3,"device":1,"function":2,"vendorId":1,"deviceId":2,"bars":[{"index":0,"address":"0x10000","size":"0x10000","is64Bit":false}],"msix":{"tableBar":0,"tableOffset":0,"tableSize":8,"pbaBar":0,"pbaOffset":"0x1000"},"sriov":{"count":2,"firstVfOffset":1,"vfDeviceId":3,"bars":[{"index":0,"address":"0x20000","size":"0x1000"}]},"tdisp":{"xtSupported":true},"ide":{"streamIds":[0,5]},"identity":{"seed":"s","measurements":[{"index":1,"type":0,"raw":"00ff"}]},"policy":{"stopInUnlocked":"invalidInterfaceState"}}"""));
    }

    /// <summary>Records the DOE objects a TsmLab requester sends to the fuzz target's responder.</summary>
    private static List<byte[]> SpdmConversation()
    {
        var mailbox = FuzzTargets.SpdmMailbox();
        var sent = new List<byte[]>
        {
            new byte[] { 0x01, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 },
        };
        var recorder = new SpdmRecorder(mailbox, sent);
        var dsm = FuzzTargets.NewDevice();
        using var r = new TsmLab.Spdm.Requester.SpdmRequester(new TsmLab.Spdm.Requester.MailboxChannel(recorder),
            new TsmLab.Spdm.Requester.SpdmRequesterSettings { TrustedRoot = dsm.Identity.RootCertificate, Entropy = new DeterministicEntropySource(3) });
        r.InitConnectionAsync().AsTask().Wait();
        r.GetDigestsAsync().AsTask().Wait();
        r.GetCertificateAsync().AsTask().Wait();
        r.ChallengeAsync(0xFF).AsTask().Wait();
        r.GetMeasurementsAsync(0xFF, signed: true).AsTask().Wait();
        var (_, session) = r.KeyExchangeAsync(0xFF).AsTask().Result;
        if (session is not null)
        {
            r.FinishAsync(session).AsTask().Wait();
            r.HeartbeatAsync(session).AsTask().Wait();
            r.KeyUpdateAsync(session, 2).AsTask().Wait();
            r.VendorDefinedAsync(session, new byte[] { 0x01, 0x10, 0x81, 0, 0, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, new byte[1024]).AsTask().Wait();
            r.EndSessionAsync(session).AsTask().Wait();
        }
        return sent;
    }

    private sealed class SpdmRecorder(TsmLab.Kernel.Pci.IDoeMailbox inner, List<byte[]> sent) : TsmLab.Kernel.Pci.IDoeMailbox
    {
        public int MaxResponseSize => inner.MaxResponseSize;

        public int Exchange(ReadOnlySpan<byte> requestObject, Span<byte> responseObject)
        {
            sent.Add(requestObject.ToArray());
            return inner.Exchange(requestObject, responseObject);
        }
    }

    private static byte[] Spdm(byte[] payload, bool large)
    {
        var b = new byte[SpdmVendorDefinedMessage.HeaderSize(large) + payload.Length];
        int n = SpdmVendorDefinedMessage.Write(b, large ? SpdmVendorDefinedMessage.SpdmVersion14 : SpdmVendorDefinedMessage.SpdmVersion12,
            SpdmVendorDefinedMessage.RequestCode, large, payload);
        return b[..n];
    }

    private static byte[] Doe(byte[] spdm)
    {
        var b = new byte[DoeHeader.ObjectSize(spdm.Length)];
        DoeHeader.Write(b, DoeObjectType.Spdm, spdm.Length);
        spdm.CopyTo(b, DoeHeader.Size);
        return b;
    }

    private static string FindRepo()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "TsmLab.sln"))) d = d.Parent;
        return d?.FullName ?? Directory.GetCurrentDirectory();
    }
}
