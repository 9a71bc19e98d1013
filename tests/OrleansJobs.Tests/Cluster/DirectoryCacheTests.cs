using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using OrleansJobs.Silo.Hosting;
using OrleansJobs.Tests.Infrastructure;

namespace OrleansJobs.Tests.Cluster;

/// <summary>
/// The silo's grain directory cache is bounded: Orleans' size gauge enumerates the whole cache on every read, and the
/// dashboard reads it every second, so with Orleans' default (a million entries) its cost grew with the active jobs.
/// </summary>
[Collection(AdoNetClusterCollection.Name)]
public sealed class DirectoryCacheTests(AdoNetClusterFixture fixture)
{
    [Fact]
    public void DirectoryCache_IsBoundedOnEverySilo()
    {
        Assert.True(SiloHostingExtensions.DefaultDirectoryCacheSize < GrainDirectoryOptions.DEFAULT_CACHE_SIZE);
        foreach (var silo in fixture.Cluster.GetActiveSilos())
        {
            var options = fixture.Cluster.GetSiloServiceProvider(silo.SiloAddress).GetRequiredService<IOptions<GrainDirectoryOptions>>().Value;
            Assert.Equal(SiloHostingExtensions.DefaultDirectoryCacheSize, options.CacheSize);
        }
    }

    [Fact]
    public void DirectoryCacheSize_IsTakenFromConfiguration()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["GrainDirectory:CacheSize"] = "5000" });
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering();
            silo.AddOrleansJobsServices(builder.Configuration, "Host=127.0.0.1;Database=unused;Username=unused;Password=unused");
        });
        using var host = builder.Build(); // never started: only the options are read

        Assert.Equal(5000, host.Services.GetRequiredService<IOptions<GrainDirectoryOptions>>().Value.CacheSize);
    }
}
