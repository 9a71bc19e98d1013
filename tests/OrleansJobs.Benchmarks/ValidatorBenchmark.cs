using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OrleansJobs.Harness;

namespace OrleansJobs.Benchmarks;

/// <summary>
/// The state validator over a large cluster: the time of a whole run (every check) with N finished jobs, and what it
/// found (nothing: the system is consistent). One silo, the API host; the scheduled runs are off, the runs are asked.
/// </summary>
public static class ValidatorBenchmark
{
    private const int Runs = 5;

    public static async Task<int> RunAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        Log($"starting a fresh database, one silo and the API host; {options.Jobs} jobs to finish first");
        await using var system = await BenchSystem.StartAsync(1, new Dictionary<string, string>
        {
            ["Validator__ValidationInterval"] = "1.00:00:00", // only the runs this benchmark asks for
            ["Validator__ValidateAtStart"] = "false",
            ["Logging__LogLevel__OrleansJobs.Safeguards"] = "Information", // each run's time by check
        });
        using var http = ThroughputBenchmark.CreateClient(system.Api, options.Concurrency);
        var finished = await ThroughputBenchmark.SubmitAsync(http, ThroughputBenchmark.TrivialJob, options.Jobs, options.Concurrency, options.PhaseLimit, cancellationToken);
        var ended = await ThroughputBenchmark.WaitForEndAsync(system, finished.Ids, options.PhaseLimit, cancellationToken);
        Log($"{ended.Ended} jobs finished; waiting for their last writes to settle (10 s), then {Runs} validator runs");
        await Task.Delay(TimeSpan.FromSeconds(11), cancellationToken);

        var seconds = new List<double>();
        var found = 0;
        long checkedJobs = 0;
        for (var i = 0; i < Runs; i++)
        {
            var run = await ValidateAsync(http, dryRun: i == 0, cancellationToken);
            seconds.Add((run.GetProperty("finishedAt").GetDateTimeOffset() - run.GetProperty("startedAt").GetDateTimeOffset()).TotalSeconds);
            found += run.GetProperty("found").EnumerateObject().Sum(k => k.Value.GetInt32());
            checkedJobs = run.GetProperty("jobsChecked").GetInt64();
            Log($"run {i + 1}: {seconds[^1]:0.00} s");
        }

        foreach (var line in system.Silos[0].Process.Output().Split('\n').Where(l => l.Contains("State validation", StringComparison.Ordinal)))
        {
            Log(line.Trim());
        }

        seconds.Sort();
        var table = new ResultTable("measure", "value");
        table.Add("jobs checked", Format.Number(checkedJobs));
        table.Add("validator run (median of 5)", $"{seconds[Runs / 2]:0.00} s ({Format.Number(checkedJobs / seconds[Runs / 2])} jobs/s)");
        table.Add("fastest, slowest run", $"{seconds[0]:0.00} s, {seconds[^1]:0.00} s");
        table.Add("inconsistencies found", Format.Number(found));
        Console.WriteLine($"State validator: one silo and the API host; {Format.Number(options.Jobs)} trivial jobs finished, then {Runs} whole runs " +
            "(the first dry), each asked through the API.");
        Console.WriteLine();
        Console.Write(table);
        return found == 0 ? 0 : 1;
    }

    private static async Task<JsonElement> ValidateAsync(HttpClient http, bool dryRun, CancellationToken cancellationToken)
    {
        using var content = new StringContent($$"""{"dryRun": {{(dryRun ? "true" : "false")}}}""", Encoding.UTF8, "application/json");
        using var client = http.CloneWithTimeout(TimeSpan.FromMinutes(10));
        using var response = await client.PostAsync(new Uri("/api/admin/validator/run", UriKind.Relative), content, cancellationToken);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
    }

    private static void Log(string message) => Console.Error.WriteLine($"[bench] {message}");
}
