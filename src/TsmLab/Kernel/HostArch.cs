namespace TsmLab.Kernel;

/// <summary>The host CPU architecture, which decides the KVM VM types and the platform TSMs.</summary>
public enum HostArch
{
    X86_64,
    Arm64,
}
