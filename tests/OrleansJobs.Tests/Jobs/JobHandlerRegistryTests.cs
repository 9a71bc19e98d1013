using Microsoft.Extensions.DependencyInjection;
using OrleansJobs.Jobs.Handlers;
using OrleansJobs.Jobs.Synthetic;
using OrleansJobs.Tests.Infrastructure;

namespace OrleansJobs.Tests.Jobs;

[Collection(AdoNetClusterCollection.Name)]
public sealed class JobHandlerRegistryTests(AdoNetClusterFixture fixture)
{
    [Fact]
    public void Silo_RegistersTheSyntheticType_AndCreatesAHandlerPerRun()
    {
        var services = fixture.Cluster.GetSiloServiceProvider(fixture.Cluster.GetActiveSilos().First().SiloAddress)!;
        var registry = services.GetRequiredService<JobHandlerRegistry>();

        Assert.True(registry.TryGet(SyntheticJobHandler.TypeName, out var registration));
        Assert.Equal(50, registration.Options.MaxConcurrent);
        Assert.Equal(3, registration.Options.MaxAttempts);
        var first = registry.Create(registration);
        Assert.IsType<SyntheticJobHandler>(first);
        Assert.NotSame(first, registry.Create(registration));
        Assert.False(registry.TryGet("no-such-type", out _));
    }

    [Theory]
    [InlineData("Synthetic")]
    [InlineData("1scan")]
    [InlineData("scan library")]
    [InlineData("")]
    public void AddJobHandler_RefusesBadNames(string name)
    {
        var services = new ServiceCollection();

        Assert.Throws<ArgumentException>(() => services.AddJobHandler<SyntheticJobHandler>(name));
    }

    [Fact]
    public void Registry_RefusesATypeRegisteredTwice()
    {
        var services = new ServiceCollection();
        services.AddJobHandler<SyntheticJobHandler>("scan");
        services.AddJobHandler<SyntheticJobHandler>("scan", o => o.MaxConcurrent = 2);
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<JobHandlerRegistry>());
        Assert.Contains("'scan'", error.Message, StringComparison.Ordinal);
    }
}
