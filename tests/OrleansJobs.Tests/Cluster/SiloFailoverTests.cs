using Orleans.TestingHost;
using OrleansJobs.Tests.Infrastructure;
using OrleansJobs.Tests.TestGrains;

namespace OrleansJobs.Tests.Cluster;

/// <summary>
/// A two-silo cluster of its own for tests that disturb a cluster: <see cref="SiloFailoverTests"/>
/// and the admission test that locks the job state. Stopping and replacing a
/// silo leaves work behind for a while (directory and reminder ranges move, jobs hand over),
/// which must not reach the job tests on the shared cluster.
/// </summary>
[CollectionDefinition(Name)]
public sealed class FailoverClusterCollection : ICollectionFixture<AdoNetClusterFixture>
{
    public const string Name = "AdoNet failover cluster";
}

/// <summary>
/// What the watchdog rests on: state in the jobs store and reminders in PostgreSQL outlive the
/// silo that wrote them. Each test stops a silo and starts a replacement, so the two-silo
/// cluster is whole again for the next test.
/// </summary>
[Collection(FailoverClusterCollection.Name)]
public sealed class SiloFailoverTests(AdoNetClusterFixture fixture)
{
    private TestCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task TestCluster_RunsOnAdoNetMembership()
    {
        // A silo stopped by an earlier test marks its own row Dead while it stops; wait for it all the same.
        await Wait.UntilAsync(
            "the Active rows to be the cluster's active silos",
            async () => await fixture.Database.ScalarAsync<int>("SELECT count(*) FROM orleansmembershiptable WHERE status = 3") == Cluster.GetActiveSilos().Count(),
            describe: async () => $"active: {string.Join(", ", Cluster.GetActiveSilos().Select(s => s.SiloAddress))}; rows: " + string.Join(", ", await fixture.Database.QueryAsync(
                "SELECT address || ':' || port || '@' || generation || '=' || status || ' ' || coalesce(suspecttimes, '') FROM orleansmembershiptable ORDER BY generation",
                r => r.GetString(0))));

        Assert.Equal(2, Cluster.GetActiveSilos().Count());
    }

    [Fact]
    public async Task PersistedState_AfterItsSiloStops_IsReadBackOnAnotherSilo()
    {
        var grain = Cluster.Client.GetGrain<IStateProbeGrain>($"state-{Guid.NewGuid():N}");
        await grain.AddAsync(5);
        var before = await grain.AddAsync(7);

        await StopAndReplaceAsync(before.Silo);
        // The client's first call may still pick the stopped silo's gateway and fail; a client retries.
        var after = await Wait.ForAsync("the grain to answer after its silo stopped", () => grain.GetAsync(), _ => true);

        Assert.NotEqual(before.Silo, after.Silo);
        Assert.Equal(12, after.Total);
        Assert.Equal(2, after.Writes);
        // The checkpoint format is plain JSON keyed by property name, readable with psql.
        var payload = await fixture.Database.ScalarAsync<string>(
            "SELECT convert_from(payload, 'UTF8') FROM grain_state WHERE grain_id LIKE '%/' || @key",
            ("key", grain.GetPrimaryKeyString()));
        Assert.Contains("\"Total\":12", payload, StringComparison.Ordinal);
        Assert.DoesNotContain("$type", payload, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reminder_AfterItsSiloStops_KeepsFiringOnTheSurvivor()
    {
        var key = $"reminder-{Guid.NewGuid():N}";
        var grain = Cluster.Client.GetGrain<IReminderProbeGrain>(key);
        var firstSilo = await grain.StartAsync(TimeSpan.FromSeconds(2));
        try
        {
            await Wait.UntilAsync(
                $"a tick of reminder {key} on {firstSilo}",
                async () => await CountTicksAsync(key, firstSilo, after: DateTime.MinValue) > 0,
                TimeSpan.FromSeconds(30));

            var stoppedAt = await StopAndReplaceAsync(firstSilo);

            // Nothing calls the grain now: only the reminder can bring it back, on a live silo.
            await Wait.UntilAsync(
                $"reminder {key} to fire on a silo other than {firstSilo} after it stopped",
                async () => await CountTicksElsewhereAsync(key, firstSilo, stoppedAt) > 0,
                TimeSpan.FromSeconds(60),
                async () => string.Join(", ", await fixture.Database.QueryAsync(
                    "SELECT silo || '@' || to_char(at, 'HH24:MI:SS.MS') FROM test_reminder_ticks WHERE grain = @g ORDER BY at",
                    r => r.GetString(0), ("g", key))));
        }
        finally
        {
            await Wait.ForAsync("the reminder to be stopped", async () =>
            {
                await grain.StopAsync();
                return true;
            }, _ => true);
        }
    }

    /// <summary>Stops the silo with that address and starts a new one; returns when it stopped (database clock).</summary>
    private async Task<DateTime> StopAndReplaceAsync(string siloAddress)
    {
        var silo = Cluster.GetActiveSilos().Single(s => s.SiloAddress.ToParsableString() == siloAddress);
        await Cluster.StopSiloAsync(silo);
        var stoppedAt = await fixture.Database.ScalarAsync<DateTime>("SELECT clock_timestamp()");
        await Cluster.StartAdditionalSiloAsync();
        return stoppedAt;
    }

    private Task<int> CountTicksAsync(string grain, string silo, DateTime after) => fixture.Database.ScalarAsync<int>(
        "SELECT count(*) FROM test_reminder_ticks WHERE grain = @g AND silo = @s AND at > @after",
        ("g", grain), ("s", silo), ("after", after));

    private Task<int> CountTicksElsewhereAsync(string grain, string silo, DateTime after) => fixture.Database.ScalarAsync<int>(
        "SELECT count(*) FROM test_reminder_ticks WHERE grain = @g AND silo <> @s AND at > @after",
        ("g", grain), ("s", silo), ("after", after));
}
