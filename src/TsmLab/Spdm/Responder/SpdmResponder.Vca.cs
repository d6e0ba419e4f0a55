using System.Buffers.Binary;
using TsmLab.Spdm.Wire;

namespace TsmLab.Spdm.Responder;

/// <summary>GET_VERSION, GET_CAPABILITIES, NEGOTIATE_ALGORITHMS: the VCA part of the connection [SP1].</summary>
public sealed partial class SpdmResponder
{
    private const int MinDataTransferSize12 = 42;
    private const int NegotiateAlgorithmsMaxLength = 0x80;
    private const int CapabilitiesSize = 20;
    private const int AlgorithmsFixedSize = 36;

    private readonly List<byte> vca = [];
    private SpdmCapabilities peerCapabilities;
    private int peerDataTransferSize;
    private byte otherParams;
    private byte[] certChain = [];
    private byte[] certChainHash = [];

    private void ResetConnection()
    {
        foreach (var id in sessions.Keys.ToArray()) EndSession(id);
        vca.Clear();
        messageB.Clear();
        messageM.Clear();
        ConnectionState = SpdmConnectionState.NotStarted;
        Version = 0;
        Algorithms = default;
        peerCapabilities = 0;
        peerDataTransferSize = 0;
        otherParams = 0;
        certChain = certChainHash = [];
    }

    /// <summary>GET_VERSION → VERSION: resets the connection and every session; lists 1.2–1.4.</summary>
    internal int GetVersion(RequestContext c)
    {
        ResetConnection();
        ResponseState = SpdmResponseState.Normal;
        var r = c.Response;
        int count = Settings.Versions.Count;
        r[0] = SpdmVersion.V10;
        r[1] = SpdmCode.Version;
        r[2] = 0;
        r[3] = 0;
        r[4] = 0;
        r[5] = (byte)count;
        for (int i = 0; i < count; i++)
            BinaryPrimitives.WriteUInt16LittleEndian(r[(6 + 2 * i)..], SpdmVersion.ToEntry(Settings.Versions[i]));
        int n = 6 + 2 * count;
        vca.AddRange(c.Request[..4]);
        vca.AddRange(r[..n]);
        ConnectionState = SpdmConnectionState.AfterVersion;
        return n;
    }

    /// <summary>GET_CAPABILITIES → CAPABILITIES (1.2+ form, 20 bytes); the request's version becomes the connection's.</summary>
    internal int GetCapabilities(RequestContext c)
    {
        if (ConnectionState != SpdmConnectionState.AfterVersion)
            return Error(c.Response, SpdmErrorCode.UnexpectedRequest);
        var q = c.Request;
        var flags = (SpdmCapabilities)BinaryPrimitives.ReadUInt32LittleEndian(q[8..]);
        int dts = (int)Math.Min(int.MaxValue, BinaryPrimitives.ReadUInt32LittleEndian(q[12..]));
        long maxMsg = BinaryPrimitives.ReadUInt32LittleEndian(q[16..]);
        bool keyEx = (flags & SpdmCapabilities.KeyEx) != 0, psk = (flags & (SpdmCapabilities.PskNoContext | SpdmCapabilities.PskWithContext)) != 0;
        bool encOrMac = (flags & (SpdmCapabilities.Encrypt | SpdmCapabilities.Mac)) != 0;
        if (q[5] > 31 || dts < MinDataTransferSize12 || maxMsg < dts
            || (flags & (SpdmCapabilities.PskNoContext | SpdmCapabilities.PskWithContext)) == (SpdmCapabilities.PskNoContext | SpdmCapabilities.PskWithContext)
            || (encOrMac && !keyEx && !psk) || ((keyEx || psk) && !encOrMac))
            return SpdmErrorMessage.Write(c.Response, q[0], SpdmErrorCode.InvalidRequest);

        Version = q[0];
        peerCapabilities = flags;
        peerDataTransferSize = dts;
        peerMaxMessageSize = maxMsg;
        var r = c.Response;
        Header(r, SpdmCode.Capabilities);
        r[4..CapabilitiesSize].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(r[8..], (uint)Settings.Capabilities);
        BinaryPrimitives.WriteUInt32LittleEndian(r[12..], (uint)Settings.DataTransferSize);
        BinaryPrimitives.WriteUInt32LittleEndian(r[16..], (uint)Settings.DataTransferSize);
        vca.AddRange(q[..CapabilitiesSize]);
        vca.AddRange(r[..CapabilitiesSize]);
        ConnectionState = SpdmConnectionState.AfterCapabilities;
        return CapabilitiesSize;
    }

    /// <summary>NEGOTIATE_ALGORITHMS → ALGORITHMS: one choice per field, from the responder's priority.</summary>
    internal int NegotiateAlgorithms(RequestContext c)
    {
        if (ConnectionState != SpdmConnectionState.AfterCapabilities)
            return Error(c.Response, SpdmErrorCode.UnexpectedRequest);
        var q = c.Request;
        int length = U16(q, 4);
        int extAsym = q[28], extHash = q[29], structs = q[2];
        if (length > q.Length || length > NegotiateAlgorithmsMaxLength || length < 32 + 4 * (extAsym + extHash))
            return Error(c.Response, SpdmErrorCode.InvalidRequest);
        uint peerAsym = BinaryPrimitives.ReadUInt32LittleEndian(q[8..]);
        uint peerHash = BinaryPrimitives.ReadUInt32LittleEndian(q[12..]);
        ushort peerDhe = 0, peerAead = 0, peerKeySchedule = 0;
        int at = 32 + 4 * (extAsym + extHash), extTotal = extAsym + extHash;
        byte lastType = 0;
        int types = 0;
        for (int i = 0; i < structs; i++)
        {
            if (length - at < 4) return Error(c.Response, SpdmErrorCode.InvalidRequest);
            byte type = q[at], count = q[at + 1];
            int fixedBytes = count >> 4, ext = count & 0xF;
            // Types 2-5 (DHE, AEAD, ReqBaseAsymAlg, KeySchedule); 1.4 adds 6 ReqPqcAsymAlg and 7 KEM, which TsmLab never selects.
            byte maxType = Version >= SpdmVersion.V14 ? SpdmAlgorithmBits.AlgTypeKem : SpdmAlgorithmBits.AlgTypeKeySchedule;
            if (fixedBytes != 2 || type <= lastType || type < SpdmAlgorithmBits.AlgTypeDhe || type > maxType
                || length - at < 4 + 4 * ext)
                return Error(c.Response, SpdmErrorCode.InvalidRequest);
            ushort supported = U16(q, at + 2);
            if (supported == 0 && type <= SpdmAlgorithmBits.AlgTypeKeySchedule)
                return Error(c.Response, SpdmErrorCode.InvalidRequest);
            types |= 1 << type;
            switch (type)
            {
                case SpdmAlgorithmBits.AlgTypeDhe: peerDhe = supported; break;
                case SpdmAlgorithmBits.AlgTypeAead: peerAead = supported; break;
                case SpdmAlgorithmBits.AlgTypeKeySchedule: peerKeySchedule = supported; break;
            }
            extTotal += ext;
            lastType = type;
            at += 4 + 4 * ext;
        }
        if (at != length || extTotal > 20)
            return Error(c.Response, SpdmErrorCode.InvalidRequest);

        uint ourAsym = SpdmAlgorithmSet.AsymFor(Identity.LeafKey);
        uint asym = SpdmAlgorithmSet.Pick(peerAsym & ourAsym, [SpdmAlgorithmBits.AsymEcdsaP384, SpdmAlgorithmBits.AsymEcdsaP256]);
        uint hash = SpdmAlgorithmSet.Pick(peerHash & Settings.BaseHash, [SpdmAlgorithmBits.HashSha384, SpdmAlgorithmBits.HashSha256]);
        if (asym == 0 || hash == 0)
            return Error(c.Response, SpdmErrorCode.InvalidRequest);
        bool sessions = (Settings.Capabilities & SpdmCapabilities.KeyEx) != 0 && (peerCapabilities & SpdmCapabilities.KeyEx) != 0;
        ushort dhe = 0, aead = 0, keySchedule = 0;
        if (sessions)
        {
            dhe = (ushort)SpdmAlgorithmSet.Pick((uint)(peerDhe & Settings.Dhe), [SpdmAlgorithmBits.DheSecp384r1, SpdmAlgorithmBits.DheSecp256r1]);
            aead = (ushort)SpdmAlgorithmSet.Pick((uint)(peerAead & Settings.Aead),
                [SpdmAlgorithmBits.AeadAes256Gcm, SpdmAlgorithmBits.AeadChaCha20Poly1305, SpdmAlgorithmBits.AeadAes128Gcm]);
            keySchedule = (ushort)(peerKeySchedule & SpdmAlgorithmBits.KeyScheduleSpdm);
            if (dhe == 0 || aead == 0 || keySchedule == 0)
                return Error(c.Response, SpdmErrorCode.InvalidRequest);
        }
        bool measurements = (q[6] & SpdmAlgorithmBits.MeasurementSpecDmtf) != 0 && (Settings.Capabilities & (SpdmCapabilities.MeasSig | SpdmCapabilities.MeasNoSig)) != 0;
        // MeasurementHashAlgo follows the base hash (TsmLab definition: the requester does not offer one).
        uint measHash = !measurements ? 0 : hash == SpdmAlgorithmBits.HashSha256 ? SpdmAlgorithmBits.MeasurementHashSha256 : SpdmAlgorithmBits.MeasurementHashSha384;
        otherParams = (q[7] & SpdmAlgorithmBits.OpaqueDataFormat1) != 0 ? SpdmAlgorithmBits.OpaqueDataFormat1 : (byte)0;
        Algorithms = new SpdmAlgorithmSet(asym, hash, measHash, dhe, aead, keySchedule);

        var r = c.Response;
        // One structure per type the requester listed, in its (ascending) order, as libspdm answers [SP5].
        int n = AlgorithmsFixedSize + 4 * System.Numerics.BitOperations.PopCount((uint)types);
        Header(r, SpdmCode.Algorithms, (byte)System.Numerics.BitOperations.PopCount((uint)types));
        r[4..n].Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(r[4..], (ushort)n);
        r[6] = measurements ? SpdmAlgorithmBits.MeasurementSpecDmtf : (byte)0;
        r[7] = otherParams;
        BinaryPrimitives.WriteUInt32LittleEndian(r[8..], measHash);
        BinaryPrimitives.WriteUInt32LittleEndian(r[12..], asym);
        BinaryPrimitives.WriteUInt32LittleEndian(r[16..], hash);
        int s = AlgorithmsFixedSize;
        for (byte type = SpdmAlgorithmBits.AlgTypeDhe; type <= SpdmAlgorithmBits.AlgTypeKem; type++)
        {
            if ((types & (1 << type)) == 0) continue;
            WriteAlgStruct(r[s..], type, type switch
            {
                SpdmAlgorithmBits.AlgTypeDhe => dhe,
                SpdmAlgorithmBits.AlgTypeAead => aead,
                SpdmAlgorithmBits.AlgTypeKeySchedule => keySchedule,
                _ => 0, // ReqBaseAsymAlg, ReqPqcAsymAlg, KEM: no mutual authentication, no PQC
            });
            s += 4;
        }
        vca.AddRange(q[..length]);
        vca.AddRange(r[..n]);
        certChain = SpdmCertChainFormat.Build(Identity.CertificatesRootFirst, Algorithms);
        certChainHash = Algorithms.Hash(certChain);
        ConnectionState = SpdmConnectionState.Negotiated;
        return n;
    }

    private static void WriteAlgStruct(Span<byte> b, byte type, ushort selected)
    {
        b[0] = type;
        b[1] = 0x20;
        BinaryPrimitives.WriteUInt16LittleEndian(b[2..], selected);
    }
}
