using System.Globalization;
using OrleansJobs.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansJobs.Tests.EndToEnd.Events;

/// <summary>
/// Events across the cluster: two silos and two API hosts, a client on each host. A silo is killed
/// mid-run and so is the first host, whose client reconnects to the other with Last-Event-ID. Both
/// clients end up with every journal entry of the jobs exactly once, in commit order.
/// </summary>
[Collection(DrillCollection.Name)]
public sealed class EventFailoverTests(MigratedDatabaseFixture fixture, ITestOutputHelper output) : IClassFixture<MigratedDatabaseFixture>
{
    private const int Jobs = 40;

    [Fact]
    public async Task SiloAndApiHostKilled_ClientsOnEitherHost_GetEveryTransitionOnceInOrder()
    {
        await using var cluster = new ProcessCluster(fixture.Database);
        var silos = new[] { cluster.StartSilo(), cluster.StartSilo() };
        var hostA = cluster.StartApiHost();
        var hostB = cluster.StartApiHost();
        using var http = hostB.CreateClient(TimeSpan.FromSeconds(30));
        using var httpA = hostA.CreateClient(TimeSpan.FromSeconds(30));
        await ProcessCluster.WaitForReadyAsync(http, silos: 2);
        await ProcessCluster.WaitForReadyAsync(httpA, silos: 2);
        const string type = "synthetic";
        await using var onA = await SseStream.OpenAsync(hostA, $"/api/events?type={type}");
        await using var onB = await SseStream.OpenAsync(hostB, $"/api/events?type={type}");

        var ids = new List<string>();
        for (var i = 0; i < Jobs; i++)
        {
            ids.Add(await http.SubmitJobAsync("""{"type": "synthetic", "parameters": {"items": 120, "itemMs": 50}, "checkpoint": {"everyItems": 10}}"""));
        }

        await onB.WaitForAsync("every job to be seen running", events => ids.All(id => events.Any(e => e.JobId == id && e.Event == "progress")));
        var busiest = await fixture.Database.ScalarAsync<string>(
            "SELECT owner_silo FROM job_index WHERE job_id = ANY(@ids) AND status = 'Running' GROUP BY owner_silo ORDER BY count(*) DESC LIMIT 1",
            ("ids", ids.ToArray()));
        var victim = silos.Single(s => busiest.StartsWith(s.Endpoint + "@", StringComparison.Ordinal));
        await victim.Process.KillAsync();
        await hostA.Process.KillAsync();
        output.WriteLine($"killed silo {victim.Endpoint} and API host A; A's client had {onA.Journal.Count} entries");

        // A's client reconnects to B from the last id it had.
        await onA.Ended.WaitAsync(TimeSpan.FromSeconds(30));
        var lastOnA = onA.Journal.Count == 0 ? 0 : onA.Journal[^1].EventId;
        await using var resumed = await SseStream.OpenAsync(hostB, $"/api/events?type={type}", lastEventId: lastOnA.ToString(CultureInfo.InvariantCulture));

        await Wait.UntilAsync($"all {Jobs} jobs to complete", async () =>
            await fixture.Database.ScalarAsync<long>("SELECT count(*) FROM job_index WHERE job_id = ANY(@ids) AND status = 'Completed'", ("ids", ids.ToArray())) == Jobs,
            TimeSpan.FromMinutes(3));
        var expected = await fixture.Database.QueryAsync(
            "SELECT event_id FROM job_journal WHERE job_id = ANY(@ids) ORDER BY event_id", r => r.GetInt64(0), ("ids", ids.ToArray()));
        Assert.Contains(expected, id => id > lastOnA);

        await onB.WaitForAsync("B's client to have the whole journal", events => Ours(onB).Count >= expected.Count, TimeSpan.FromSeconds(60));
        await resumed.WaitForAsync("the resumed client to have the rest", events => Ours(onA).Count + Ours(resumed).Count >= expected.Count, TimeSpan.FromSeconds(60));
        output.WriteLine($"{expected.Count} journal entries; B's client {Ours(onB).Count}; A's {Ours(onA).Count} + {Ours(resumed).Count} after reconnecting");
        Assert.Equal(expected, Ours(onB));
        Assert.Equal(expected, [.. Ours(onA), .. Ours(resumed)]);
        Assert.Contains(onB.Journal, e => ids.Contains(e.JobId) && e.Json.GetProperty("entryType").GetString() == "recovery");
        // Recovery entries carry data: live, filled from the journal or replayed, every entry is as stored.
        await JournalEventCheck.AssertAsStoredAsync(fixture.Database, [.. onB.Journal.Where(e => ids.Contains(e.JobId))]);
        await JournalEventCheck.AssertAsStoredAsync(fixture.Database, [.. resumed.Journal.Where(e => ids.Contains(e.JobId))]);

        List<long> Ours(SseStream stream) => [.. stream.Journal.Where(e => ids.Contains(e.JobId)).Select(e => e.EventId)];
    }
}
