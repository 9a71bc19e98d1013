using Microsoft.Extensions.DependencyInjection;
using OrleansJobs.Devices;
using OrleansJobs.Hosting;
using OrleansJobs.Jobs;
using OrleansJobs.Jobs.Resources;
using OrleansJobs.Libraries;
using OrleansJobs.Tests.Infrastructure;

namespace OrleansJobs.Tests.Cluster;

/// <summary>
/// <see cref="GrainReferences.Reference{T}"/>, used on the hot paths instead of <c>GetGrain&lt;T&gt;(string)</c>: the
/// same reference, from the first call (resolved by Orleans) and the later ones (built from the kept types), with
/// the client's factory and a silo's, and it reaches the grain.
/// </summary>
[Collection(AdoNetClusterCollection.Name)]
public sealed class GrainReferencesTests(AdoNetClusterFixture fixture)
{
    [Fact]
    public void Reference_IsTheReferenceGetGrainGives_ForEveryHotInterface_WithEitherFactory()
    {
        var client = fixture.Cluster.Client;
        var silo = fixture.Cluster.GetSiloServiceProvider(fixture.Cluster.GetActiveSilos().First().SiloAddress).GetRequiredService<IGrainFactory>();
        foreach (var factory in new IGrainFactory[] { client, silo, client })
        {
            foreach (var key in new[] { "refs-a", "refs-b" })
            {
                SameAs<IJobGrain>(factory, key);
                SameAs<IRunSlotsGrain>(factory, key);
                SameAs<ILibraryLockGrain>(factory, key);
                SameAs<IDeviceOwnershipGrain>(factory, key);
                SameAs<IDevicePoolGrain>(factory, key);
                SameAs<IResourceHolder>(factory, key);
                SameAs<ILibraryGrain>(factory, key);
                SameAs<IDeviceGrain>(factory, key);
            }
        }
    }

    [Fact]
    public async Task Reference_KeptTypes_ReachTheGrain()
    {
        var type = $"refs{Guid.NewGuid():N}"[..16];
        var first = fixture.Cluster.Client.Reference<IRunSlotsGrain>(type);
        var later = fixture.Cluster.Client.Reference<IRunSlotsGrain>(type);

        var ticket = await first.RequestAsync($"{type}-job", 0, DateTimeOffset.UtcNow);
        var stats = await later.GetStatsAsync();
        await later.ReleaseAsync($"{type}-job");

        Assert.True(ticket.Granted);
        Assert.Equal(1, stats.Held);
        Assert.Equal(0, (await first.GetStatsAsync()).Held);
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    public void Reference_BlankKey_IsRefusedAsByGetGrain(string key)
    {
        Assert.ThrowsAny<ArgumentException>(() => fixture.Cluster.Client.GetGrain<IJobGrain>(key));
        Assert.ThrowsAny<ArgumentException>(() => fixture.Cluster.Client.Reference<IJobGrain>(key));
    }

    private static void SameAs<T>(IGrainFactory factory, string key) where T : IGrainWithStringKey
    {
        var expected = (GrainReference)(object)factory.GetGrain<T>(key);
        foreach (var actual in new[] { factory.Reference<T>(key), factory.Reference<T>(key) }.Cast<GrainReference>())
        {
            Assert.Equal(expected.GrainId, actual.GrainId);
            Assert.Equal(expected.InterfaceType, actual.InterfaceType);
            Assert.Equal(expected.GetType(), actual.GetType());
            Assert.Equal(expected, actual);
        }
    }
}
