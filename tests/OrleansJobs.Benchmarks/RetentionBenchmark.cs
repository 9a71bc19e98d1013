using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OrleansJobs.Harness;

namespace OrleansJobs.Benchmarks;

/// <summary>
/// The retention policy deleting finished jobs while clients submit: jobs deleted per second, and the submit rate
/// beside it against the submit rate alone (the target: at most 10 % slower). One silo, the API host; every finished
/// job older than one second is due.
/// </summary>
public static class RetentionBenchmark
{
    public static async Task<int> RunAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        Log($"starting a fresh database, one silo and the API host; {options.Jobs} finished jobs to delete");
        await using var system = await BenchSystem.StartAsync(1, new Dictionary<string, string>
        {
            ["Retention__Retention"] = "00:00:01",
            ["Retention__Interval"] = "1.00:00:00", // only the run this benchmark asks for
        });
        using var http = ThroughputBenchmark.CreateClient(system.Api, options.Concurrency);
        var finished = await ThroughputBenchmark.SubmitAsync(http, ThroughputBenchmark.TrivialJob, options.Jobs, options.Concurrency, options.PhaseLimit, cancellationToken);
        var ended = await ThroughputBenchmark.WaitForEndAsync(system, finished.Ids, options.PhaseLimit, cancellationToken);
        Log($"{ended.Ended} jobs finished; submit rate alone:");
        await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken); // all older than the retention

        // Submit phases around the run: a warm-up (not counted), two alone, five beside it, two alone after it; medians compared.
        var submits = Math.Max(10_000, options.Jobs / 2);
        async Task<double> SubmitRateAsync() =>
            await ThroughputBenchmark.SubmitAsync(http, ThroughputBenchmark.ScheduledJob, submits, options.Concurrency, options.PhaseLimit, cancellationToken)
                is var phase ? phase.Ids.Length / phase.Elapsed.TotalSeconds : 0;
        await SubmitRateAsync();
        var alone = new List<double> { await SubmitRateAsync(), await SubmitRateAsync() };
        Log($"{alone.Max():0} submits/s; now beside the retention run");

        var clock = Stopwatch.StartNew();
        var retention = RunRetentionAsync(http, cancellationToken);
        var beside = new List<double>();
        for (var i = 0; i < 5 && !retention.IsCompleted; i++)
        {
            beside.Add(await SubmitRateAsync());
        }

        var besideSeconds = clock.Elapsed.TotalSeconds;
        var run = await retention;
        alone.Add(await SubmitRateAsync());
        alone.Add(await SubmitRateAsync());
        var aloneRate = Median(alone);
        var besideRate = Median(beside);
        var seconds = (run.GetProperty("finishedAt").GetDateTimeOffset() - run.GetProperty("startedAt").GetDateTimeOffset()).TotalSeconds;
        var purged = run.GetProperty("purged").GetInt32();
        var left = await system.Database.ScalarAsync<long>("SELECT count(*) FROM job_index WHERE job_id = ANY(@ids)", ("ids", finished.Ids));

        var table = new ResultTable("measure", "value");
        table.Add("finished jobs deleted", $"{Format.Number(purged)} of {Format.Number(ended.Ended)} ({Format.Number(left)} left in the index)");
        table.Add("retention run", $"{seconds:0.00} s, {Format.Number(purged / seconds)} jobs/s");
        table.Add("submits/s alone (median of 4 phases)", $"{Format.Number(aloneRate)} ({string.Join(", ", alone.Select(r => Format.Number(r)))})");
        table.Add("submits/s beside the run (median)", $"{Format.Number(besideRate)} ({(besideRate / aloneRate) - 1:+0.0%;-0.0%}; " +
            $"{string.Join(", ", beside.Select(r => Format.Number(r)))}); the phases took {besideSeconds:0.0} s of the run's {seconds:0.0} s");
        Console.WriteLine($"Retention: one silo and the API host; {Format.Number(options.Jobs)} trivial jobs finished, then the retention policy deletes them " +
            $"(batches of 500, 8 at once, paced at Retention:MaxJobsPerSecond, 300 by default) while {options.Concurrency} clients submit " +
            $"{Format.Number(submits)} scheduled jobs.");
        Console.WriteLine();
        Console.Write(table);
        return 0;
    }

    private static async Task<JsonElement> RunRetentionAsync(HttpClient http, CancellationToken cancellationToken)
    {
        using var content = new StringContent("""{"dryRun": false}""", Encoding.UTF8, "application/json");
        using var retention = http.CloneWithTimeout(TimeSpan.FromMinutes(10));
        using var response = await retention.PostAsync(new Uri("/api/admin/retention/run", UriKind.Relative), content, cancellationToken);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    private static void Log(string message) => Console.Error.WriteLine($"[bench] {message}");
}
