namespace TsmLab.Platforms.SevTio.Abi;

/// <summary>TIO message version: 2 in the later tio.c [S2] (TsmLab's choice), 1 in the Feb-2026 patch [S1].</summary>
/// <remarks>
/// Payload layouts of the SEV-TIO guest messages, 2026 "tdi_id" revision [S2]
/// (platforms-and-tdisp.md §3.3). MMIO_CONFIG has no public layout: the one here is a TsmLab
/// definition (docs/sev-tio.md). All little-endian, offsets in bytes.
/// </remarks>
public static class TioMessageVersion
{
    public const byte Current = 2;
    public const byte Feb2026 = 1;
}

/// <summary>TDI_INFO_REQ (16 B) and TDI_INFO_RSP (192 B) [S2].</summary>
public static class TdiInfoMessage
{
    public const int RequestSize = 16, ResponseSize = 192;
    public const int TdiId = 0, Status = 8, MeasFlags = 16, LockFlags = 20, SpdmAlgos = 24,
        CertsDigest = 32, MeasDigest = 80, ReportDigest = 128, ReportCount = 176;
    public const int DigestSize = 48;
    public const uint MeasDigestValid = 1, MeasDigestFresh = 2;
    /// <summary>spdm_algos of the modelled link: DHE P384 (1), AEAD AES-256-GCM (1 &lt;&lt; 8), ASYM P384 (2 &lt;&lt; 16), HASH SHA-384 (1 &lt;&lt; 24).</summary>
    public const ulong ModelAlgos = 1ul | (1ul << 8) | (2ul << 16) | (1ul << 24);
}

/// <summary>TDI_INFO_RSP status [S2].</summary>
public enum TdiInfoStatus : ushort
{
    Bound = 0,
    Invalid = 1,
    Unbound = 2,
}

/// <summary>RDX param bits of a TDI_INFO guest request [S1,S2].</summary>
[Flags]
public enum TdiInfoParam : ulong
{
    None = 0,
    /// <summary>RDX returns the TDISP state.</summary>
    State = 1,
    Certs = 2,
    Meas = 4,
    Report = 8,
}

/// <summary>MMIO_VALIDATE_REQ / _RSP (48 B each) [S2].</summary>
public static class MmioValidateMessage
{
    public const int Size = 48;
    public const int TdiId = 0, Status = 8, SubrangeBase = 16, PageCount = 24, RangeOffset = 28, Flags = 32, RangeId = 34;
    /// <summary>Request flags: b0 validated (the desired RMP.Validated), b1 force_validated. Response: b0 changed.</summary>
    public const ushort FlagValidated = 1, FlagForce = 2, FlagChanged = 1;
}

/// <summary>MMIO_VALIDATE_RSP status (2026 numbering) [S2].</summary>
public enum MmioValidateStatus : ushort
{
    Success = 0,
    InvalidTdi = 1,
    TdiUnbound = 2,
    NotAssigned = 3,
    NotIo = 4,
    NotUniform = 5,
    NotImmutable = 6,
    NotMapped = 7,
    NotReported = 8,
    OutOfRange = 9,
    Not4K = 10,
}

/// <summary>SDTE_WRITE_REQ (80 B: tdi_id, reserved, 64-byte SDTE @16) and SDTE_WRITE_RSP (16 B) [S2].</summary>
public static class SdteWriteMessage
{
    public const int RequestSize = 80, ResponseSize = 16;
    public const int TdiId = 0, Status = 8, Sdte = 16;
}

/// <summary>SDTE_WRITE_RSP status [S2].</summary>
public enum SdteWriteStatus : ushort
{
    Success = 0,
    InvalidTdi = 1,
    TdiNotBound = 2,
    /// <summary>The SDTE sets a field the guest may not set.</summary>
    Reserved = 3,
}

/// <summary>
/// MMIO_CONFIG_REQ / _RSP (32 B each), a <b>TsmLab definition</b>: tdi_id u64 @0, status u16 @8
/// (response), range_id u16 @16, flags u16 @18 (b0 WRITE), attributes u16 @20 (request: the
/// desired IS_NON_TEE_MEM bit for every reported range of range_id; response: the attributes now
/// in force of the first such range), reserved to 32. A WRITE becomes TDISP SET_MMIO_ATTRIBUTE.
/// </summary>
public static class MmioConfigMessage
{
    public const int Size = 32;
    public const int TdiId = 0, Status = 8, RangeId = 16, Flags = 18, Attributes = 20;
    public const ushort FlagWrite = 1;
}

/// <summary>MMIO_CONFIG_RSP status (TsmLab definition, shaped like SDTE_WRITE's).</summary>
public enum MmioConfigStatus : ushort
{
    Success = 0,
    InvalidTdi = 1,
    TdiNotBound = 2,
    /// <summary>Reserved flag or attribute bits set.</summary>
    Reserved = 3,
    NotReported = 4,
    /// <summary>The device refused SET_MMIO_ATTRIBUTE (range not updatable).</summary>
    DeviceRefused = 5,
}
