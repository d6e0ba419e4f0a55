using TsmLab.Abi;

namespace TsmLab.Kernel.Kvm;

/// <summary>
/// <c>/dev/kvm</c> (virt/kvm/kvm_main.c <c>kvm_dev_ioctl</c>): KVM_GET_API_VERSION and
/// KVM_CREATE_VM, which returns the new VM's fd. The accepted types depend on the host: on
/// x86-64 the VM types the CPU supports (kvm_is_vm_type_supported, else EINVAL); on arm64 the
/// IPA size in bits 0-7 (0, or 32..48) plus KVM_VM_TYPE_ARM_REALM where the host has an RMM.
/// </summary>
internal sealed class KvmDevFile(HostKernel kernel) : KernelFile
{
    public override string Name => "/dev/kvm";

    public override long Ioctl(Process caller, uint cmd, ulong arg)
    {
        switch (cmd)
        {
            case KvmIoctl.GetApiVersion:
                return KvmIoctl.ApiVersion;
            case KvmIoctl.CreateVm:
            {
                if (!kernel.Configuration.TryClassifyVmType(arg, out var arch)) return Errno.EINVAL.Neg();
                var vm = kernel.CreateVm(arg, arch);
                var file = new KvmVmFile(vm);
                int fd = caller.InstallFd(file);
                if (fd < 0) file.Put();
                return fd;
            }
            default:
                return Errno.ENOTTY.Neg();
        }
    }
}
