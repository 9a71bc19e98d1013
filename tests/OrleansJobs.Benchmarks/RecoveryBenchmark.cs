using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OrleansJobs.Harness;

namespace OrleansJobs.Benchmarks;

/// <summary>
/// Time from SIGKILL of a silo to each of its running jobs making progress again on a survivor,
/// over several kills. Progress is read from the job index (written at each checkpoint), never by
/// calling the jobs: a call would itself re-activate a job and hide how fast the watchdog and the
/// recovery sweep are on their own.
/// </summary>
public static class RecoveryBenchmark
{
    // Long jobs of short items, checkpointed every 50 items (0.25 s): they outlive every kill.
    private const string LongJob = """{"type":"synthetic","parameters":{"items":1000000,"itemMs":5,"record":false},"checkpoint":{"everyItems":50}}""";

    /// <summary>The target for the slowest job of a kill; slower kills print the survivors' recovery log lines.</summary>
    private static readonly TimeSpan SlowRecovery = TimeSpan.FromSeconds(10);

    public static async Task<int> RunAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        Log($"starting a fresh database, {options.Silos} silo processes and the API host");
        await using var system = await BenchSystem.StartAsync(options.Silos);
        using var http = new HttpClient { BaseAddress = system.Api.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        var jobs = new List<string>();
        for (var i = 0; i < options.Jobs; i++)
        {
            using var content = new StringContent(LongJob, Encoding.UTF8, "application/json");
            using var response = await http.PostAsync(new Uri("/api/jobs", UriKind.Relative), content, cancellationToken);
            if (response.StatusCode != HttpStatusCode.Created)
            {
                throw new InvalidOperationException($"submit failed: HTTP {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}");
            }

            jobs.Add((await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken)).GetProperty("id").GetString()!);
        }

        var silos = system.Silos.ToList();
        var table = new ResultTable("kill", "silo", "its running jobs", "median", "max", "declared dead after");
        var all = new LatencySamples();
        var failures = 0;
        for (var kill = 1; kill <= options.Kills; kill++)
        {
            // Everything settled: every job running and checkpointing, the membership table clean.
            var owners = await WaitForOwnersAsync(system.Database, [.. jobs], options.PhaseLimit, cancellationToken);
            var victim = silos
                .Select(s => (Silo: s, Address: owners.Values.FirstOrDefault(o => o.Contains($":{s.SiloPort}@", StringComparison.Ordinal))))
                .Where(v => v.Address is not null)
                .MaxBy(v => owners.Values.Count(o => o == v.Address));
            var affected = owners.Where(o => o.Value == victim.Address).Select(o => o.Key).ToArray();
            Log($"kill {kill}: SIGKILL of {victim.Address} with {affected.Length} running jobs");

            var killedAt = DateTimeOffset.UtcNow;
            await victim.Silo.Process.KillAsync();
            var (samples, evicted) = await MeasureAsync(system.Database, affected, victim.Address!, killedAt, options.PhaseLimit, cancellationToken);
            failures += affected.Length - samples.Count;
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
                kill.ToString(CultureInfo.InvariantCulture), victim.Address!, $"{samples.Count} of {affected.Length}",
                Seconds(measured.Percentile(50)), Seconds(measured.Max), Seconds(evicted));

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

        table.Add("all", "", $"{all.Count}", Seconds(all.Percentile(50)), Seconds(all.Max), "");
        Console.WriteLine();
        Console.WriteLine(table);
        Console.WriteLine(
            $"Conditions: {Environment.ProcessorCount} cores; {options.Silos} silo processes, the API host and this process on one machine; " +
            $"{options.Jobs} jobs of 5 ms items checkpointing every 50 items; times from SIGKILL to the job's first checkpoint on a survivor, " +
            "read from the job index; membership settings of src/Silo/appsettings.json; each killed silo restarted on its ports before the next kill.");
        if (failures > 0)
        {
            Console.WriteLine($"Failures: {failures} job(s) did not make progress on a survivor within {options.PhaseLimit.TotalSeconds:0} s");
            return 1;
        }

        return 0;
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
