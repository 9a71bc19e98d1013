using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansJobs.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansJobs.Tests.EndToEnd;

/// <summary>
/// Tests whose assertions are about time (how fast a restart is ready, that no request hangs).
/// They run alone, after the parallel tests, so CPU contention from other tests on a 2-core
/// machine cannot decide their outcome.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimingCollection
{
    public const string Name = "Timing (runs alone)";
}

/// <summary>
/// Long failure drills whose assertions are about effects, not time (the chaos test, the database
/// outage). They run one after the other, alongside the parallel tests, instead of after them.
/// </summary>
[RunsFor(130)]
[CollectionDefinition(Name)]
public sealed class DrillCollection
{
    public const string Name = "Failure drills";
}

[Collection(TimingCollection.Name)]
public sealed class ClusterTimingTests(MigratedDatabaseFixture fixture, ITestOutputHelper output) : IClassFixture<MigratedDatabaseFixture>
{
    [Fact]
    public async Task ApiHost_WhenASiloIsKilled_NeverHangsARequest_AndReportsTheSurvivor()
    {
        await using var cluster = new ProcessCluster(fixture.Database);
        var first = cluster.StartSilo();
        var second = cluster.StartSilo();
        var api = cluster.StartApiHost();
        using var http = api.CreateClient(TimeSpan.FromSeconds(60));
        await ProcessCluster.WaitForReadyAsync(http, silos: 2);

        await first.Process.KillAsync();

        // Until the dead silo is evicted, calls routed to it must fail fast (the API's grain
        // call timeout, 5 s), not after Orleans' default 30 s response timeout.
        var slowest = TimeSpan.Zero;
        await Wait.UntilAsync("/health/ready to report only the survivor", async () =>
        {
            var clock = Stopwatch.StartNew();
            using var response = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
            slowest = clock.Elapsed > slowest ? clock.Elapsed : slowest;
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();
            return response.IsSuccessStatusCode && body.GetProperty("cluster").GetProperty("activeSilos").GetInt32() == 1;
        }, TimeSpan.FromSeconds(60));

        Assert.True(slowest < TimeSpan.FromSeconds(10), $"a readiness request took {slowest.TotalSeconds:0.0} s");
        Assert.False(api.Process.HasExited);
        Assert.False(second.Process.HasExited);
    }

    [Fact]
    public async Task WholeCluster_KilledAndRestartedOnTheSamePorts_IsReadyWithinSeconds()
    {
        await using var cluster = new ProcessCluster(fixture.Database);
        var silos = Enumerable.Range(0, 3).Select(_ => cluster.StartSilo()).ToList();
        var api = cluster.StartApiHost();
        using (var http = api.CreateClient(TimeSpan.FromSeconds(20)))
        {
            await ProcessCluster.WaitForReadyAsync(http, silos: 3);
        }

        var before = (await cluster.MembershipAsync()).Max(r => r.Generation);

        // What deploy/up.sh meets after a crash of the machine's processes: everything died at once.
        await Task.WhenAll(silos.Select(s => s.Process.KillAsync()).Append(api.Process.KillAsync()));
        var clock = Stopwatch.StartNew();
        var restarted = silos.Select(s => cluster.StartSilo(s.SiloPort, s.GatewayPort)).ToList();
        var newApi = cluster.StartApiHost();

        // dotnet/orleans#7194: new silos must not wait out MaxJoinAttemptTime (5 min) on the stale rows.
        foreach (var silo in restarted)
        {
            await cluster.WaitForActiveAsync(silo, TimeSpan.FromSeconds(60), newerThanGeneration: before);
        }

        var silosActive = clock.Elapsed;
        using var client = newApi.CreateClient(TimeSpan.FromSeconds(20));
        await ProcessCluster.WaitForReadyAsync(client, silos: 3, TimeSpan.FromSeconds(60));
        var ready = clock.Elapsed;
        output.WriteLine($"silos Active after {silosActive.TotalSeconds:0.0} s, ready after {ready.TotalSeconds:0.0} s");

        // Alone on 2 cores: about 10 s, nearly all of it process start-up. The bounds leave room for a slow machine;
        // without the start-up sweep, silos restarted on their old ports at once could wait out each other's probes.
        Assert.True(silosActive < TimeSpan.FromSeconds(20), $"silos were Active after {silosActive.TotalSeconds:0.0} s");
        Assert.True(ready < TimeSpan.FromSeconds(30), $"the restarted system was ready after {ready.TotalSeconds:0.0} s");
        var rows = await cluster.MembershipAsync();
        Assert.Equal(3, rows.Count(r => r.Status == MembershipStatus.Active));
        Assert.Equal(3, rows.Count(r => r.Status == MembershipStatus.Dead));
    }
}
