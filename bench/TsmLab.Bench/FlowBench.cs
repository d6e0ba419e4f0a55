using BenchmarkDotNet.Attributes;
using TsmLab.Platforms.Cca;
using TsmLab.Platforms.SevTio;
using TsmLab.Platforms.SevTio.Abi;
using TsmLab.Platforms.SevTio.Firmware;
using TsmLab.Platforms.SevTio.HostDriver;
using TsmLab.Platforms.SevTio.Vmm;
using TsmLab.Platforms.SevTio.Kvm;
using TsmLab.Platforms.SevTio.Guest;
using TsmLab.Platforms.Tdx;

namespace TsmLab.Bench;

/// <summary>
/// Benchmark 4: the demo's work per platform, without output. One operation boots a fresh
/// built-in host (new device model, firmware, kernel), runs the VMM's assignment sequence up to
/// TSM_INFO, then the guest's lock (bind through the VMM, evidence fetched and checked), accept
/// (every TEE MMIO range validated, RUN) with DMA enabled, and unlock.
/// </summary>
[MemoryDiagnoser]
public class FlowBench
{
    [GlobalSetup]
    public void Setup()
    {
        if (!Cca()) throw new InvalidOperationException("CCA flow failed");
        if (!Sev()) throw new InvalidOperationException("SEV-TIO flow failed");
        if (!Tdx()) throw new InvalidOperationException("TDX flow failed");
    }

    /// <summary>CCA: realm VM, lock (TSM_OP BIND, report, measurements, 4 objects read, RSI_VDEV_GET_INFO, digests), accept (RSI_VDEV_VALIDATE_MAPPING per TEE range → RTT_DEV_MAP per 4 KiB page, RUN, RSI_VDEV_DMA_ENABLE), unlock (DMA_DISABLE, UNBIND).</summary>
    [Benchmark(Baseline = true, Description = "CCA boot+assign+lock+accept+DMA+unlock")]
    public bool Cca()
    {
        var s = CcaRealmSession.Start();
        return s.Guest.Lock() && s.Guest.Accept() && s.Guest.DmaEnabled && s.Guest.Unlock();
    }

    /// <summary>SEV-TIO: SNP VM, lock (OP_BIND, TDI_INFO with certs, measurements, report), accept (MMIO_VALIDATE per range, OP_RUN), SDTE_WRITE (DMA), unlock.</summary>
    [Benchmark(Description = "SEV boot+assign+lock+accept+DMA+unlock")]
    public bool Sev()
    {
        var s = SevTioSession.Start();
        return s.Prepared && s.Guest.Lock().IsOk && s.Guest.Accept().IsOk && s.Guest.EnableDma().IsOk && s.Guest.Unlock().IsOk;
    }

    /// <summary>TDX: TD VM, lock (TDISP LOCK through the TDX module, report and measurements over TDVMCALL, digest and signature checks), accept (private MMIO accepted per page, RUN), DMA enable, unlock.</summary>
    [Benchmark(Description = "TDX boot+assign+lock+accept+DMA+unlock")]
    public bool Tdx()
    {
        var s = TdxSession.Start();
        return s.Guest.Lock().Ok && s.Guest.Accept().Ok && s.Guest.EnableDma().Ok && s.Guest.Unlock().Ok;
    }
}
