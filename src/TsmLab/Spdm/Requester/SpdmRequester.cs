using System.Buffers.Binary;
using System.Security.Cryptography;
using TsmLab.Spdm.Session;
using TsmLab.Spdm.Wire;
using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Spdm.Requester;

/// <summary>
/// An SPDM requester (the TSM side, DSP0274 1.2–1.4 and DSP0277) that builds every request as a DOE
/// object for an <see cref="ISpdmDoeChannel"/> and verifies every answer [SP1,SP2,SP3].
/// </summary>
/// <remarks>
/// Verifies: VERSION/CAPABILITIES/ALGORITHMS choices against what it offered; the certificate chain
/// against the provisioned root (format, root hash, X.509 path) and against the DIGESTS value; the
/// CHALLENGE_AUTH signature over M1; MEASUREMENTS signatures over L1; KEY_EXCHANGE_RSP's signature
/// and ResponderVerifyData; FINISH_RSP under the handshake key. Keeps the same transcripts as the
/// responder (VCA, B, L1, TH) with DSP0274's reset rules. Every length from the device is checked;
/// a failure is a result, never an exception. Not thread-safe: one caller drives one requester.
/// </remarks>
public sealed partial class SpdmRequester : IDisposable
{
    private const int NonceSize = 32;
    private const int RequesterContextSize = 8;

    private readonly ISpdmDoeChannel channel;
    private readonly byte[] requestObject;
    private readonly byte[] responseObject;
    private readonly byte[] message;
    /// <summary>The SPDM response being read; grows (up to <see cref="SpdmRequesterSettings.MaxMessageSize"/>) only when a chunked response needs it.</summary>
    private byte[] response;
    private readonly List<byte> vca = [];
    private readonly List<byte> messageB = [];
    private readonly List<byte> messageM = [];
    private ushort nextReqSessionId = 0xFFFF;
    private byte[] certChain = [];
    private byte[] digest = [];
    private bool authenticated;

    public SpdmRequester(ISpdmDoeChannel channel, SpdmRequesterSettings settings)
    {
        this.channel = channel;
        Settings = settings;
        // Requests are small (the largest is a VENDOR_DEFINED with a TDISP or IDE_KM payload; no CHUNK_SEND).
        // A responder sends nothing above this requester's DataTransferSize (DSP0274 1.2+: larger responses
        // come by CHUNK_GET or as ResponseTooLarge), so one DOE object fits DataTransferSize plus the DOE
        // and secured-message framing; a reassembled message may be as large as MaxMessageSize, and the
        // buffer for it grows only when a chunked response needs it.
        int requestMax = Math.Max(settings.DataTransferSize, 8192) + 64;
        int largest = requestMax + TsmLab.Spdm.Session.SecuredMessage.Overhead + 8;
        requestObject = new byte[requestMax];
        responseObject = new byte[largest];
        message = new byte[requestMax];
        response = new byte[largest];
    }

    public SpdmRequesterSettings Settings { get; }
    public byte Version { get; private set; }
    public SpdmAlgorithmSet Algorithms { get; private set; }
    public SpdmCapabilities ResponderCapabilities { get; private set; }
    /// <summary>The responder's leaf key once the certificate chain verified.</summary>
    public ECDsa? ResponderKey { get; private set; }
    /// <summary>The verified slot-0 certificate chain (SPDM format).</summary>
    public ReadOnlyMemory<byte> CertificateChain => certChain;
    /// <summary>The last measurement record (the blocks) and the signed transcript it was verified over.</summary>
    public byte[] MeasurementRecord { get; private set; } = [];
    public byte[] MeasurementTranscript { get; private set; } = [];
    /// <summary>The last signed GET_MEASUREMENTS request and its MEASUREMENTS response (with the signature), as exchanged: with the VCA, what a verifier needs.</summary>
    public byte[] MeasurementExchange { get; private set; } = [];

    /// <summary>GET_VERSION, GET_CAPABILITIES and NEGOTIATE_ALGORITHMS.</summary>
    public async ValueTask<SpdmRequesterResult> InitConnectionAsync()
    {
        vca.Clear(); messageB.Clear(); messageM.Clear(); authenticated = false;
        // GET_VERSION
        message[0] = SpdmVersion.V10; message[1] = SpdmCode.GetVersion; message[2] = 0; message[3] = 0;
        int n = await ExchangePlainAsync(4).ConfigureAwait(false);
        if (Expect(n, SpdmCode.Version, 6) is { } f1) return f1;
        int count = response[5];
        if (n < 6 + 2 * count) return SpdmRequesterResult.Fail("VERSION is shorter than its entry count");
        byte chosen = 0;
        for (int i = 0; i < count; i++)
        {
            byte v = (byte)(BinaryPrimitives.ReadUInt16LittleEndian(response.AsSpan(6 + 2 * i)) >> 8);
            if (Settings.Versions.Contains(v) && v > chosen) chosen = v;
        }
        if (chosen == 0) return SpdmRequesterResult.Fail("no common SPDM version");
        vca.AddRange(message.AsSpan(0, 4));
        vca.AddRange(response.AsSpan(0, 6 + 2 * count));
        Version = chosen;

        // GET_CAPABILITIES (1.2+ form)
        Header(SpdmCode.GetCapabilities);
        message.AsSpan(4, 16).Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(8), (uint)Settings.Capabilities);
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(12), (uint)Settings.DataTransferSize);
        // MaxSPDMmsgSize: with CHUNK_CAP a large response can exceed the DataTransferSize (up to MaxMessageSize).
        int maxMessage = (Settings.Capabilities & SpdmCapabilities.Chunk) != 0 ? Math.Max(Settings.MaxMessageSize, Settings.DataTransferSize) : Settings.DataTransferSize;
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(16), (uint)maxMessage);
        n = await ExchangePlainAsync(20).ConfigureAwait(false);
        if (Expect(n, SpdmCode.Capabilities, 20) is { } f2) return f2;
        ResponderCapabilities = (SpdmCapabilities)BinaryPrimitives.ReadUInt32LittleEndian(response.AsSpan(8));
        vca.AddRange(message.AsSpan(0, 20));
        vca.AddRange(response.AsSpan(0, 20));

        // NEGOTIATE_ALGORITHMS with DHE, AEAD and KeySchedule structures (no ReqBaseAsymAlg: a structure
        // may not offer nothing, and TsmLab's requester has no key of its own).
        int len = 32 + 3 * 4;
        Header(SpdmCode.NegotiateAlgorithms, 3);
        message.AsSpan(4, len - 4).Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(4), (ushort)len);
        message[6] = SpdmAlgorithmBits.MeasurementSpecDmtf;
        message[7] = SpdmAlgorithmBits.OpaqueDataFormat1;
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(8), Settings.BaseAsym);
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(12), Settings.BaseHash);
        AlgStruct(32, SpdmAlgorithmBits.AlgTypeDhe, Settings.Dhe);
        AlgStruct(36, SpdmAlgorithmBits.AlgTypeAead, Settings.Aead);
        AlgStruct(40, SpdmAlgorithmBits.AlgTypeKeySchedule, SpdmAlgorithmBits.KeyScheduleSpdm);
        n = await ExchangePlainAsync(len).ConfigureAwait(false);
        if (Expect(n, SpdmCode.Algorithms, 36) is { } f3) return f3;
        int rlen = BinaryPrimitives.ReadUInt16LittleEndian(response.AsSpan(4));
        if (rlen > n || rlen < 36) return SpdmRequesterResult.Fail("ALGORITHMS length is wrong");
        uint measHash = BinaryPrimitives.ReadUInt32LittleEndian(response.AsSpan(8));
        uint asym = BinaryPrimitives.ReadUInt32LittleEndian(response.AsSpan(12));
        uint hash = BinaryPrimitives.ReadUInt32LittleEndian(response.AsSpan(16));
        ushort dhe = 0, aead = 0, ks = 0;
        for (int at = 36 + 4 * (response[32] + response[33]); at + 4 <= rlen; at += 4 + 4 * (response[at + 1] & 0xF))
        {
            ushort sel = BinaryPrimitives.ReadUInt16LittleEndian(response.AsSpan(at + 2));
            switch (response[at])
            {
                case SpdmAlgorithmBits.AlgTypeDhe: dhe = sel; break;
                case SpdmAlgorithmBits.AlgTypeAead: aead = sel; break;
                case SpdmAlgorithmBits.AlgTypeKeySchedule: ks = sel; break;
            }
        }
        if (!OneOf(asym, Settings.BaseAsym) || !OneOf(hash, Settings.BaseHash) || (dhe != 0 && !OneOf(dhe, Settings.Dhe))
            || (aead != 0 && !OneOf(aead, Settings.Aead)) || (measHash != 0 && !OneOf(measHash, 0xFF)))
            return SpdmRequesterResult.Fail("ALGORITHMS selected something that was not offered");
        Algorithms = new SpdmAlgorithmSet(asym, hash, measHash, dhe, aead, ks);
        vca.AddRange(message.AsSpan(0, len));
        vca.AddRange(response.AsSpan(0, rlen));
        return SpdmRequesterResult.Success;
    }

    /// <summary>GET_DIGESTS: slot 0's chain digest (kept to check the chain against).</summary>
    public async ValueTask<SpdmRequesterResult> GetDigestsAsync()
    {
        Header(SpdmCode.GetDigests);
        int n = await ExchangePlainAsync(4).ConfigureAwait(false);
        int h = Algorithms.HashSize;
        if (Expect(n, SpdmCode.Digests, 4) is { } f) return f;
        int slots = System.Numerics.BitOperations.PopCount(response[3]);
        if ((response[3] & 1) == 0 || n < 4 + h * slots) return SpdmRequesterResult.Fail("DIGESTS has no slot 0 digest");
        digest = response.AsSpan(4, h).ToArray();
        messageB.AddRange(message.AsSpan(0, 4));
        messageB.AddRange(response.AsSpan(0, 4 + h * slots));
        AfterRequest(SpdmCode.GetDigests);
        return SpdmRequesterResult.Success;
    }

    /// <summary>GET_CERTIFICATE in portions until the whole slot-0 chain is read; then verifies it.</summary>
    public async ValueTask<SpdmRequesterResult> GetCertificateAsync()
    {
        var chain = new List<byte>();
        int total = -1;
        while (total < 0 || chain.Count < total)
        {
            Header(SpdmCode.GetCertificate);
            BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(4), (ushort)chain.Count);
            BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(6), 1024);
            int n = await ExchangePlainAsync(8).ConfigureAwait(false);
            if (Expect(n, SpdmCode.Certificate, 8) is { } f) return f;
            int portion = BinaryPrimitives.ReadUInt16LittleEndian(response.AsSpan(4));
            int remainder = BinaryPrimitives.ReadUInt16LittleEndian(response.AsSpan(6));
            if (portion == 0 || n < 8 + portion || chain.Count + portion + remainder > ushort.MaxValue
                || (total >= 0 && chain.Count + portion + remainder != total))
                return SpdmRequesterResult.Fail("CERTIFICATE portion lengths are inconsistent");
            total = chain.Count + portion + remainder;
            chain.AddRange(response.AsSpan(8, portion));
            messageB.AddRange(message.AsSpan(0, 8));
            messageB.AddRange(response.AsSpan(0, 8 + portion));
        }
        AfterRequest(SpdmCode.GetCertificate);
        certChain = [.. chain];
        if (digest.Length > 0 && !Algorithms.Hash(certChain).AsSpan().SequenceEqual(digest))
            return SpdmRequesterResult.Fail("the certificate chain does not match the DIGESTS value");
        ResponderKey?.Dispose();
        ResponderKey = null;
        if (Settings.TrustedRoot is not { } root)
            return SpdmCertChainFormat.TrySplit(certChain, Algorithms, out _) ? SpdmRequesterResult.Success
                : SpdmRequesterResult.Fail("the certificate chain is malformed or its root hash is wrong");
        ResponderKey = SpdmCertChainFormat.VerifyAndGetLeafKey(certChain, Algorithms, root, Settings.VerificationTime ?? DateTimeOffset.UtcNow, out var reason);
        return ResponderKey is null ? SpdmRequesterResult.Fail(reason!) : SpdmRequesterResult.Success;
    }

    /// <summary>
    /// Takes the responder's key from whoever verified the chain (no <see cref="SpdmRequesterSettings.TrustedRoot"/>):
    /// accepted only when it is the leaf key of the chain this requester read and of the negotiated
    /// algorithm; the requester then owns <paramref name="key"/>. False (and the key is not taken) otherwise.
    /// </summary>
    public bool AcceptResponderKey(ECDsa key)
    {
        if (certChain.Length == 0 || !SpdmCertChainFormat.TrySplit(certChain, Algorithms, out var parts)) return false;
        var (offset, length) = parts[^1];
        try
        {
            using var leaf = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(certChain.AsSpan(offset, length));
            using var leafKey = System.Security.Cryptography.X509Certificates.ECDsaCertificateExtensions.GetECDsaPublicKey(leaf);
            if (leafKey is null || SpdmAlgorithmSet.AsymFor(key) != Algorithms.BaseAsym
                || !leafKey.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(key.ExportSubjectPublicKeyInfo()))
                return false;
        }
        catch (CryptographicException) { return false; }
        ResponderKey?.Dispose();
        ResponderKey = key;
        return true;
    }

    /// <summary>The VCA transcript (GET_VERSION through ALGORITHMS, requests and responses as exchanged).</summary>
    public byte[] Vca => [.. vca];

    /// <summary>CHALLENGE (slot 0) and the CHALLENGE_AUTH signature over M1.</summary>
    public async ValueTask<SpdmRequesterResult> ChallengeAsync(byte summaryHashType = 0)
    {
        if (ResponderKey is null) return SpdmRequesterResult.Fail("no verified certificate chain");
        int h = Algorithms.HashSize, s = Algorithms.SignatureSize;
        Header(SpdmCode.Challenge, 0, summaryHashType);
        Fill(message.AsSpan(4, NonceSize));
        int size = 36;
        if (Version >= SpdmVersion.V13) { Fill(message.AsSpan(36, RequesterContextSize)); size += RequesterContextSize; }
        int n = await ExchangePlainAsync(size).ConfigureAwait(false);
        if (Expect(n, SpdmCode.ChallengeAuth, 4) is { } f) return f;
        int at = 4 + h + NonceSize + (summaryHashType == 0 ? 0 : h);
        if (n < at + 2) return SpdmRequesterResult.Fail("CHALLENGE_AUTH is truncated");
        int opaque = BinaryPrimitives.ReadUInt16LittleEndian(response.AsSpan(at));
        at += 2 + opaque;
        if (Version >= SpdmVersion.V13)
        {
            if (n < at + RequesterContextSize || !response.AsSpan(at, RequesterContextSize).SequenceEqual(message.AsSpan(36, RequesterContextSize)))
                return SpdmRequesterResult.Fail("CHALLENGE_AUTH does not echo the RequesterContext");
            at += RequesterContextSize;
        }
        if (n < at + s || (response[2] & 0x0F) != 0) return SpdmRequesterResult.Fail("CHALLENGE_AUTH is truncated or names another slot");
        if (!response.AsSpan(4, h).SequenceEqual(Algorithms.Hash(certChain)))
            return SpdmRequesterResult.Fail("CHALLENGE_AUTH's certificate chain hash is not the chain's");
        var m1 = Concat(vca, messageB, message.AsSpan(0, size), response.AsSpan(0, at));
        if (!SpdmSignature.Verify(ResponderKey, Algorithms, Version, SpdmSignature.ChallengeAuthContext, m1, response.AsSpan(at, s)))
            return SpdmRequesterResult.Fail("the CHALLENGE_AUTH signature does not verify");
        messageB.Clear();
        authenticated = true;
        AfterRequest(SpdmCode.Challenge);
        return SpdmRequesterResult.Success;
    }

    /// <summary>GET_MEASUREMENTS: <paramref name="operation"/> (0 count, an index, 0xFF all), optionally signed (verified over L1) and raw.</summary>
    /// <remarks>A signed request carries <paramref name="nonce"/> (32 bytes) when given (e.g. a realm's), else a fresh one.</remarks>
    public async ValueTask<SpdmRequesterResult> GetMeasurementsAsync(byte operation = 0xFF, bool signed = true, bool raw = false, SpdmSession? session = null, ReadOnlyMemory<byte> nonce = default)
    {
        if (signed && ResponderKey is null) return SpdmRequesterResult.Fail("no verified certificate chain");
        if (!nonce.IsEmpty && nonce.Length != NonceSize) return SpdmRequesterResult.Fail("a measurement nonce is 32 bytes");
        Header(SpdmCode.GetMeasurements, (byte)((signed ? 1 : 0) | (raw ? 2 : 0)), operation);
        int size = 4;
        if (signed)
        {
            if (nonce.IsEmpty) Fill(message.AsSpan(4, NonceSize)); else nonce.Span.CopyTo(message.AsSpan(4));
            message[36] = 0;
            size = 37;
        }
        if (Version >= SpdmVersion.V13) { Fill(message.AsSpan(size, RequesterContextSize)); size += RequesterContextSize; }
        int n = session is null ? await ExchangePlainAsync(size).ConfigureAwait(false) : await ExchangeSecuredAsync(session, size).ConfigureAwait(false);
        var transcript = session is null ? messageM : SessionMessageM(session);
        if (Expect(n, SpdmCode.Measurements, 8) is { } f) { transcript.Clear(); return f; }
        int record = response[5] | (response[6] << 8) | (response[7] << 16);
        int at = 8 + record + NonceSize;
        if (n < at + 2) { transcript.Clear(); return SpdmRequesterResult.Fail("MEASUREMENTS is truncated"); }
        at += 2 + BinaryPrimitives.ReadUInt16LittleEndian(response.AsSpan(at));
        if (Version >= SpdmVersion.V13)
        {
            if (n < at + RequesterContextSize || !response.AsSpan(at, RequesterContextSize).SequenceEqual(message.AsSpan(size - RequesterContextSize, RequesterContextSize)))
            { transcript.Clear(); return SpdmRequesterResult.Fail("MEASUREMENTS does not echo the RequesterContext"); }
            at += RequesterContextSize;
        }
        int s = signed ? Algorithms.SignatureSize : 0;
        if (n < at + s || !MeasurementBlocksValid(response.AsSpan(8, record), response[4]))
        { transcript.Clear(); return SpdmRequesterResult.Fail("MEASUREMENTS record or signature is malformed"); }
        transcript.AddRange(message.AsSpan(0, size));
        transcript.AddRange(response.AsSpan(0, at));
        MeasurementRecord = response.AsSpan(8, record).ToArray();
        AfterRequest(SpdmCode.GetMeasurements);
        if (!signed) return SpdmRequesterResult.Success;
        var l1 = Concat(vca, transcript, default, default);
        transcript.Clear();
        if (!SpdmSignature.Verify(ResponderKey!, Algorithms, Version, SpdmSignature.MeasurementsContext, l1, response.AsSpan(at, s)))
            return SpdmRequesterResult.Fail("the MEASUREMENTS signature does not verify");
        MeasurementTranscript = l1;
        MeasurementExchange = [.. message.AsSpan(0, size), .. response.AsSpan(0, at + s)];
        return SpdmRequesterResult.Success;
    }

    private void Header(byte code, byte param1 = 0, byte param2 = 0)
    {
        message[0] = Version;
        message[1] = code;
        message[2] = param1;
        message[3] = param2;
    }

    private void AlgStruct(int at, byte type, ushort supported)
    {
        message[at] = type;
        message[at + 1] = 0x20;
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(at + 2), supported);
    }

    /// <summary>Null when the response has <paramref name="code"/> and at least <paramref name="minimum"/> bytes; else why not.</summary>
    private SpdmRequesterResult? Expect(int n, byte code, int minimum)
    {
        if (n < 0) return SpdmRequesterResult.Fail(n == -2 ? "the secured response does not decrypt; the session ended" : "no answer from the device");
        if (n >= 4 && response[1] == SpdmCode.Error)
            return new SpdmRequesterResult(false, "the responder answered ERROR", (SpdmErrorCode)response[2]);
        if (n < minimum || response[1] != code || response[0] != (code == SpdmCode.Version ? SpdmVersion.V10 : Version))
            return SpdmRequesterResult.Fail($"expected response 0x{code:x2}, got {(n >= 2 ? $"0x{response[1]:x2}" : "nothing")}");
        return null;
    }

    /// <summary>DSP0274's transcript resets after a request completes (as the responder does).</summary>
    private void AfterRequest(byte code)
    {
        if (code != SpdmCode.GetMeasurements) messageM.Clear();
        if (!authenticated && code is SpdmCode.KeyExchange or SpdmCode.GetMeasurements or SpdmCode.Finish or SpdmCode.PskExchange or SpdmCode.PskFinish
                or SpdmCode.KeyUpdate or SpdmCode.Heartbeat or SpdmCode.EndSession)
            messageB.Clear();
    }

    private static bool OneOf(uint selected, uint offered) => selected != 0 && (selected & (selected - 1)) == 0 && (selected & offered) == selected;

    /// <summary>Measurement blocks: every block's size must stay inside the record and the count must match.</summary>
    private static bool MeasurementBlocksValid(ReadOnlySpan<byte> record, int count)
    {
        int at = 0, blocks = 0;
        while (at < record.Length)
        {
            if (record.Length - at < 4) return false;
            int size = BinaryPrimitives.ReadUInt16LittleEndian(record[(at + 2)..]);
            if (record.Length - at - 4 < size) return false;
            at += 4 + size;
            blocks++;
        }
        return blocks == count;
    }

    private void Fill(Span<byte> destination)
    {
        if (!Settings.Entropy.TryFill(destination)) RandomNumberGenerator.Fill(destination);
    }

    private static byte[] Concat(List<byte> a, List<byte> b, ReadOnlySpan<byte> c, ReadOnlySpan<byte> d)
    {
        var r = new byte[a.Count + b.Count + c.Length + d.Length];
        a.CopyTo(r);
        b.CopyTo(r, a.Count);
        c.CopyTo(r.AsSpan(a.Count + b.Count));
        d.CopyTo(r.AsSpan(a.Count + b.Count + c.Length));
        return r;
    }

    /// <summary>Sends message[0..length) as a type-1 DOE object; the answer lands in response. Returns its length, or -1.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ExchangePlainAsync(int length)
    {
        message.AsSpan(0, length).CopyTo(requestObject.AsSpan(DoeHeader.Size));
        int n = await ExchangeObjectAsync(DoeObjectType.Spdm, length, null).ConfigureAwait(false);
        return await ChunksAsync(n, length, null).ConfigureAwait(false);
    }

    /// <summary>
    /// When the answer is ERROR LargeResponse and both ends have CHUNK_CAP, fetches the large response with
    /// CHUNK_GET and puts it in <see cref="response"/>; the request in <see cref="message"/> is kept for the
    /// caller's transcript [SP1]. Returns the (reassembled) response length.
    /// </summary>
    private async ValueTask<int> ChunksAsync(int n, int requestLength, SpdmSession? session)
    {
        if (n < 5 || response[1] != SpdmCode.Error || response[2] != (byte)SpdmErrorCode.LargeResponse
            || (Settings.Capabilities & ResponderCapabilities & SpdmCapabilities.Chunk) == 0)
            return n;
        byte handle = response[4];
        var saved = message.AsSpan(0, requestLength).ToArray();
        byte[]? large = null;
        int got = 0;
        bool v14 = Version >= SpdmVersion.V14;
        for (uint seq = 0; ; seq++)
        {
            Header(SpdmCode.ChunkGet, 0, handle);
            int len;
            if (v14) { BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(4), seq); len = 8; }
            else { BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(4), (ushort)seq); len = 6; }
            int m = session is null
                ? await ExchangeObjectAsync(DoeObjectType.Spdm, CopyOut(len), null).ConfigureAwait(false)
                : await ExchangeSecuredCoreAsync(session, len, null).ConfigureAwait(false);
            int header = 12 + (seq == 0 ? 4 : 0);
            if (m < header || response[1] != SpdmCode.ChunkResponse || response[3] != handle
                || (v14 ? BinaryPrimitives.ReadUInt32LittleEndian(response.AsSpan(4)) : BinaryPrimitives.ReadUInt16LittleEndian(response.AsSpan(4))) != seq)
                return -1;
            int chunk = (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(response.AsSpan(8)), int.MaxValue);
            if (seq == 0)
            {
                // LargeMessageSize is the responder's claim: never above what this requester advertised.
                uint total = BinaryPrimitives.ReadUInt32LittleEndian(response.AsSpan(12));
                if (total == 0 || total > (uint)Math.Max(Settings.MaxMessageSize, Settings.DataTransferSize)) return -1;
                large = new byte[total];
            }
            if (chunk > m - header || chunk > large!.Length - got || (chunk == 0 && (response[2] & 1) == 0)) return -1;
            response.AsSpan(header, chunk).CopyTo(large.AsSpan(got));
            got += chunk;
            if ((response[2] & 1) != 0) break;
        }
        if (got != large!.Length) return -1;
        if (response.Length < got) response = new byte[got + 64];
        large.CopyTo(response, 0);
        saved.CopyTo(message, 0);
        return got;
    }

    private int CopyOut(int length)
    {
        message.AsSpan(0, length).CopyTo(requestObject.AsSpan(DoeHeader.Size));
        return length;
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ExchangeObjectAsync(DoeObjectType type, int bodyLength, SpdmSession? session)
    {
        int padded = (bodyLength + 3) & ~3;
        requestObject.AsSpan(DoeHeader.Size + bodyLength, padded - bodyLength).Clear();
        DoeHeader.Write(requestObject, type, bodyLength);
        int n = await channel.ExchangeAsync(requestObject.AsMemory(0, DoeHeader.Size + padded), responseObject).ConfigureAwait(false);
        return Unwrap(n, session);
    }

    /// <summary>Checks the DOE answer and puts its SPDM message in <see cref="response"/>; -1 bad object, -2 decrypt failure.</summary>
    private int Unwrap(int n, SpdmSession? session)
    {
        if (n <= 0 || n > responseObject.Length || !DoeHeader.TryRead(responseObject.AsSpan(0, n), out var h)
            || h.VendorId != DoeHeader.VendorPciSig || h.LengthBytes > n)
            return -1;
        var body = responseObject.AsSpan(DoeHeader.Size, h.LengthBytes - DoeHeader.Size);
        if (h.Type == DoeObjectType.Spdm)
        {
            body.CopyTo(response);
            if (session is not null && body.Length >= 4 && body[1] == SpdmCode.Error && body[2] == (byte)SpdmErrorCode.DecryptError)
                EndLocal(session);
            return body.Length;
        }
        if (h.Type != DoeObjectType.SecuredSpdm || session?.ResponseAead is not { } rx
            || !SecuredMessage.TryReadSessionId(body, out uint id) || id != session.SessionId)
            return -1;
        int m = SecuredMessage.Open(rx, body, response);
        if (m < 0)
        {
            EndLocal(session);
            return -2;
        }
        return m;
    }

    public void Dispose()
    {
        ResponderKey?.Dispose();
        foreach (var s in sessionTranscripts.Keys) s.Dispose();
    }
}
