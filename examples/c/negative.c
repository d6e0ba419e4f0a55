/*
 * negative: calls the modelled uAPI wrongly on purpose and checks each errno against the
 * tables of docs/errno.md: bad sizes, unknown tails, faulting and wild pointers, huge lengths,
 * closed and foreign fds, the wrong TVM architecture, the wrong object ids, requests before
 * bind. One line per case: "ok   CASE -> ERRNO" or "FAIL CASE -> got X, expected Y".
 * Exit 0 when every case gave its documented errno.
 *
 *   tsmlab run --host sev -- ./negative     (or --host cca; on 'default' the TSM cases are skipped)
 *
 * Build: cc -O2 -Wall -o negative negative.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "tsmlab-uapi.h"

static int failures;

static void expect(const char *name, long rc, int want)
{
	int got = rc < 0 ? errno : 0;
	if (got == want) printf("ok   %s -> %s\n", name, want ? strerrorname_np(want) : "0");
	else {
		failures++;
		printf("FAIL %s -> got %s (rc %ld), expected %s\n", name, got ? strerrorname_np(got) : "0", rc, want ? strerrorname_np(want) : "0");
	}
	fflush(stdout);
}

static int must(const char *what, long rc)
{
	if (rc < 0) { printf("FAIL setup %s -> %s\n", what, strerrorname_np(errno)); failures++; }
	return rc >= 0;
}

int main(void)
{
	long page = sysconf(_SC_PAGESIZE);
	/* Two pages: the first read-write, the second PROT_NONE (a guard for running-off cases). */
	unsigned char *mem = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *ro = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED || ro == MAP_FAILED || mprotect(mem + page, page, PROT_NONE)) { perror("mmap"); return 2; }

	int iommufd = open("/dev/iommu", O_RDWR);
	if (!must("open /dev/iommu", iommufd)) return 1;
	expect("open(\"/dev/vfio/devices/vfio99\")", open("/dev/vfio/devices/vfio99", O_RDWR), ENOENT);
	expect("open(\"/dev/iommu\", O_DIRECTORY)", open("/dev/iommu", O_RDONLY | O_DIRECTORY), ENOTDIR);
	expect("access(\"/dev/iommu\", F_OK)", access("/dev/iommu", F_OK), 0);
	expect("access(\"/dev/vfio/devices/vfio99\", F_OK)", access("/dev/vfio/devices/vfio99", F_OK), ENOENT);
	expect("open(\"/dev/iommu\", O_CREAT | O_EXCL)", open("/dev/iommu", O_RDWR | O_CREAT | O_EXCL, 0600), EEXIST);
	expect("an x32 syscall (getpid | __X32_SYSCALL_BIT)", syscall(0x40000000 | SYS_getpid), ENOSYS);

	/* Generic dispatch (drivers/iommu/iommufd/main.c). */
	struct iommu_ioas_alloc ioas = { .size = 4 };
	expect("IOMMU_IOAS_ALLOC size 4 (below the minimum 12)", ioctl(iommufd, IOMMU_IOAS_ALLOC, &ioas), EINVAL);
	unsigned char big[32] = { 0 };
	*(uint32_t *)big = sizeof big;
	big[20] = 1;
	expect("IOMMU_IOAS_ALLOC size 32 with a non-zero tail", ioctl(iommufd, IOMMU_IOAS_ALLOC, big), E2BIG);
	ioas = (struct iommu_ioas_alloc){ .size = sizeof ioas, .flags = 1 };
	expect("IOMMU_IOAS_ALLOC flags 1", ioctl(iommufd, IOMMU_IOAS_ALLOC, &ioas), EOPNOTSUPP);
	expect("IOMMU_IOAS_ALLOC arg 0x8 (wild pointer)", ioctl(iommufd, IOMMU_IOAS_ALLOC, (void *)8), EFAULT);
	expect("IOMMU_IOAS_ALLOC arg beyond TASK_SIZE", ioctl(iommufd, IOMMU_IOAS_ALLOC, (void *)0xffff800000000000ul), EFAULT);
	memcpy(ro, &(struct iommu_ioas_alloc){ .size = 12 }, 12);
	mprotect(ro, page, PROT_READ);
	expect("IOMMU_IOAS_ALLOC struct in a read-only page (copy-back faults)", ioctl(iommufd, IOMMU_IOAS_ALLOC, ro), EFAULT);
	unsigned char *edge = mem + page - 8;
	memcpy(edge, &(struct iommu_ioas_alloc){ .size = 12 }, 8);
	expect("IOMMU_IOAS_ALLOC struct running into a PROT_NONE page", ioctl(iommufd, IOMMU_IOAS_ALLOC, edge), EFAULT);
	memset(mem, 0, page);
	struct iommu_ioas_alloc *huge = (void *)mem;
	*huge = (struct iommu_ioas_alloc){ .size = 0x7fffffff };
	expect("IOMMU_IOAS_ALLOC size 0x7fffffff (zero tail runs off the mapping)", ioctl(iommufd, IOMMU_IOAS_ALLOC, huge), EFAULT);
	expect("ioctl 0x3bff (unknown iommufd nr)", ioctl(iommufd, 0x3bff, mem), ENOTTY);
	struct iommu_destroy destroy = { .size = sizeof destroy, .id = 999 };
	expect("IOMMU_DESTROY id 999", ioctl(iommufd, IOMMU_DESTROY, &destroy), ENOENT);
	/* The fd that copy-back fault left: no object, the next id is still 1. */
	ioas = (struct iommu_ioas_alloc){ .size = sizeof ioas };
	expect("IOMMU_IOAS_ALLOC after the faults", ioctl(iommufd, IOMMU_IOAS_ALLOC, &ioas), 0);
	if (ioas.out_ioas_id != 1) { failures++; printf("FAIL first IOAS id after faulting allocations is %u, expected 1\n", ioas.out_ioas_id); }
	destroy.id = ioas.out_ioas_id;
	expect("IOMMU_DESTROY the IOAS", ioctl(iommufd, IOMMU_DESTROY, &destroy), 0);

	/* Descriptors: closed, never opened, not the right kind. */
	expect("ioctl on fd 999 (never opened)", ioctl(999, IOMMU_IOAS_ALLOC, &ioas), EBADF);
	int kvm = open("/dev/kvm", O_RDWR);
	if (!must("open /dev/kvm", kvm)) return 1;
	expect("IOMMU_IOAS_ALLOC on /dev/kvm", ioctl(kvm, IOMMU_IOAS_ALLOC, &ioas), ENOTTY);
	expect("KVM_CREATE_VM type 0x77", ioctl(kvm, KVM_CREATE_VM, 0x77ul), EINVAL);
	int vm = ioctl(kvm, KVM_CREATE_VM, KVM_X86_SNP_VM);
	if (vm < 0) vm = ioctl(kvm, KVM_CREATE_VM, KVM_VM_TYPE_ARM_REALM);
	if (!must("KVM_CREATE_VM", vm)) return 1;
	struct kvm_create_device cd = { .type = 99 };
	expect("KVM_CREATE_DEVICE type 99", ioctl(vm, KVM_CREATE_DEVICE, &cd), ENODEV);
	cd.type = KVM_DEV_TYPE_VFIO;
	if (!must("KVM_CREATE_DEVICE", ioctl(vm, KVM_CREATE_DEVICE, &cd))) return 1;
	expect("KVM_CREATE_DEVICE a second VFIO device", ioctl(vm, KVM_CREATE_DEVICE, &cd), EBUSY);
	int kvm_vfio = (int)cd.fd;
	int vfio = open("/dev/vfio/devices/vfio0", O_RDWR);
	if (!must("open vfio0", vfio)) return 1;

	int32_t fdval = iommufd;
	struct kvm_device_attr attr = { .group = KVM_DEV_VFIO_FILE, .attr = KVM_DEV_VFIO_FILE_ADD, .addr = (uintptr_t)&fdval };
	expect("KVM_DEV_VFIO_FILE_ADD of an iommufd", ioctl(kvm_vfio, KVM_SET_DEVICE_ATTR, &attr), EINVAL);
	fdval = 999;
	expect("KVM_DEV_VFIO_FILE_ADD of fd 999", ioctl(kvm_vfio, KVM_SET_DEVICE_ATTR, &attr), EBADF);
	attr.addr = 8;
	expect("KVM_DEV_VFIO_FILE_ADD with a wild fd pointer", ioctl(kvm_vfio, KVM_SET_DEVICE_ATTR, &attr), EFAULT);
	attr.group = 7;
	expect("KVM_SET_DEVICE_ATTR group 7", ioctl(kvm_vfio, KVM_SET_DEVICE_ATTR, &attr), ENXIO);
	fdval = vfio;
	attr = (struct kvm_device_attr){ .group = KVM_DEV_VFIO_FILE, .attr = KVM_DEV_VFIO_FILE_ADD, .addr = (uintptr_t)&fdval };
	if (!must("KVM_DEV_VFIO_FILE_ADD", ioctl(kvm_vfio, KVM_SET_DEVICE_ATTR, &attr))) return 1;
	expect("KVM_DEV_VFIO_FILE_ADD twice", ioctl(kvm_vfio, KVM_SET_DEVICE_ATTR, &attr), EEXIST);

	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof attach, .pt_id = 1 };
	expect("VFIO_DEVICE_ATTACH_IOMMUFD_PT before bind", ioctl(vfio, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach), EINVAL);
	int pipefd[2];
	if (!must("pipe", pipe(pipefd))) return 1;
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof bind, .iommufd = (uint32_t)pipefd[0] };
	expect("VFIO_DEVICE_BIND_IOMMUFD with a pipe as iommufd", ioctl(vfio, VFIO_DEVICE_BIND_IOMMUFD, &bind), EBADFD);
	close(pipefd[0]);
	expect("VFIO_DEVICE_BIND_IOMMUFD with a closed fd as iommufd", ioctl(vfio, VFIO_DEVICE_BIND_IOMMUFD, &bind), EBADF);
	close(pipefd[1]);
	bind = (struct vfio_device_bind_iommufd){ .argsz = 8, .iommufd = (uint32_t)iommufd };
	expect("VFIO_DEVICE_BIND_IOMMUFD argsz 8", ioctl(vfio, VFIO_DEVICE_BIND_IOMMUFD, &bind), EINVAL);
	bind.argsz = sizeof bind;
	if (!must("VFIO_DEVICE_BIND_IOMMUFD", ioctl(vfio, VFIO_DEVICE_BIND_IOMMUFD, &bind))) return 1;
	expect("VFIO_DEVICE_BIND_IOMMUFD twice", ioctl(vfio, VFIO_DEVICE_BIND_IOMMUFD, &bind), EINVAL);

	ioas = (struct iommu_ioas_alloc){ .size = sizeof ioas };
	if (!must("IOMMU_IOAS_ALLOC", ioctl(iommufd, IOMMU_IOAS_ALLOC, &ioas))) return 1;
	struct iommu_hwpt_alloc hwpt = { .size = sizeof hwpt, .flags = IOMMU_HWPT_ALLOC_NEST_PARENT, .dev_id = bind.out_devid, .pt_id = 77 };
	expect("IOMMU_HWPT_ALLOC pt_id 77", ioctl(iommufd, IOMMU_HWPT_ALLOC, &hwpt), EINVAL); /* iommufd_get_object failing is EINVAL here */
	hwpt.pt_id = ioas.out_ioas_id;
	hwpt.flags = IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
	expect("IOMMU_HWPT_ALLOC DIRTY_TRACKING", ioctl(iommufd, IOMMU_HWPT_ALLOC, &hwpt), EOPNOTSUPP);
	hwpt.flags = IOMMU_HWPT_ALLOC_NEST_PARENT;
	if (!must("IOMMU_HWPT_ALLOC", ioctl(iommufd, IOMMU_HWPT_ALLOC, &hwpt))) return 1;
	struct iommu_viommu_alloc viommu = { .size = sizeof viommu, .type = IOMMU_VIOMMU_TYPE_DEFAULT, .dev_id = bind.out_devid, .hwpt_id = hwpt.out_hwpt_id };
	expect("IOMMU_VIOMMU_ALLOC type DEFAULT", ioctl(iommufd, IOMMU_VIOMMU_ALLOC, &viommu), EOPNOTSUPP);
	viommu.type = IOMMU_VIOMMU_TYPE_AMD;
	viommu.hwpt_id = ioas.out_ioas_id;
	expect("IOMMU_VIOMMU_ALLOC hwpt_id naming an IOAS", ioctl(iommufd, IOMMU_VIOMMU_ALLOC, &viommu), ENOENT);
	viommu.hwpt_id = hwpt.out_hwpt_id;
	if (!must("IOMMU_VIOMMU_ALLOC", ioctl(iommufd, IOMMU_VIOMMU_ALLOC, &viommu))) return 1;
	struct iommu_vdevice_alloc vdev = { .size = sizeof vdev, .viommu_id = viommu.out_viommu_id, .dev_id = bind.out_devid, .virt_id = 0x18 };
	if (!must("IOMMU_VDEVICE_ALLOC", ioctl(iommufd, IOMMU_VDEVICE_ALLOC, &vdev))) return 1;
	expect("IOMMU_VDEVICE_ALLOC a second vDevice for the device", ioctl(iommufd, IOMMU_VDEVICE_ALLOC, &vdev), EEXIST);

	struct iommu_vdevice_tsm_info info = { .size = sizeof info, .vdevice_id = vdev.out_vdevice_id };
	if (!must("IOMMU_VDEVICE_TSM_INFO", ioctl(iommufd, IOMMU_VDEVICE_TSM_INFO, &info))) return 1;
	struct iommu_vdevice_tsm_op op = { .size = sizeof op, .type = IOMMU_VDEVICE_TSM_BIND, .flags = 1, .vdevice_id = vdev.out_vdevice_id };
	expect("IOMMU_VDEVICE_TSM_OP flags 1", ioctl(iommufd, IOMMU_VDEVICE_TSM_OP, &op), EOPNOTSUPP);
	op.flags = 0;
	op.vdevice_id = 99;
	expect("IOMMU_VDEVICE_TSM_OP vdevice_id 99", ioctl(iommufd, IOMMU_VDEVICE_TSM_OP, &op), ENOENT);
	op.vdevice_id = vdev.out_vdevice_id;
	op.type = 9;
	expect("IOMMU_VDEVICE_TSM_OP type 9", ioctl(iommufd, IOMMU_VDEVICE_TSM_OP, &op), EINVAL);

	uint32_t state = IOMMU_VDEVICE_TSM_TDI_RUN;
	uint32_t arch = info.out_tvm_arch, other = arch == IOMMU_VDEVICE_TSM_TVM_ARCH_SEV ? IOMMU_VDEVICE_TSM_TVM_ARCH_CCA : IOMMU_VDEVICE_TSM_TVM_ARCH_SEV;
	struct iommu_vdevice_tsm_req_op_arch req = { .size = sizeof req, .vdevice_id = vdev.out_vdevice_id,
		.op = IOMMU_VDEVICE_TSM_REQ_OP_SET_TDI_STATE, .tvm_arch = 7, .req_len = 4, .req_uptr = (uintptr_t)&state };
	int scope = (info.out_flags & IOMMU_VDEVICE_TSM_INFO_SCOPE_PROFILE) != 0;
	if (scope) {
		struct iommu_vdevice_tsm_req_scope sreq = { .size = sizeof sreq, .vdevice_id = vdev.out_vdevice_id, .scope = 4 };
		expect("IOMMU_VDEVICE_TSM_REQ scope 4 (above PCI_LAST)", ioctl(iommufd, IOMMU_VDEVICE_TSM_REQ, &sreq), EINVAL);
		sreq.scope = IOMMU_VDEVICE_TSM_REQ_PCI_INFO;
		sreq.__reserved = 1;
		expect("IOMMU_VDEVICE_TSM_REQ __reserved 1", ioctl(iommufd, IOMMU_VDEVICE_TSM_REQ, &sreq), EOPNOTSUPP);
		sreq.__reserved = 0;
		sreq.scope = IOMMU_VDEVICE_TSM_REQ_PCI_DEBUG_READ;
		expect("IOMMU_VDEVICE_TSM_REQ scope DEBUG_READ", ioctl(iommufd, IOMMU_VDEVICE_TSM_REQ, &sreq), EINVAL);
	} else {
		expect("IOMMU_VDEVICE_TSM_REQ tvm_arch 7", ioctl(iommufd, IOMMU_VDEVICE_TSM_REQ, &req), EINVAL);
		req.tvm_arch = IOMMU_VDEVICE_TSM_TVM_ARCH_CCA;
		req.op = IOMMU_VDEVICE_TSM_REQ_OP_SEV_ENABLE_DMA;
		expect("IOMMU_VDEVICE_TSM_REQ SEV_ENABLE_DMA with tvm_arch CCA", ioctl(iommufd, IOMMU_VDEVICE_TSM_REQ, &req), EINVAL);
		req.op = IOMMU_VDEVICE_TSM_REQ_OP_SET_TDI_STATE;
		req.tvm_arch = other;
		expect("IOMMU_VDEVICE_TSM_REQ tvm_arch not the VM's", ioctl(iommufd, IOMMU_VDEVICE_TSM_REQ, &req), EINVAL);
		req.tvm_arch = arch;
		expect("IOMMU_VDEVICE_TSM_REQ before bind", ioctl(iommufd, IOMMU_VDEVICE_TSM_REQ, &req), ENXIO);
	}
	if (info.out_tsm_id == IOMMU_VDEVICE_TSM_NO_TSM) {
		expect("IOMMU_VDEVICE_TSM_OP BIND with no TSM", ioctl(iommufd, IOMMU_VDEVICE_TSM_OP, &(struct iommu_vdevice_tsm_op){
			.size = 16, .type = IOMMU_VDEVICE_TSM_BIND, .vdevice_id = vdev.out_vdevice_id }), EINVAL);
		printf("note no TSM backs vfio0 on this host: the bound-TDI cases are skipped\n");
	} else if (!scope) {
		op.type = IOMMU_VDEVICE_TSM_BIND;
		if (!must("IOMMU_VDEVICE_TSM_OP BIND", ioctl(iommufd, IOMMU_VDEVICE_TSM_OP, &op))) return 1;
		req.req_len = 0xffffffff;
		expect("IOMMU_VDEVICE_TSM_REQ req_len 0xffffffff", ioctl(iommufd, IOMMU_VDEVICE_TSM_REQ, &req), EINVAL);
		req.req_len = 4;
		req.req_uptr = 8;
		expect("IOMMU_VDEVICE_TSM_REQ req_uptr 0x8 (wild payload pointer)", ioctl(iommufd, IOMMU_VDEVICE_TSM_REQ, &req), EFAULT);
		req.req_uptr = (uintptr_t)(mem + page);
		expect("IOMMU_VDEVICE_TSM_REQ payload in a PROT_NONE page", ioctl(iommufd, IOMMU_VDEVICE_TSM_REQ, &req), EFAULT);
		op.type = IOMMU_VDEVICE_TSM_UNBIND;
		expect("IOMMU_VDEVICE_TSM_OP UNBIND", ioctl(iommufd, IOMMU_VDEVICE_TSM_OP, &op), 0);
		req.req_uptr = (uintptr_t)&state;
		expect("IOMMU_VDEVICE_TSM_REQ after unbind", ioctl(iommufd, IOMMU_VDEVICE_TSM_REQ, &req), ENXIO);
	}

	close(vfio);
	close(kvm_vfio);
	close(vm);
	close(kvm);
	expect("close(iommufd)", close(iommufd), 0);
	expect("ioctl on the closed iommufd", ioctl(iommufd, IOMMU_IOAS_ALLOC, &ioas), EBADF);
	printf("%s: %d case(s) failed\n", failures ? "FAILED" : "all errnos as documented", failures);
	return failures ? 1 : 0;
}
