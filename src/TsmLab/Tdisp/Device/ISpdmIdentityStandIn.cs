namespace TsmLab.Tdisp.Device;

/// <summary>
/// A DOE mailbox that can stand in for SPDM GET_CERTIFICATE / GET_MEASUREMENTS until the device
/// answers SPDM itself: it offers the device identity those responses would carry. The one path from
/// a host to the device that is not DOE bytes (docs/design.md, "The platform seam"); the SPDM work
/// removes it.
/// </summary>
public interface ISpdmIdentityStandIn
{
    /// <summary>The device identity, or null when the mailbox has none.</summary>
    Func<DeviceIdentity>? StandInIdentity { get; }
}
