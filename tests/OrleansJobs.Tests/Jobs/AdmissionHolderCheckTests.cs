using System.Diagnostics;
using OrleansJobs.Jobs.Resources;
using OrleansJobs.Tests.Cluster;
using OrleansJobs.Tests.Infrastructure;

namespace OrleansJobs.Tests.Jobs;

/// <summary>
/// The admission's holder check while its holders cannot answer (their silo has just died, or
/// their state cannot be read): the type's submits and releases must not wait behind it. Runs on
/// the cluster of its own that the failover tests use, because it locks that cluster's job state.
/// </summary>
[Collection(FailoverClusterCollection.Name)]
public sealed class AdmissionHolderCheckTests(AdoNetClusterFixture fixture)
{
    [Fact]
    public async Task HolderCheck_WaitingForHoldersThatDoNotAnswer_NeverHoldsUpTheTypesRequests()
    {
        var type = $"held{Guid.NewGuid():N}"[..16];
        var holders = Enumerable.Range(0, 5).Select(i => $"{type}-holder-{i}").ToList();
        // The index says five jobs of the type run; the admission takes them over as holders.
        foreach (var holder in holders)
        {
            await fixture.Database.ExecuteAsync(
                "INSERT INTO job_index (job_id, job_type, status, created_at, updated_at, state_version) VALUES (@id, @type, 'Running', now(), now(), 1)",
                ("id", holder), ("type", type));
        }

        // No job state can be read: a holder asked by the check cannot activate, so it never answers.
        await using var locked = await JobStateLock.TableAsync(fixture.Database);

        var admission = fixture.Cluster.Client.GetGrain<IRunSlotsGrain>(type);
        Assert.Equal(5, (await admission.GetStatsAsync()).Held);

        // The first check (5 s after activation) asks the holders and waits for them, up to 5 s each.
        await Wait.UntilAsync("the holder check to wait for its holders", async () =>
            await locked.WaitingAsync() > 0,
            TimeSpan.FromSeconds(30));

        // Meanwhile the type's requests are answered at once: a submit's slot request and a release.
        var clock = Stopwatch.StartNew();
        var ticket = await admission.RequestAsync($"{type}-new", 0, DateTimeOffset.UtcNow);
        await admission.ReleaseAsync($"{type}-new");
        var stats = await admission.GetStatsAsync();
        var took = clock.Elapsed;
        var stillWaiting = await locked.WaitingAsync();

        await locked.ReleaseAsync();
        Assert.True(ticket.Granted);
        Assert.Equal(5, stats.Held); // unanswered holders keep their slots until they answer
        Assert.True(stillWaiting > 0, "the holders' state reads had ended before the requests were made; the test showed nothing");
        Assert.True(took < TimeSpan.FromSeconds(2), $"three admission calls took {took.TotalMilliseconds:0} ms while the check waited");
    }
}
