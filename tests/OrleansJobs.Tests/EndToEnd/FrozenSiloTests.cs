using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansJobs.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansJobs.Tests.EndToEnd;

/// <summary>
/// A silo frozen with SIGSTOP (what a long pause, a stalled machine or a partition looks like: no
/// refusal, only silence) under running jobs, then woken with SIGCONT after 12 s (three times the time the probes take to declare it dead). Its jobs move to
/// the survivor once the probes declare it dead; woken, it learns that, executes not one more item,
/// writes nothing and leaves. Reads answer within a second throughout.
/// </summary>
[Collection(TimingCollection.Name)]
public sealed class FrozenSiloTests(MigratedDatabaseFixture fixture, ITestOutputHelper output) : IClassFixture<MigratedDatabaseFixture>
{
    private const int Items = 800;
    private const int CheckpointEvery = 10;
    private static readonly TimeSpan Frozen = TimeSpan.FromSeconds(12);

    [Fact]
    public async Task FrozenSilo_ItsJobsMoveOn_TheWokenSiloExecutesNothingAndLeaves_AndReadsNeverWait()
    {
        await using var cluster = new ProcessCluster(fixture.Database);
        var silos = new[] { cluster.StartSilo(), cluster.StartSilo() };
        var api = cluster.StartApiHost();
        using var http = api.CreateClient(TimeSpan.FromSeconds(30));
        await ProcessCluster.WaitForReadyAsync(http, silos.Length);
        var body = $$$"""{"type": "synthetic", "parameters": {"items": {{{Items}}}, "itemMs": 20, "record": true}, "checkpoint": {"everyItems": {{{CheckpointEvery}}}}}""";
        var jobs = new List<string>();
        for (var i = 0; i < 8; i++)
        {
            jobs.Add(await http.SubmitJobAsync(body));
        }

        var owners = await OwnersOnceRunningAsync(jobs);
        var victim = silos.MaxBy(s => owners.Values.Count(o => o.Contains($":{s.SiloPort}@", StringComparison.Ordinal)))!;
        var victimAddress = owners.Values.First(o => o.Contains($":{victim.SiloPort}@", StringComparison.Ordinal));
        var moved = owners.Where(o => o.Value == victimAddress).Select(o => o.Key).ToList();

        await using var reads = new JobReadProbe(http, jobs, "/api/jobs?limit=50", "/api/jobs?interrupted=true", "/api/recovery/status", "/health/ready");
        var durable = new ProgressWatch(fixture.Database, jobs);
        var clock = Stopwatch.StartNew();
        victim.Process.Freeze();

        await Wait.UntilAsync($"the {moved.Count} jobs of the frozen silo to make progress on the survivor", async () =>
            await fixture.Database.ScalarAsync<int>(
                "SELECT count(*)::int FROM job_index WHERE job_id = ANY(@ids) AND status = 'Running' AND owner_silo <> @victim AND processed > 0",
                ("ids", moved.ToArray()), ("victim", victimAddress)) == moved.Count,
            Frozen, poll: TimeSpan.FromMilliseconds(100));
        var movedAfter = clock.Elapsed;
        output.WriteLine($"{moved.Count} jobs of the frozen silo progressed on the survivor {movedAfter.TotalSeconds:0.0} s after SIGSTOP");

        while (clock.Elapsed < Frozen)
        {
            await durable.SampleAsync();
            await Task.Delay(TimeSpan.FromMilliseconds(200));
        }

        var wokeAt = await fixture.Database.ScalarAsync<DateTime>("SELECT clock_timestamp()");
        victim.Process.Thaw();
        // Woken, it finds itself declared dead: it stops its runs, writes nothing, and Orleans takes it out of the process.
        await victim.Process.WaitForExitAsync(TimeSpan.FromSeconds(30));
        var afterWake = await fixture.Database.ScalarAsync<long>(
            "SELECT count(*) FROM synthetic_item_runs WHERE silo = @silo AND at > @woke", ("silo", victimAddress), ("woke", wokeAt));
        output.WriteLine($"items executed by the woken silo: {afterWake}; it exited with {victim.Process.ExitCode}");
        Assert.Equal(0, afterWake);
        // It left because it learned it was declared dead (its own check, or Orleans' reading of the table).
        Assert.NotEqual(0, victim.Process.ExitCode);

        await Wait.UntilAsync("every job to complete", async () =>
        {
            await durable.SampleAsync();
            return await fixture.Database.ScalarAsync<int>(
                "SELECT count(*)::int FROM job_index WHERE job_id = ANY(@ids) AND status = 'Completed'", ("ids", jobs.ToArray())) == jobs.Count;
        }, TimeSpan.FromSeconds(90), poll: TimeSpan.FromMilliseconds(250));

        var samples = await reads.StopAsync();
        var slowest = samples.MaxBy(s => s.Took)!;
        output.WriteLine($"{samples.Count} reads during the freeze, slowest {slowest.Took.TotalMilliseconds:0} ms ({slowest.JobId}); " +
            $"{samples.Count(s => s.SiloUnreachable)} answered from stored state");
        Assert.All(samples, s => Assert.Equal(200, s.Status));
        Assert.True(slowest.Took < TimeSpan.FromSeconds(1), $"read of {slowest.JobId} took {slowest.Took.TotalMilliseconds:0} ms");
        Assert.Contains(samples, s => s.SiloUnreachable && moved.Contains(s.JobId));
        Assert.Empty(durable.Regressions);

        foreach (var id in jobs)
        {
            // Every effect once; redone work bounded by a checkpoint interval, and only on the moved jobs.
            Assert.Equal(Items, await fixture.Database.ScalarAsync<int>("SELECT count(*)::int FROM synthetic_item_effects WHERE job_id = @id", ("id", id)));
            var redone = await fixture.Database.ScalarAsync<int>(
                "SELECT count(*)::int FROM synthetic_item_executions WHERE job_id = @id AND executions > 1", ("id", id));
            Assert.InRange(redone, 0, moved.Contains(id) ? CheckpointEvery : 0);
            var journal = (await http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{id}/journal", UriKind.Relative))).EnumerateArray().ToList();
            // Recovered from the frozen silo once if it ran there, never otherwise. (An activation whose directory entry
            // was on the frozen silo may also be dropped and hand its run over, which redoes nothing.)
            Assert.Equal(moved.Contains(id) ? 1 : 0, journal.Count(e => e.GetProperty("type").GetString() == "recovery"
                && e.GetProperty("reason").GetString()!.Contains(victimAddress, StringComparison.Ordinal)
                && !e.GetProperty("reason").GetString()!.Contains("handed the run over", StringComparison.Ordinal)));
        }
    }

    private async Task<Dictionary<string, string>> OwnersOnceRunningAsync(List<string> jobs)
    {
        Dictionary<string, string> owners = [];
        await Wait.UntilAsync("every job to run and checkpoint", async () =>
        {
            var rows = await fixture.Database.QueryAsync(
                "SELECT job_id, owner_silo FROM job_index WHERE job_id = ANY(@ids) AND status = 'Running' AND processed >= @min",
                r => (Id: r.GetString(0), Silo: r.GetString(1)), ("ids", jobs.ToArray()), ("min", 2 * CheckpointEvery));
            owners = rows.ToDictionary(r => r.Id, r => r.Silo);
            return owners.Count == jobs.Count;
        }, TimeSpan.FromSeconds(60));
        return owners;
    }

    /// <summary>The durable progress (job index) of the jobs, sampled: it must never go backwards.</summary>
    private sealed class ProgressWatch(TestDatabase database, List<string> jobs)
    {
        private readonly Dictionary<string, long> _last = [];

        public List<string> Regressions { get; } = [];

        public async Task SampleAsync()
        {
            var rows = await database.QueryAsync(
                "SELECT job_id, processed FROM job_index WHERE job_id = ANY(@ids)", r => (Id: r.GetString(0), Processed: r.GetInt64(1)), ("ids", jobs.ToArray()));
            foreach (var (id, processed) in rows)
            {
                if (_last.TryGetValue(id, out var before) && processed < before)
                {
                    Regressions.Add($"{id}: {before} -> {processed}");
                }

                _last[id] = processed;
            }
        }
    }
}
