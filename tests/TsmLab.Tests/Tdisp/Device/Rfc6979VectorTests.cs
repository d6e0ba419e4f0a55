using System.Security.Cryptography;

namespace TsmLab.Tests.Tdisp;

public class Rfc6979VectorTests
{
    /// <summary>RFC 6979 appendix A.2.6 (P-384, SHA-384, message "sample").</summary>
    [Fact]
    public void P384Sha384Sample_MatchesTheRfcVector()
    {
        using var key = ECDsa.Create();
        key.ImportParameters(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP384,
            D = Convert.FromHexString("6B9D3DAD2E1B8C1C05B19875B6659F4DE23C3B667BF297BA9AA47740787137D896D5724E4C70A825F872C9EA60D2EDF5"),
        });
        var (r, s) = new TsmLab.Tdisp.Device.DeterministicEcdsa(key).SignHash(SHA384.HashData("sample"u8));
        Assert.Equal("94EDBB92A5ECB8AAD4736E56C691916B3F88140666CE9FA73D64C4EA95AD133C81A648152E44ACF96E36DD1E80FABE46", r.ToString("X").TrimStart('0'));
        Assert.Equal("99EF4AEB15F178CEA1FE40DB2603138F130E740A19624526203B6351D0A3A94FA329C145786E679E7B82C71A38628AC8", s.ToString("X").TrimStart('0'));
    }
}
