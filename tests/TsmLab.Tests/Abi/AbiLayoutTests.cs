using TsmLab.Abi;

namespace TsmLab.Tests.Abi;

public class AbiLayoutTests
{
    [Theory]
    [InlineData(IommufdIoctl.Destroy, 0x3B80u)]
    [InlineData(IommufdIoctl.IoasAlloc, 0x3B81u)]
    [InlineData(IommufdIoctl.HwptAlloc, 0x3B89u)]
    [InlineData(IommufdIoctl.ViommuAlloc, 0x3B90u)]
    [InlineData(IommufdIoctl.VdeviceAlloc, 0x3B91u)]
    [InlineData(IommufdIoctl.VdeviceTsmOp, 0x3B95u)]
    [InlineData(IommufdIoctl.VdeviceTsmReq, 0x3B96u)]
    [InlineData(IommufdIoctl.VdeviceTsmInfo, 0x3BE0u)]
    [InlineData(VfioIoctl.DeviceBindIommufd, 0x3B76u)]
    [InlineData(VfioIoctl.DeviceAttachIommufdPt, 0x3B77u)]
    [InlineData(KvmIoctl.CreateVm, 0xAE01u)]
    public void IoctlNumbers_MatchLinuxEncoding(uint actual, uint expected) => Assert.Equal(expected, actual);

    [Fact]
    public void KvmSizedIoctls_EncodeDirectionAndSize()
    {
        Assert.Equal(0xC00CAEE0u, KvmIoctl.CreateDevice);   // _IOWR(0xAE, 0xe0, 12)
        Assert.Equal(0x4018AEE1u, KvmIoctl.SetDeviceAttr);  // _IOW(0xAE, 0xe1, 24)
        Assert.Equal(0x3B96u, IoctlEncoding.Io(IommufdIoctl.Type, 0x96));
    }

    [Fact]
    public void TsmReq_Profiles_HaveTheirSizesAndMinimums()
    {
        Assert.Equal((40, 40), (IommuVdeviceTsmReqScope.Layout.Size, IommuVdeviceTsmReqScope.Layout.MinSize));
        Assert.Equal((48, 48), (IommuVdeviceTsmReqOpArch.Layout.Size, IommuVdeviceTsmReqOpArch.Layout.MinSize));
        Assert.Equal(20, IommuVdeviceTsmReqScope.Layout["__reserved"].Offset);
        Assert.Equal(40, IommuVdeviceTsmReqOpArch.Layout["tsm_code"].Offset);
        Assert.Equal(8, IommuVdeviceTsmReqOpArch.Layout["tsm_code"].Size);
    }

    [Theory]
    [InlineData("iommu_destroy", 8, 8)]
    [InlineData("iommu_ioas_alloc", 12, 12)]
    [InlineData("iommu_hwpt_alloc", 48, 24)]
    [InlineData("iommu_viommu_alloc", 40, 24)]
    [InlineData("iommu_vdevice_alloc", 24, 24)]
    [InlineData("iommu_vdevice_tsm_op", 16, 16)]
    [InlineData("iommu_vdevice_tsm_info", 56, 56)]
    [InlineData("vfio_device_bind_iommufd", 16, 16)]
    [InlineData("vfio_device_attach_iommufd_pt", 12, 12)]
    [InlineData("kvm_create_device", 12, 12)]
    [InlineData("kvm_device_attr", 24, 24)]
    public void Structs_HaveLinuxSizeAndMinimum(string name, int size, int min)
    {
        var s = AbiCatalog.AllStructs.Single(x => x.Name == name);
        Assert.Equal(size, s.Size);
        Assert.Equal(min, s.MinSize);
    }

    [Fact]
    public void EveryStruct_FieldsAreContiguousNaturallyAlignedAndFillTheStruct()
    {
        foreach (var s in AbiCatalog.AllStructs)
        {
            int expected = 0;
            foreach (var f in s.Fields)
            {
                Assert.True(f.Offset == expected, $"{s.Name}.{f.Name} at {f.Offset}, expected {expected}");
                Assert.True(f.Offset % f.Size == 0, $"{s.Name}.{f.Name} is not naturally aligned");
                expected = f.Offset + f.Size;
            }
            Assert.Equal(s.Size, expected);
        }
    }

    [Theory]
    [InlineData(TsmAbiProfile.OpArch, 40)]
    [InlineData(TsmAbiProfile.Scope, 40)]
    public void Catalog_ListsTheTsmRequestLayoutOfTheProfile(TsmAbiProfile profile, int _)
    {
        var req = AbiCatalog.Ioctls(profile).Single(i => i.Name == "IOMMU_VDEVICE_TSM_REQ");
        Assert.Equal(profile == TsmAbiProfile.Scope ? 40 : 48, req.Struct.Size);
        Assert.Equal(0x3B96u, req.Number);
    }

    [Fact]
    public void TsmReqWriters_ProduceTheDocumentedBytes()
    {
        var op = new byte[48];
        op.AsSpan().Fill(0xEE);
        IommuVdeviceTsmReqOpArch.Write(op, 5, TsmReqOp.SetTdiState, TvmArch.Cca, 4, 8, 0x1122334455667788, 0x99);
        Assert.Equal(Convert.FromHexString("30000000" + "05000000" + "02000000" + "01000000" + "04000000" + "08000000" + "8877665544332211" + "9900000000000000" + "0000000000000000"), op);
        var sc = new byte[40];
        sc.AsSpan().Fill(0xEE);
        IommuVdeviceTsmReqScope.Write(sc, 7, TsmReqScope.PciStateChange, 8, 0, 0x1000, 0);
        Assert.Equal(Convert.FromHexString("28000000" + "07000000" + "01000000" + "08000000" + "00000000" + "00000000" + "0010000000000000" + "0000000000000000"), sc);
    }
}
