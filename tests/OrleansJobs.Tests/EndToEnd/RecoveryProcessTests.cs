using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansJobs.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansJobs.Tests.EndToEnd;

/// <summary>
/// Silo processes killed (SIGKILL) or stopped (SIGTERM) under running jobs, with the API host in
/// front: the jobs continue on the survivor from their checkpoints, every item's effect exactly
/// once, and the journal says what happened. Run apart from the parallel tests: they measure.
/// </summary>
[Collection(TimingCollection.Name)]
public sealed class RecoveryProcessTests(MigratedDatabaseFixture fixture, ITestOutputHelper output) : IClassFixture<MigratedDatabaseFixture>
{
    private const int Items = 150;
    private const int CheckpointEvery = 10;

    [Fact]
    public async Task KilledSilo_ItsJobsResumeOnTheSurvivor_FromTheirCheckpoints()
    {
        await using var cluster = new ProcessCluster(fixture.Database);
        // No periodic sweep within the test: the jobs must come back through the sweep the death triggers.
        var noPeriodicSweep = new Dictionary<string, string> { ["Watchdog__RecoveryInterval"] = "00:10:00" };
        var silos = new[] { cluster.StartSilo(extra: noPeriodicSweep), cluster.StartSilo(extra: noPeriodicSweep) };
        using var http = await StartApiAsync(cluster, silos.Length);
        var jobs = await SubmitAsync(http, 12);
        var owners = await WaitAllRunningAsync(http, jobs);
        var victim = silos.MaxBy(s => owners.Values.Count(o => o.Contains($":{s.SiloPort}@", StringComparison.Ordinal)))!;
        var victimAddress = owners.Values.First(o => o.Contains($":{victim.SiloPort}@", StringComparison.Ordinal));
        var moved = owners.Where(o => o.Value == victimAddress).Select(o => o.Key).ToList();

        // Reads answer within a second while the jobs move and after.
        await using var reads = new JobReadProbe(http, jobs, "/api/jobs?limit=50", "/api/recovery/status");
        var clock = Stopwatch.StartNew();
        await victim.Process.KillAsync();
        // Watched in the index, not through the API: reading a job would itself re-activate it. The death
        // is proven by the refused endpoint, so the sweep it triggers resumes the jobs within moments.
        var resumed = new Dictionary<string, TimeSpan>();
        await Wait.UntilAsync($"the {moved.Count} jobs of the killed silo to run on the survivor", async () =>
        {
            foreach (var id in await fixture.Database.QueryAsync(
                "SELECT job_id FROM job_index WHERE job_id = ANY(@ids) AND status = 'Running' AND owner_silo <> @victim",
                r => r.GetString(0), ("ids", moved.ToArray()), ("victim", victimAddress)))
            {
                resumed.TryAdd(id, clock.Elapsed);
            }

            return resumed.Count == moved.Count;
        }, TimeSpan.FromSeconds(30), poll: TimeSpan.FromMilliseconds(50));
        var times = resumed.Values.Order().ToList();
        output.WriteLine($"{moved.Count} jobs of the killed silo running again on the survivor after SIGKILL: " +
            $"median {times[times.Count / 2].TotalSeconds:0.0} s, max {times[^1].TotalSeconds:0.0} s");
        Assert.True(times[^1] < TimeSpan.FromSeconds(5), $"the slowest job resumed {times[^1].TotalSeconds:0.0} s after the kill");
        Assert.Contains("refuses connections", string.Join('\n', silos.Where(s => s != victim).Select(s => s.Process.Output())), StringComparison.Ordinal);

        await WaitAllAsync(http, jobs, j => j.GetProperty("status").GetString() == "Completed", TimeSpan.FromSeconds(90));
        var samples = await reads.StopAsync();
        Assert.All(samples, r => Assert.True(r.Took < TimeSpan.FromSeconds(1) && r.Status == 200, $"{r.JobId}: HTTP {r.Status} after {r.Took.TotalMilliseconds:0} ms"));

        foreach (var id in jobs)
        {
            Assert.Equal(Items, await EffectsAsync(id));
            var journal = await JournalAsync(http, id);
            var recoveries = journal.Where(e => e.GetProperty("type").GetString() == "recovery").ToList();
            if (moved.Contains(id))
            {
                var recovery = Assert.Single(recoveries);
                Assert.Equal(victimAddress, recovery.GetProperty("data").GetProperty("previousSilo").GetString());
                Assert.Contains(victimAddress, recovery.GetProperty("reason").GetString(), StringComparison.Ordinal);
                // Redone work is bounded by one checkpoint interval; effects were never duplicated (above).
                Assert.InRange(await RedoneAsync(id), 0, CheckpointEvery);
            }
            else
            {
                // Not on the killed silo: never recovered from a crash. (An activation whose directory entry was on
                // the dead silo may be dropped and hand its run over, with nothing redone.)
                Assert.DoesNotContain(recoveries, r => r.GetProperty("reason").GetString()!.Contains(victimAddress, StringComparison.Ordinal)
                    && !r.GetProperty("reason").GetString()!.Contains("handed the run over", StringComparison.Ordinal));
                Assert.Equal(0, await RedoneAsync(id));
            }
        }

        // Nothing is left for a sweep to do, and the status reports the sweeps.
        using var trigger = await http.PostAsync(new Uri("/api/recovery/trigger", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.OK, trigger.StatusCode);
        var run = await trigger.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((0, 0, 0), (run.GetProperty("candidates").GetInt32(), run.GetProperty("recovered").GetInt32(), run.GetProperty("failed").GetInt32()));
        var status = await http.GetFromJsonAsync<JsonElement>(new Uri("/api/recovery/status", UriKind.Relative));
        Assert.Equal(0, status.GetProperty("running").GetInt64());
        Assert.Equal(0, status.GetProperty("stalled").GetInt64());
        Assert.StartsWith("requested through the API", status.GetProperty("lastRecoveryRun").GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await fixture.Database.ScalarAsync<int>(
            "SELECT count(*) FROM grain_state WHERE watched_by IS NOT NULL AND grain_id LIKE 'job/%' AND grain_id = ANY(@ids)",
            ("ids", jobs.Select(j => $"job/{j}").ToArray())));
    }

    [Fact]
    public async Task StoppedSilo_HandsItsJobsOverAtACheckpoint_WithoutRedoingAnything()
    {
        await using var cluster = new ProcessCluster(fixture.Database);
        var silos = new[] { cluster.StartSilo(), cluster.StartSilo() };
        using var http = await StartApiAsync(cluster, silos.Length);
        var jobs = await SubmitAsync(http, 8);
        var owners = await WaitAllRunningAsync(http, jobs);
        var leaving = silos.MaxBy(s => owners.Values.Count(o => o.Contains($":{s.SiloPort}@", StringComparison.Ordinal)))!;
        var leavingAddress = owners.Values.First(o => o.Contains($":{leaving.SiloPort}@", StringComparison.Ordinal));
        var moved = owners.Where(o => o.Value == leavingAddress).Select(o => o.Key).ToList();

        var clock = Stopwatch.StartNew();
        await leaving.Process.TerminateAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, leaving.Process.ExitCode);
        output.WriteLine($"the silo exited {clock.Elapsed.TotalSeconds:0.0} s after SIGTERM");
        await WaitAllAsync(http, moved, j => j.GetProperty("status").GetString() == "Completed"
            || (j.GetProperty("silo").GetString() is { } s && s != leavingAddress && j.GetProperty("status").GetString() == "Running"),
            TimeSpan.FromSeconds(60));
        output.WriteLine($"{moved.Count} jobs handed over and running again {clock.Elapsed.TotalSeconds:0.0} s after SIGTERM");
        await WaitAllAsync(http, jobs, j => j.GetProperty("status").GetString() == "Completed", TimeSpan.FromSeconds(90));

        foreach (var id in moved)
        {
            Assert.Equal(Items, await EffectsAsync(id));
            Assert.Equal(0, await RedoneAsync(id));
            var journal = await JournalAsync(http, id);
            var handoff = Assert.Single(journal, e => e.GetProperty("type").GetString() == "handoff");
            Assert.Contains("silo shutting down", handoff.GetProperty("reason").GetString(), StringComparison.Ordinal);
            var recovery = Assert.Single(journal, e => e.GetProperty("type").GetString() == "recovery");
            Assert.Contains("saved when it handed the run over", recovery.GetProperty("reason").GetString(), StringComparison.Ordinal);
            var job = await http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{id}", UriKind.Relative));
            Assert.Equal(0, job.GetProperty("recoveries").GetInt32()); // a hand-over is not a failure
        }
    }

    [Fact]
    public async Task StoppedOnlySilo_ItsJobsCheckpointAndWait_LoggedPlainly_ThenContinueOnTheNextStart()
    {
        await using var cluster = new ProcessCluster(fixture.Database);
        var only = cluster.StartSilo(extra: new Dictionary<string, string> { ["Logging__LogLevel__OrleansJobs.Jobs"] = "Information" });
        using var http = await StartApiAsync(cluster, 1);
        var jobs = await SubmitAsync(http, 4);
        await WaitAllRunningAsync(http, jobs);
        await only.Process.TerminateAsync(TimeSpan.FromSeconds(60));

        // No survivor to hand over to: the jobs stop at a checkpoint and wait, which is not an error.
        Assert.Equal(0, only.Process.ExitCode);
        var log = only.Process.Output();
        var lines = log.Split('\n');
        var errors = lines.Select((line, i) => (line, i)).Where(l => l.line.StartsWith("fail:", StringComparison.Ordinal) || l.line.Contains("Exception", StringComparison.Ordinal))
            .Select(l => string.Join('\n', lines.Skip(Math.Max(0, l.i - 1)).Take(6))).ToList();
        Assert.True(errors.Count == 0, "the silo logged errors on its way down:\n" + string.Join("\n---\n", errors.Take(3)));
        Assert.Equal(jobs.Count, log.Split('\n').Count(l => l.Contains("stopped at its checkpoint (", StringComparison.Ordinal) && l.Contains("silo shutting down", StringComparison.Ordinal)));

        var next = cluster.StartSilo();
        await cluster.WaitForActiveAsync(next);
        await WaitAllAsync(http, jobs, j => j.GetProperty("status").GetString() == "Completed", TimeSpan.FromSeconds(90));
        foreach (var id in jobs)
        {
            Assert.Equal(Items, await EffectsAsync(id));
            Assert.Equal(0, await RedoneAsync(id));
            var journal = await JournalAsync(http, id);
            Assert.Single(journal, e => e.GetProperty("type").GetString() == "handoff");
        }
    }

    [Fact]
    public async Task KilledSilo_UnderAJobAWorkerHolds_KeepsTheLease_AndTheWorkerFinishes()
    {
        await using var cluster = new ProcessCluster(fixture.Database);
        var external = new Dictionary<string, string> { ["ExternalJobTypes__ext-recovery__LeaseDuration"] = "00:00:30" };
        var silos = new[] { cluster.StartSilo(extra: external), cluster.StartSilo(extra: external) };
        using var http = await StartApiAsync(cluster, silos.Length);
        var ids = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            ids.Add(await http.SubmitJobAsync("""{"type": "ext-recovery", "parameters": {"frames": 10}}"""));
        }

        var leases = new Dictionary<string, string>();
        foreach (var _ in ids)
        {
            using var claim = await http.PostJsonAsync("/api/workers/claim", """{"workerId": "w1", "types": ["ext-recovery"]}""");
            Assert.Equal(HttpStatusCode.OK, claim.StatusCode);
            var body = await claim.Content.ReadFromJsonAsync<JsonElement>();
            leases[body.GetProperty("jobId").GetString()!] = body.GetProperty("leaseToken").GetString()!;
        }

        // Each job's activation lives on one of the silos; kill the one holding most of them.
        var owners = await WaitAllRunningAsync(http, ids, minimumProcessed: 0);
        var victim = silos.MaxBy(s => owners.Values.Count(o => o.Contains($":{s.SiloPort}@", StringComparison.Ordinal)))!;
        var moved = owners.Where(o => o.Value.Contains($":{victim.SiloPort}@", StringComparison.Ordinal)).Select(o => o.Key).ToList();
        Assert.NotEmpty(moved);
        await victim.Process.KillAsync();

        // The worker goes on reporting under its tokens; once the silo is declared dead each job answers
        // from the survivor, still Running under the same lease.
        var clock = Stopwatch.StartNew();
        foreach (var id in moved)
        {
            await Wait.UntilAsync($"job {id} to take the worker's report on the survivor", async () =>
            {
                using var report = await http.PostJsonAsync($"/api/jobs/{id}/progress",
                    $$"""{"leaseToken": "{{leases[id]}}", "checkpoint": {"cursor": "frame-5", "processed": 5} }""");
                Assert.NotEqual(HttpStatusCode.Conflict, report.StatusCode); // the lease must never be lost to a silo crash
                return report.StatusCode == HttpStatusCode.OK;
            }, TimeSpan.FromSeconds(25), poll: TimeSpan.FromMilliseconds(500));
        }

        output.WriteLine($"{moved.Count} leased jobs of the killed silo took their worker's reports again {clock.Elapsed.TotalSeconds:0.0} s after SIGKILL");
        foreach (var (id, token) in leases)
        {
            using var complete = await http.PostJsonAsync($"/api/jobs/{id}/complete", $$"""{"leaseToken": "{{token}}"}""");
            Assert.Equal(HttpStatusCode.OK, complete.StatusCode);
        }

        foreach (var id in ids)
        {
            var journal = await JournalAsync(http, id);
            Assert.DoesNotContain(journal, e => e.GetProperty("type").GetString() is "lease_expired" or "recovery");
            var job = await http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{id}", UriKind.Relative));
            Assert.Equal((1, 0), (job.GetProperty("attempt").GetInt32(), job.GetProperty("recoveries").GetInt32()));
        }
    }

    private static async Task<HttpClient> StartApiAsync(ProcessCluster cluster, int silos)
    {
        var api = cluster.StartApiHost();
        var http = api.CreateClient(TimeSpan.FromSeconds(30));
        await ProcessCluster.WaitForReadyAsync(http, silos);
        return http;
    }

    private static async Task<List<string>> SubmitAsync(HttpClient http, int count)
    {
        var body = $$$"""{"type": "synthetic", "parameters": {"items": {{{Items}}}, "itemMs": 30}, "checkpoint": {"everyItems": {{{CheckpointEvery}}}}}""";
        var ids = new List<string>();
        for (var i = 0; i < count; i++)
        {
            ids.Add(await http.SubmitJobAsync(body));
        }

        return ids;
    }

    /// <summary>Waits until every job runs past its first checkpoints; returns each job's silo.</summary>
    private static async Task<Dictionary<string, string>> WaitAllRunningAsync(HttpClient http, List<string> ids, int minimumProcessed = 2 * CheckpointEvery)
    {
        await WaitAllAsync(http, ids, j => j.GetProperty("status").GetString() == "Running"
            && j.GetProperty("progress").GetProperty("processed").GetInt64() >= minimumProcessed, TimeSpan.FromSeconds(60));
        var owners = new Dictionary<string, string>();
        foreach (var id in ids)
        {
            var job = await http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{id}", UriKind.Relative));
            owners[id] = job.GetProperty("silo").GetString()!;
        }

        return owners;
    }

    private static Task WaitAllAsync(HttpClient http, List<string> ids, Func<JsonElement, bool> condition, TimeSpan timeout)
    {
        var last = new Dictionary<string, string>();
        return Wait.UntilAsync(
            $"{ids.Count} jobs to reach the awaited state",
            async () =>
            {
                var all = true;
                foreach (var id in ids)
                {
                    using var response = await http.GetAsync(new Uri($"/api/jobs/{id}", UriKind.Relative));
                    if (!response.IsSuccessStatusCode)
                    {
                        last[id] = $"HTTP {(int)response.StatusCode}";
                        all = false;
                        continue;
                    }

                    var job = await response.Content.ReadFromJsonAsync<JsonElement>();
                    last[id] = $"{job.GetProperty("status")} {job.GetProperty("progress").GetProperty("processed")} on {job.GetProperty("silo")}";
                    all &= condition(job);
                }

                return all;
            },
            timeout,
            () => Task.FromResult(string.Join("; ", last.Select(kv => $"{kv.Key}: {kv.Value}"))),
            TimeSpan.FromMilliseconds(250));
    }

    private static async Task<List<JsonElement>> JournalAsync(HttpClient http, string id)
    {
        // The journal is a projection: wait until it shows the job's end.
        List<JsonElement> entries = [];
        await Wait.UntilAsync($"the journal of {id} to show its end", async () =>
        {
            entries = [.. (await http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{id}/journal", UriKind.Relative))).EnumerateArray()];
            return entries.Any(e => e.GetProperty("to").ValueKind == JsonValueKind.String && e.GetProperty("to").GetString() == "Completed");
        });
        return entries;
    }

    private Task<int> EffectsAsync(string id) =>
        fixture.Database.ScalarAsync<int>("SELECT count(*) FROM synthetic_item_effects WHERE job_id = @id", ("id", id));

    private Task<int> RedoneAsync(string id) =>
        fixture.Database.ScalarAsync<int>("SELECT count(*) FROM synthetic_item_executions WHERE job_id = @id AND executions > 1", ("id", id));
}
