namespace TsmLab.Platforms.Tdx.Firmware;

/// <summary>
/// What SPDM GET_CERTIFICATE and GET_MEASUREMENTS would give the module at CONNECT. The device
/// models only SPDM VENDOR_DEFINED, so the host driver hands the module this stand-in built on
/// the DSM mailbox's <c>ISpdmIdentityStandIn</c>, as the CCA and SEV-TIO hosts do (docs/design.md);
/// the SPDM session work replaces it with real SPDM over the relay.
/// </summary>
public interface ITdxSpdmStandIn
{
    /// <summary>The SPDM certificate chain of slot 0 of the DSM named by <paramref name="funcId"/>, or null.</summary>
    byte[]? CertificateChain(uint funcId);

    /// <summary>A measurement transcript for <paramref name="nonce"/> signed by the device's leaf key (layout: DeviceAttestationInfo), or null.</summary>
    byte[]? SignedMeasurements(uint funcId, ReadOnlySpan<byte> nonce);
}
