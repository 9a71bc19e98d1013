using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OrleansJobs.Harness;

namespace OrleansJobs.Benchmarks;

/// <summary>
/// Time from SIGKILL (or SIGSTOP) of a silo to each of its running jobs making progress again on a
/// survivor, over several events. Progress is read from the job index (written at each checkpoint),
/// never through the job: only the reads below call the jobs, and they go through the API host,
/// which must answer within a second whatever the cluster's state. A frozen silo is woken after
/// <c>--freeze-seconds</c>; the items it executes after waking are counted from the executions log.
/// </summary>
public static class RecoveryBenchmark
{
    // Long jobs of short items, checkpointed every 50 items (0.25 s): they outlive every kill.
    private const string LongJob = """{"type":"synthetic","parameters":{"items":1000000,"itemMs":5,"record":false},"checkpoint":{"everyItems":50}}""";

    // Freeze: every execution is logged with its silo (record), so a woken silo's items can be counted.
    private const string RecordedJob = """{"type":"synthetic","parameters":{"items":1000000,"itemMs":20,"record":true},"checkpoint":{"everyItems":10}}""";

    /// <summary>The target for the slowest job of a kill; slower kills print the survivors' recovery log lines.</summary>
    private static readonly TimeSpan SlowRecovery = TimeSpan.FromSeconds(10);

    public static async Task<int> RunAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        var freeze = options.Mode == "freeze";
        Log($"starting a fresh database, {options.Silos} silo processes and the API host");
        await using var system = await BenchSystem.StartAsync(options.Silos);
        using var http = system.Api.CreateClient(TimeSpan.FromSeconds(30));
        var jobs = new List<string>();
        for (var i = 0; i < options.Jobs; i++)
        {
            using var content = new StringContent(freeze ? RecordedJob : LongJob, Encoding.UTF8, "application/json");
            using var response = await http.PostAsync(new Uri("/api/jobs", UriKind.Relative), content, cancellationToken);
            if (response.StatusCode != HttpStatusCode.Created)
            {
                throw new InvalidOperationException($"submit failed: HTTP {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}");
            }

            jobs.Add((await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken)).GetProperty("id").GetString()!);
        }

        var silos = system.Silos.ToList();
        var table = new ResultTable(
            freeze ? "freeze" : "kill", "silo", "its running jobs", "declared dead after", "progress: median", "max",
            "zombie items", "slowest read", "other silos declared dead");
        var all = new LatencySamples();
        var allReads = new LatencySamples();
        var failures = 0;
        var zombieItems = 0L;
        var falseDeaths = 0;
        for (var kill = 1; kill <= options.Kills; kill++)
        {
            // Everything settled: every job running and checkpointing, the membership table clean.
            var owners = await WaitForOwnersAsync(system.Database, [.. jobs], options.PhaseLimit, cancellationToken);
            var victim = silos
                .Select(s => (Silo: s, Address: owners.Values.FirstOrDefault(o => o.Contains($":{s.SiloPort}@", StringComparison.Ordinal))))
                .Where(v => v.Address is not null)
                .MaxBy(v => owners.Values.Count(o => o == v.Address));
            var affected = owners.Where(o => o.Value == victim.Address).Select(o => o.Key).ToArray();
            Log($"{(freeze ? "freeze" : "kill")} {kill}: {(freeze ? "SIGSTOP" : "SIGKILL")} of {victim.Address} with {affected.Length} running jobs");
            var othersDeadBefore = await DeadRowsAsync(system.Database);

            using var reading = new CancellationTokenSource();
            var reads = ReadWhileAsync(http, affected, reading.Token);
            var killedAt = DateTimeOffset.UtcNow;
            if (freeze)
            {
                victim.Silo.Process.Freeze();
            }
            else
            {
                await victim.Silo.Process.KillAsync();
            }

            var (samples, evicted) = await MeasureAsync(system.Database, affected, victim.Address!, killedAt, options.PhaseLimit, cancellationToken);
            failures += affected.Length - samples.Count;
            var zombie = 0L;
            if (freeze)
            {
                // Frozen for the full time, then woken: it must learn it was declared dead and leave without executing an item.
                var wakeAt = killedAt + TimeSpan.FromSeconds(options.FreezeSeconds);
                if (wakeAt > DateTimeOffset.UtcNow)
                {
                    await Task.Delay(wakeAt - DateTimeOffset.UtcNow, cancellationToken);
                }

                var wokeAt = await system.Database.ScalarAsync<DateTime>("SELECT clock_timestamp()");
                victim.Silo.Process.Thaw();
                await victim.Silo.Process.WaitForExitAsync(TimeSpan.FromSeconds(60));
                zombie = await system.Database.ScalarAsync<long>(
                    "SELECT count(*) FROM synthetic_item_runs WHERE silo = @silo AND at > @woke", ("silo", victim.Address!), ("woke", wokeAt));
                zombieItems += zombie;
            }

            await reading.CancelAsync();
            var slowestRead = await reads;
            allReads.Add(slowestRead);
            var othersDead = await DeadRowsAsync(system.Database) - othersDeadBefore - 1;
            falseDeaths += Math.Max(0, othersDead);
            foreach (var sample in samples)
            {
                all.Add(sample);
            }

            var measured = new LatencySamples();
            foreach (var sample in samples)
            {
                measured.Add(sample);
            }

            table.Add(
                kill.ToString(CultureInfo.InvariantCulture), victim.Address!, $"{samples.Count} of {affected.Length}", Seconds(evicted),
                Seconds(measured.Percentile(50)), Seconds(measured.Max), freeze ? zombie.ToString(CultureInfo.InvariantCulture) : "",
                Seconds(slowestRead), Math.Max(0, othersDead).ToString(CultureInfo.InvariantCulture));

            if (measured.Max > SlowRecovery.TotalMilliseconds)
            {
                // Slower than the target: show what the survivors' recovery did.
                foreach (var survivor in silos.Where(s => s != victim.Silo))
                {
                    var lines = survivor.Process.Output().Split('\n');
                    var shown = 0;
                    for (var i = 0; i < lines.Length && shown < 30; i++)
                    {
                        if (lines[i].Contains("Recovery sweep", StringComparison.Ordinal) || lines[i].Contains("could not", StringComparison.Ordinal))
                        {
                            // The line after a warning holds its exception.
                            Log($"  silo :{survivor.SiloPort}: {lines[i].Trim()} | {(i + 1 < lines.Length ? lines[i + 1].Trim() : "")}");
                            shown++;
                        }
                    }
                }
            }

            // Restart it in place, as an orchestrator would, before the next kill.
            var restarted = system.Cluster.StartSilo(victim.Silo.SiloPort, victim.Silo.GatewayPort,
                new Dictionary<string, string> { ["Silo__ApplySchemaOnStart"] = "false" });
            var generation = int.Parse(victim.Address!.Split('@')[1], CultureInfo.InvariantCulture);
            await system.Cluster.WaitForActiveAsync(restarted, TimeSpan.FromSeconds(90), newerThanGeneration: generation);
            silos[silos.IndexOf(victim.Silo)] = restarted;
        }

        table.Add("all", "", $"{all.Count}", "", Seconds(all.Percentile(50)), Seconds(all.Max), freeze ? zombieItems.ToString(CultureInfo.InvariantCulture) : "",
            Seconds(allReads.Max), falseDeaths.ToString(CultureInfo.InvariantCulture));
        Console.WriteLine();
        Console.WriteLine(table);
        Console.WriteLine(
            $"Conditions: {Environment.ProcessorCount} cores; {options.Silos} silo processes, the API host and this process on one machine; " +
            (freeze
                ? $"{options.Jobs} jobs of 20 ms items, each execution logged, checkpointing every 10 items; SIGSTOP, SIGCONT after {options.FreezeSeconds} s; zombie items: executions the woken silo logged after SIGCONT; "
                : $"{options.Jobs} jobs of 5 ms items checkpointing every 50 items; ") +
            "progress: from the signal to the job's first checkpoint on a survivor, read from the job index; reads: GET /api/jobs/{id} of the affected jobs, " +
            "one after another through the event; membership settings of src/Silo/appsettings.json; each silo restarted on its ports before the next event.");
        if (failures > 0 || zombieItems > 0 || falseDeaths > 0)
        {
            Console.WriteLine(
                $"Failures: {failures} job(s) did not make progress on a survivor within {options.PhaseLimit.TotalSeconds:0} s; " +
                $"{zombieItems} item(s) executed by woken silos; {falseDeaths} live silo(s) declared dead");
            return 1;
        }

        return 0;
    }

    private static Task<int> DeadRowsAsync(TestDatabase database) =>
        database.ScalarAsync<int>("SELECT count(*)::int FROM orleansmembershiptable WHERE status = 6");

    /// <summary>Reads the jobs through the API, one after another, until cancelled; returns the slowest read in milliseconds.</summary>
    private static async Task<double> ReadWhileAsync(HttpClient http, string[] jobs, CancellationToken cancellationToken)
    {
        var slowest = 0.0;
        for (var i = 0; !cancellationToken.IsCancellationRequested; i++)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            try
            {
                using var response = await http.GetAsync(new Uri($"/api/jobs/{jobs[i % jobs.Length]}", UriKind.Relative), CancellationToken.None);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    Log($"  read of {jobs[i % jobs.Length]}: HTTP {(int)response.StatusCode}");
                }
            }
            catch (HttpRequestException ex)
            {
                Log($"  read of {jobs[i % jobs.Length]} failed: {ex.Message}");
            }

            slowest = Math.Max(slowest, clock.Elapsed.TotalMilliseconds);
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20), cancellationToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        return slowest;
    }

    /// <summary>Waits until every job shows a recent checkpoint in the index; returns each job's silo.</summary>
    private static async Task<Dictionary<string, string>> WaitForOwnersAsync(TestDatabase database, string[] jobs, TimeSpan limit, CancellationToken cancellationToken)
    {
        Dictionary<string, string> owners = [];
        await Wait.UntilAsync("every job to run and checkpoint", async () =>
        {
            var rows = await database.QueryAsync(
                "SELECT job_id, owner_silo FROM job_index WHERE job_id = ANY(@ids) AND status = 'Running' " +
                "AND owner_silo IS NOT NULL AND last_progress_at > now() - interval '2 seconds'",
                r => (Id: r.GetString(0), Silo: r.GetString(1)), ("ids", jobs));
            owners = rows.ToDictionary(r => r.Id, r => r.Silo);
            return owners.Count == jobs.Length;
        }, limit);
        cancellationToken.ThrowIfCancellationRequested();
        return owners;
    }

    /// <summary>
    /// For each job, milliseconds from the kill to its first checkpoint after resuming on another
    /// silo; and when the membership table was first seen to say the victim is dead.
    /// </summary>
    private static async Task<(List<double> Samples, double Evicted)> MeasureAsync(
        TestDatabase database, string[] jobs, string victim, DateTimeOffset killedAt, TimeSpan limit, CancellationToken cancellationToken)
    {
        var baseline = new Dictionary<string, long>(); // processed when it resumed elsewhere
        var progressed = new Dictionary<string, double>();
        var evicted = double.NaN;
        var address = victim.Split(':', '@');
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (progressed.Count < jobs.Length && clock.Elapsed < limit)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (double.IsNaN(evicted) && await database.ScalarAsync<int>(
                "SELECT count(*) FROM orleansmembershiptable WHERE port = @port AND generation = @generation AND status = 6",
                ("port", int.Parse(address[1], CultureInfo.InvariantCulture)), ("generation", int.Parse(address[2], CultureInfo.InvariantCulture))) > 0)
            {
                evicted = (DateTimeOffset.UtcNow - killedAt).TotalMilliseconds;
            }

            var rows = await database.QueryAsync(
                "SELECT job_id, processed, updated_at FROM job_index WHERE job_id = ANY(@ids) AND owner_silo IS DISTINCT FROM @victim " +
                "AND status = 'Running' AND updated_at > @killed",
                r => (Id: r.GetString(0), Processed: r.GetInt64(1), At: r.GetFieldValue<DateTimeOffset>(2)),
                ("ids", jobs), ("victim", victim), ("killed", killedAt));
            foreach (var row in rows.Where(r => !progressed.ContainsKey(r.Id)))
            {
                if (!baseline.TryGetValue(row.Id, out var resumedAt))
                {
                    baseline[row.Id] = row.Processed;
                }
                else if (row.Processed > resumedAt)
                {
                    progressed[row.Id] = (row.At - killedAt).TotalMilliseconds;
                }
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
        }

        return ([.. progressed.Values], evicted);
    }

    private static string Seconds(double milliseconds) =>
        double.IsNaN(milliseconds) ? "n/a" : (milliseconds / 1000).ToString("0.0", CultureInfo.InvariantCulture) + " s";

    private static void Log(string message) => Console.Error.WriteLine($"[bench] {message}");
}
