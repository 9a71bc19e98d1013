using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansJobs.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansJobs.Tests.EndToEnd;

/// <summary>
/// The product's promise end to end: three silo processes and the API host, 200 jobs of 500
/// items, and while they run the busiest silo is killed twice (restarted in between) and another
/// is stopped. Every job must complete with every item's effect exactly once, redone work within
/// one checkpoint interval per recovery, every recovery journaled, and nothing left held.
/// </summary>
[Collection(DrillCollection.Name)]
public sealed class ChaosTests(MigratedDatabaseFixture fixture, ITestOutputHelper output) : IClassFixture<MigratedDatabaseFixture>
{
    private const int Jobs = 200;
    private const int Items = 500;
    private const int CheckpointEvery = 50;
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(6);

    private TestDatabase Database => fixture.Database;

    [Fact]
    public async Task KillsAndAStopUnderLoad_LoseNothing_AndDuplicateNoEffect()
    {
        var clock = Stopwatch.StartNew();
        await using var cluster = new ProcessCluster(Database);
        var silos = new List<SiloProcess> { cluster.StartSilo(), cluster.StartSilo(), cluster.StartSilo() };
        var api = cluster.StartApiHost();
        using var http = api.CreateClient(TimeSpan.FromSeconds(30));
        await ProcessCluster.WaitForReadyAsync(http, silos: 3);
        var ids = await SubmitAsync(http);
        output.WriteLine($"{Jobs} jobs submitted at {clock.Elapsed.TotalSeconds:0.0} s");

        // The state validator, asked while every job runs and checkpoints on a healthy cluster, finds nothing.
        await WaitForEffectsAsync(Jobs * Items / 10);
        var healthy = await ValidateAsync(http);
        output.WriteLine($"state validation of the busy cluster: {healthy}");
        Assert.Equal(0, healthy.Found);

        // Two SIGKILLs of the busiest silo, restarted in between, then a SIGTERM of another.
        SiloProcess? lastRestarted = null;
        for (var kill = 1; kill <= 2; kill++)
        {
            await WaitForEffectsAsync(kill * Jobs * Items / 5);
            var (victim, running) = await BusiestAsync(silos, ids);
            await victim.Process.KillAsync();
            output.WriteLine($"SIGKILL of {victim.Endpoint} ({running} running jobs) at {clock.Elapsed.TotalSeconds:0.0} s");
            lastRestarted = await RestartAsync(cluster, victim);
            silos[silos.IndexOf(victim)] = lastRestarted;
        }

        await WaitForEffectsAsync(3 * Jobs * Items / 5);
        // Another silo: the busiest of those not just restarted (a fresh silo runs nothing yet).
        var (leaving, handing) = await BusiestAsync([.. silos.Where(s => s != lastRestarted)], ids);
        await leaving.Process.TerminateAsync(TimeSpan.FromSeconds(60));
        output.WriteLine($"SIGTERM of {leaving.Endpoint} ({handing} running jobs): exit {leaving.Process.ExitCode} at {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.Equal(0, leaving.Process.ExitCode);

        await Wait.UntilAsync($"all {Jobs} jobs to complete", async () =>
            await Database.ScalarAsync<int>("SELECT count(*) FROM job_index WHERE job_id = ANY(@ids) AND status = 'Completed'", ("ids", ids)) == Jobs,
            Limit, async () => string.Join(", ", await Database.QueryAsync(
                "SELECT status || ': ' || count(*) FROM job_index WHERE job_id = ANY(@ids) GROUP BY status", r => r.GetString(0), ("ids", ids)))
                + "; not completed: " + string.Join("; ", await Database.QueryAsync(
                    """
                    SELECT j.job_id || ' index ' || j.status || ' v' || j.state_version || ' on ' || coalesce(j.owner_silo, '-')
                        || ', state ' || coalesce(convert_from(g.payload, 'UTF8')::jsonb ->> 'Status', '?')
                        || ' v' || coalesce(convert_from(g.payload, 'UTF8')::jsonb ->> 'Version', '?')
                        || ' watched by ' || coalesce(g.watched_by, '-') || ' (membership status ' || coalesce((SELECT m.status::text
                            FROM orleansmembershiptable m WHERE m.address || ':' || m.port || '@' || m.generation = g.watched_by), '-')
                        || '), modified ' || coalesce(g.modified_on::text, '-')
                    FROM job_index j LEFT JOIN grain_state g ON g.grain_id = 'job/' || j.job_id
                    WHERE j.job_id = ANY(@ids) AND j.status <> 'Completed' LIMIT 5
                    """, r => r.GetString(0), ("ids", ids))),
            TimeSpan.FromMilliseconds(500));
        output.WriteLine($"all completed at {clock.Elapsed.TotalSeconds:0.0} s");

        // Every item's effect exactly once (the key forbids more; none may be missing).
        Assert.Equal(Jobs * Items, await Database.ScalarAsync<int>(
            "SELECT count(*) FROM synthetic_item_effects WHERE job_id = ANY(@ids)", ("ids", ids)));
        Assert.Equal(0, await Database.ScalarAsync<int>(
            "SELECT count(*) FROM job_index j WHERE job_id = ANY(@ids) AND " +
            "(SELECT count(*) FROM synthetic_item_effects e WHERE e.job_id = j.job_id) <> @items", ("ids", ids), ("items", Items)));

        // Every recovery journaled, and redone work within one checkpoint interval per recovery.
        var perJob = await Database.QueryAsync(
            """
            SELECT j.job_id, j.recoveries,
                (SELECT count(*) FROM job_journal r WHERE r.job_id = j.job_id AND r.entry_type = 'recovery'
                    AND coalesce((r.data::jsonb ->> 'handedOver')::boolean, false) = false),
                (SELECT coalesce(sum(x.executions - 1), 0) FROM synthetic_item_executions x WHERE x.job_id = j.job_id)
            FROM job_index j WHERE j.job_id = ANY(@ids)
            """,
            r => (Id: r.GetString(0), Recoveries: r.GetInt32(1), Journaled: r.GetInt64(2), Redone: r.GetInt64(3)),
            ("ids", ids));
        Assert.All(perJob, j => Assert.Equal(j.Recoveries, j.Journaled));
        Assert.All(perJob, j => Assert.True(j.Redone <= (long)j.Recoveries * CheckpointEvery,
            $"job {j.Id}: {j.Redone} redone item executions after {j.Recoveries} recoveries"));
        var recovered = perJob.Count(j => j.Recoveries > 0);
        output.WriteLine($"{recovered} jobs recovered after a kill, {perJob.Sum(j => j.Recoveries)} recoveries, " +
            $"{perJob.Sum(j => j.Redone)} redone item executions");
        Assert.True(recovered > 0, "no job was running on a killed silo");
        Assert.True(await Database.ScalarAsync<int>(
            "SELECT count(*) FROM job_journal WHERE job_id = ANY(@ids) AND entry_type = 'handoff'", ("ids", ids)) > 0, "no job was handed over");

        // After the kills, what the recovery did is consistent: the validator has nothing to repair.
        var after = await Wait.ForAsync("a state validation that finds nothing", () => ValidateAsync(http), v => v.Found == 0, TimeSpan.FromSeconds(60),
            poll: TimeSpan.FromSeconds(2));
        output.WriteLine($"state validation after the kills: {after}");

        // Nothing left held: no job watched, no watchdog reminder, and all 50 run slots free.
        Assert.Equal(0, await Database.ScalarAsync<int>(
            "SELECT count(*) FROM grain_state WHERE watched_by IS NOT NULL AND grain_id = ANY(@ids)", ("ids", ids.Select(i => $"job/{i}").ToArray())));
        // A reminder registered by a killed silo's activation is removed by its own next tick (period 1 min).
        await Wait.UntilAsync("the watchdog reminders of the finished jobs to be gone", async () => await Database.ScalarAsync<int>(
            "SELECT count(*) FROM orleansreminderstable WHERE grainid = ANY(@ids)", ("ids", ids.Select(i => $"job/{i}").ToArray())) == 0,
            TimeSpan.FromSeconds(100), poll: TimeSpan.FromSeconds(1));
        var probes = new List<string>();
        for (var i = 0; i < 50; i++)
        {
            probes.Add(await http.SubmitJobAsync("""{"type": "synthetic", "parameters": {"items": 1, "itemMs": 60000}}"""));
        }

        await Wait.UntilAsync("50 new jobs to hold all 50 slots at once", async () => await Database.ScalarAsync<int>(
            "SELECT count(*) FROM job_index WHERE job_id = ANY(@ids) AND status = 'Running'", ("ids", probes.ToArray())) == 50,
            describe: async () => string.Join("; ", await Database.QueryAsync(
                "SELECT status || ' ' || count(*) || coalesce(': ' || min(queued_reason), '') FROM job_index WHERE job_id = ANY(@ids) GROUP BY status",
                r => r.GetString(0), ("ids", probes.ToArray()))));
    }

    /// <summary>Runs the state validator through the API: what it found and repaired, in all, and by kind.</summary>
    private static async Task<(int Found, int Repaired, string Kinds)> ValidateAsync(HttpClient http)
    {
        using var response = await http.PostAsJsonAsync("/api/admin/validator/run", new { dryRun = false });
        response.EnsureSuccessStatusCode();
        var run = await response.Content.ReadFromJsonAsync<JsonElement>();
        var found = run.GetProperty("found").EnumerateObject().ToList();
        return (found.Sum(p => p.Value.GetInt32()), run.GetProperty("repaired").EnumerateObject().Sum(p => p.Value.GetInt32()),
            string.Join(", ", found.Where(p => p.Value.GetInt32() > 0).Select(p => $"{p.Name} {p.Value}")) + " " + run.GetProperty("sample"));
    }

    private static async Task<string[]> SubmitAsync(HttpClient http)
    {
        var body = $$$"""{"type": "synthetic", "parameters": {"items": {{{Items}}}, "itemMs": 2}, "checkpoint": {"everyItems": {{{CheckpointEvery}}}}}""";
        var ids = new string[Jobs];
        await Parallel.ForAsync(0, Jobs, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) => ids[i] = await http.SubmitJobAsync(body));
        return ids;
    }

    private Task WaitForEffectsAsync(int effects) =>
        Wait.UntilAsync($"{effects} item effects", async () =>
            await Database.ScalarAsync<int>("SELECT count(*) FROM synthetic_item_effects") >= effects, Limit, poll: TimeSpan.FromMilliseconds(250));

    /// <summary>The silo that the job index shows running the most jobs.</summary>
    private async Task<(SiloProcess Silo, int Running)> BusiestAsync(List<SiloProcess> silos, string[] ids)
    {
        var owners = await Database.QueryAsync(
            "SELECT owner_silo FROM job_index WHERE job_id = ANY(@ids) AND status = 'Running' AND owner_silo IS NOT NULL",
            r => r.GetString(0), ("ids", ids));
        var busiest = silos.MaxBy(s => owners.Count(o => o.Contains($":{s.SiloPort}@", StringComparison.Ordinal)))!;
        return (busiest, owners.Count(o => o.Contains($":{busiest.SiloPort}@", StringComparison.Ordinal)));
    }

    private static async Task<SiloProcess> RestartAsync(ProcessCluster cluster, SiloProcess dead)
    {
        var generation = (await cluster.MembershipAsync()).Where(r => r.Port == dead.SiloPort).Max(r => r.Generation);
        var restarted = cluster.StartSilo(dead.SiloPort, dead.GatewayPort);
        await cluster.WaitForActiveAsync(restarted, TimeSpan.FromSeconds(90), newerThanGeneration: generation);
        return restarted;
    }
}
