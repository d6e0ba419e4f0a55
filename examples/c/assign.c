/*
 * assign: a small VMM that assigns /dev/vfio/devices/vfio0 to a confidential VM through the
 * uAPI TsmLab models, printing each step as `tsmlab demo` prints the VMM's side:
 *
 *   KVM VM, KVM VFIO device, VFIO cdev, FILE_ADD, iommufd bind, IOAS, guest RAM (an mmap'd
 *   buffer) mapped into the IOAS at IOVA = GPA 0 with IOMMU_IOAS_MAP, nest-parent HWPT (which
 *   pins that RAM), vIOMMU, vDevice, attach, TSM_INFO (discovery), TSM_OP BIND, a guest-style request
 *   (op-arch SET_TDI_STATE RUN; on SEV-TIO then CONFIG_UNLOCKED), TSM_OP UNBIND, close.
 *
 * It knows nothing about TsmLab beyond the header: run it under the model with
 *   tsmlab run [--host default|cca|sev] -- ./assign
 * The VM type is probed: KVM_X86_SNP_VM first, then KVM_X86_TDX_VM, then KVM_VM_TYPE_ARM_REALM (arm64).
 * Where TSM_INFO reports no TSM (the 'default' host), BIND must fail with EINVAL and the
 * request with ENXIO, as Linux answers. Exit 0 when every step gave the expected answer.
 *
 * Build: cc -O2 -Wall -o assign assign.c   (tsmlab-uapi.h from `tsmlab abi --header`)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>
#include "tsmlab-uapi.h"

static int failures;

/* One step: prints "ok   CALL[ -> DETAIL]" or "FAIL CALL -> ERRNO (expected ...)". */
static int step(const char *call, long rc, int expect_errno, const char *detail)
{
	int e = rc < 0 ? errno : 0;
	int ok = expect_errno ? (rc < 0 && e == expect_errno) : rc >= 0;
	if (!ok) failures++;
	if (rc < 0)
		printf("%s %s -> %s%s%s\n", ok ? "ok  " : "FAIL", call, strerrorname_np(e),
		       expect_errno ? " (expected: " : "", expect_errno ? (ok ? "no TSM)" : "different errno)") : "");
	else if (detail && *detail)
		printf("%s %s -> %s\n", ok ? "ok  " : "FAIL", call, detail);
	else
		printf("%s %s\n", ok ? "ok  " : "FAIL", call);
	fflush(stdout);
	return ok;
}

static const char *arch_name(uint32_t a)
{
	switch (a) {
	case IOMMU_VDEVICE_TSM_TVM_ARCH_CCA: return "Cca";
	case IOMMU_VDEVICE_TSM_TVM_ARCH_SEV: return "Sev";
	case IOMMU_VDEVICE_TSM_TVM_ARCH_TDX: return "Tdx";
	default: return "None";
	}
}

static const char *state_name(uint32_t s)
{
	switch (s) {
	case IOMMU_VDEVICE_TSM_TDI_CONFIG_UNLOCKED: return "ConfigUnlocked";
	case IOMMU_VDEVICE_TSM_TDI_CONFIG_LOCKED: return "ConfigLocked";
	case IOMMU_VDEVICE_TSM_TDI_RUN: return "Run";
	default: return "Error";
	}
}

static long tsm_info(int iommufd, uint32_t vdevice_id, struct iommu_vdevice_tsm_info *info, char *detail, size_t n)
{
	memset(info, 0, sizeof *info);
	info->size = sizeof *info;
	info->vdevice_id = vdevice_id;
	long rc = ioctl(iommufd, IOMMU_VDEVICE_TSM_INFO, info);
	char tsm[16];
	if (info->out_tsm_id == IOMMU_VDEVICE_TSM_NO_TSM) snprintf(tsm, sizeof tsm, "none");
	else snprintf(tsm, sizeof tsm, "tsm%u", info->out_tsm_id);
	snprintf(detail, n, "tsm=%s arch=%s state=%s bound=%s ops=0x%llx", tsm, arch_name(info->out_tvm_arch),
		 state_name(info->out_tdi_state), (info->out_flags & IOMMU_VDEVICE_TSM_INFO_BOUND) ? "True" : "False",
		 (unsigned long long)info->out_supported_ops);
	return rc;
}

/* The guest's SET_TDI_STATE, relayed by the VMM in the op-arch layout. */
static long set_tdi_state(int iommufd, const struct iommu_vdevice_tsm_info *info, uint32_t vdevice_id, uint32_t state)
{
	struct iommu_vdevice_tsm_req_op_arch r = {
		.size = sizeof r, .vdevice_id = vdevice_id, .op = IOMMU_VDEVICE_TSM_REQ_OP_SET_TDI_STATE,
		.tvm_arch = info->out_tvm_arch, .req_len = sizeof state, .req_uptr = (uintptr_t)&state,
	};
	return ioctl(iommufd, IOMMU_VDEVICE_TSM_REQ, &r);
}

int main(void)
{
	const char *vfio_path = "/dev/vfio/devices/vfio0";
	char call[128], detail[160];

	int iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (!step("open(\"/dev/iommu\")", iommufd, 0, NULL)) return 1;
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (!step("open(\"/dev/kvm\")", kvm, 0, NULL)) return 1;

	unsigned long vm_type = KVM_X86_SNP_VM;
	int vm = ioctl(kvm, KVM_CREATE_VM, vm_type);
	if (vm < 0 && errno == EINVAL) {
		printf("note KVM_CREATE_VM(type=0x%lx) -> EINVAL: not an x86 SEV-SNP host; trying a TDX TD\n", vm_type);
		vm_type = KVM_X86_TDX_VM;
		vm = ioctl(kvm, KVM_CREATE_VM, vm_type);
	}
	if (vm < 0 && errno == EINVAL) {
		printf("note KVM_CREATE_VM(type=0x%lx) -> EINVAL: not an x86 TDX host; trying an Arm CCA realm\n", vm_type);
		vm_type = KVM_VM_TYPE_ARM_REALM;
		vm = ioctl(kvm, KVM_CREATE_VM, vm_type);
	}
	int tdx = vm_type == KVM_X86_TDX_VM;
	snprintf(call, sizeof call, "KVM_CREATE_VM(type=0x%lx)", vm_type);
	if (!step(call, vm, 0, NULL)) return 1;

	struct kvm_create_device cd = { .type = KVM_DEV_TYPE_VFIO };
	long rc = ioctl(vm, KVM_CREATE_DEVICE, &cd);
	snprintf(detail, sizeof detail, "fd=%u", cd.fd);
	if (!step("KVM_CREATE_DEVICE(KVM_DEV_TYPE_VFIO)", rc, 0, detail)) return 1;
	int kvm_vfio = (int)cd.fd;

	int vfio = open(vfio_path, O_RDWR | O_CLOEXEC);
	snprintf(call, sizeof call, "open(\"%s\")", vfio_path);
	if (!step(call, vfio, 0, NULL)) return 1;

	int32_t vfio_fd = vfio;
	struct kvm_device_attr attr = { .group = KVM_DEV_VFIO_FILE, .attr = KVM_DEV_VFIO_FILE_ADD, .addr = (uintptr_t)&vfio_fd };
	if (!step("KVM_SET_DEVICE_ATTR(KVM_DEV_VFIO_FILE_ADD)", ioctl(kvm_vfio, KVM_SET_DEVICE_ATTR, &attr), 0, NULL)) return 1;

	struct vfio_device_bind_iommufd bind = { .argsz = sizeof bind, .iommufd = (uint32_t)iommufd };
	rc = ioctl(vfio, VFIO_DEVICE_BIND_IOMMUFD, &bind);
	snprintf(detail, sizeof detail, "dev_id=%u", bind.out_devid);
	if (!step("VFIO_DEVICE_BIND_IOMMUFD", rc, 0, detail)) return 1;

	struct iommu_ioas_alloc ioas = { .size = sizeof ioas };
	rc = ioctl(iommufd, IOMMU_IOAS_ALLOC, &ioas);
	snprintf(detail, sizeof detail, "ioas_id=%u", ioas.out_ioas_id);
	if (!step("IOMMU_IOAS_ALLOC", rc, 0, detail)) return 1;

	/* Guest RAM, the size the demo's guests have (16 MiB for a realm, 1 MiB otherwise), mapped
	 * at IOVA = GPA 0 before the device is assigned, as QEMU's memory listener does. The pin
	 * happens when the HWPT joins the IOAS and is charged against RLIMIT_MEMLOCK (unless the
	 * process has CAP_IPC_LOCK): like libvirt for QEMU, raise it to RAM + 1 GiB where the hard
	 * limit allows. */
	size_t ram_size = vm_type == KVM_VM_TYPE_ARM_REALM ? 16u << 20 : 1u << 20;
	void *ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED) { perror("mmap guest RAM"); return 1; }
	struct rlimit rl;
	rlim_t want = ram_size + (1ul << 30);
	if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		rl.rlim_cur = (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want) ? want : rl.rlim_max;
		setrlimit(RLIMIT_MEMLOCK, &rl);
	}
	struct iommu_ioas_map map = { .size = sizeof map, .ioas_id = ioas.out_ioas_id,
				      .flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
				      .user_va = (uintptr_t)ram, .length = ram_size, .iova = 0 };
	rc = ioctl(iommufd, IOMMU_IOAS_MAP, &map);
	snprintf(detail, sizeof detail, "iova=0x%llx length=0x%llx", (unsigned long long)map.iova, (unsigned long long)map.length);
	if (!step("IOMMU_IOAS_MAP(FIXED_IOVA|READABLE|WRITEABLE)", rc, 0, detail)) return 1;

	struct iommu_hwpt_alloc hwpt = { .size = sizeof hwpt, .flags = IOMMU_HWPT_ALLOC_NEST_PARENT,
					 .dev_id = bind.out_devid, .pt_id = ioas.out_ioas_id };
	rc = ioctl(iommufd, IOMMU_HWPT_ALLOC, &hwpt);
	snprintf(detail, sizeof detail, "hwpt_id=%u", hwpt.out_hwpt_id);
	if (!step("IOMMU_HWPT_ALLOC(NEST_PARENT)", rc, 0, detail)) return 1;

	/* 3 is IOMMU_VIOMMU_TYPE_AMD on x86 and IOMMU_VIOMMU_TYPE_ARM_REALM_SMMUV3 on arm64; a TD's
	 * vIOMMU on VT-d is 4, a TsmLab definition (docs/tdx.md). */
	struct iommu_viommu_alloc viommu = { .size = sizeof viommu, .type = tdx ? 4 : IOMMU_VIOMMU_TYPE_AMD,
					     .dev_id = bind.out_devid, .hwpt_id = hwpt.out_hwpt_id };
	rc = ioctl(iommufd, IOMMU_VIOMMU_ALLOC, &viommu);
	snprintf(call, sizeof call, "IOMMU_VIOMMU_ALLOC(type=%u)", viommu.type);
	snprintf(detail, sizeof detail, "viommu_id=%u", viommu.out_viommu_id);
	if (!step(call, rc, 0, detail)) return 1;

	/* The guest sees the function at 0000:00:03.0: virt_id = PCI_DEVID(0, PCI_DEVFN(3, 0)). */
	struct iommu_vdevice_alloc vdev = { .size = sizeof vdev, .viommu_id = viommu.out_viommu_id,
					    .dev_id = bind.out_devid, .virt_id = 0x18 };
	rc = ioctl(iommufd, IOMMU_VDEVICE_ALLOC, &vdev);
	snprintf(call, sizeof call, "IOMMU_VDEVICE_ALLOC(virt_id=0x%llx)", (unsigned long long)vdev.virt_id);
	snprintf(detail, sizeof detail, "vdevice_id=%u", vdev.out_vdevice_id);
	if (!step(call, rc, 0, detail)) return 1;

	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof attach, .pt_id = hwpt.out_hwpt_id };
	rc = ioctl(vfio, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach);
	snprintf(detail, sizeof detail, "pt_id=%u", attach.pt_id);
	if (!step("VFIO_DEVICE_ATTACH_IOMMUFD_PT", rc, 0, detail)) return 1;

	struct iommu_vdevice_tsm_info info;
	rc = tsm_info(iommufd, vdev.out_vdevice_id, &info, detail, sizeof detail);
	if (!step("IOMMU_VDEVICE_TSM_INFO", rc, 0, detail)) return 1;
	int has_tsm = info.out_tsm_id != IOMMU_VDEVICE_TSM_NO_TSM;

	struct iommu_vdevice_tsm_op op = { .size = sizeof op, .type = IOMMU_VDEVICE_TSM_BIND, .vdevice_id = vdev.out_vdevice_id };
	step("IOMMU_VDEVICE_TSM_OP(BIND)", ioctl(iommufd, IOMMU_VDEVICE_TSM_OP, &op), has_tsm ? 0 : EINVAL, NULL);
	if (has_tsm) {
		struct iommu_vdevice_tsm_info now;
		rc = tsm_info(iommufd, vdev.out_vdevice_id, &now, detail, sizeof detail);
		step("IOMMU_VDEVICE_TSM_INFO", rc, 0, detail);
	}
	if (info.out_flags & IOMMU_VDEVICE_TSM_INFO_SCOPE_PROFILE) {
		/* The scope layout carries the platform's own guest message, which only a guest can build. */
		printf("note the kernel speaks the scope profile: the guest-style request is skipped\n");
	} else if (tdx) {
		/* A TDI starts only after the TD itself ran TDG.TDI.START (docs/tdx.md): a VMM alone cannot. */
		printf("note TDX: RUN needs the TD's own TDG.TDI.START first: the guest-style request is skipped\n");
	} else {
		step("IOMMU_VDEVICE_TSM_REQ(SET_TDI_STATE RUN)",
		     set_tdi_state(iommufd, &info, vdev.out_vdevice_id, IOMMU_VDEVICE_TSM_TDI_RUN), has_tsm ? 0 : ENXIO, NULL);
	}
	if (has_tsm) {
		struct iommu_vdevice_tsm_info now;
		rc = tsm_info(iommufd, vdev.out_vdevice_id, &now, detail, sizeof detail);
		step("IOMMU_VDEVICE_TSM_INFO", rc, 0, detail);
		/* SEV-TIO stops the TDI with SET_TDI_STATE(CONFIG_UNLOCKED) first; CCA's UNBIND stops it itself. */
		if (info.out_tvm_arch == IOMMU_VDEVICE_TSM_TVM_ARCH_SEV && now.out_tdi_state == IOMMU_VDEVICE_TSM_TDI_RUN)
			step("IOMMU_VDEVICE_TSM_REQ(SET_TDI_STATE CONFIG_UNLOCKED)",
			     set_tdi_state(iommufd, &info, vdev.out_vdevice_id, IOMMU_VDEVICE_TSM_TDI_CONFIG_UNLOCKED), 0, NULL);
		op.type = IOMMU_VDEVICE_TSM_UNBIND;
		step("IOMMU_VDEVICE_TSM_OP(UNBIND)", ioctl(iommufd, IOMMU_VDEVICE_TSM_OP, &op), 0, NULL);
		rc = tsm_info(iommufd, vdev.out_vdevice_id, &now, detail, sizeof detail);
		step("IOMMU_VDEVICE_TSM_INFO", rc, 0, detail);
	}

	/* Closing the files releases every object: the kernel's release, not the VMM, cleans up. */
	step("close(vfio)", close(vfio), 0, NULL);
	step("close(kvm-vfio)", close(kvm_vfio), 0, NULL);
	step("close(vm)", close(vm), 0, NULL);
	step("close(kvm)", close(kvm), 0, NULL);
	step("close(iommufd)", close(iommufd), 0, NULL);
	printf("%s: %d step(s) failed\n", failures ? "FAILED" : "assigned", failures);
	return failures ? 1 : 0;
}
