using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace OrleansJobs.Benchmarks;

/// <summary>
/// Analyze and organize (copy) a generated library of real files, each beside a plain baseline on
/// the same files and disk: <c>sha256sum</c> over the tree for analyze, <c>cp -a</c> for organize
/// (which neither flushes nor verifies). Both run with the files in the page cache, each after the
/// data earlier phases wrote was written back (untimed <c>sync</c>), so neither pays for the other. The jobs
/// bookkeeping (transaction log, catalog rows, checkpoints) is read from their counters.
/// </summary>
public static class FilesBenchmark
{
    private const int OrganizeRounds = 3;

    public static async Task<int> RunAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        var baseFolder = Path.Combine(Path.GetTempPath(), $"orleansjobs-bench-files-{Guid.NewGuid():N}"[..44]);
        var root = Path.Combine(baseFolder, "library");
        try
        {
            Log($"generating {options.Jobs} files under {root}");
            var bytes = Generate(root, options.Jobs);
            var megabytes = bytes / 1e6;
            Log($"{Format.Number(megabytes, 1)} MB; starting a fresh database, one silo and the API host");
            await using var system = await BenchSystem.StartAsync(1, new Dictionary<string, string> { ["Libraries__AllowedRoots__0"] = baseFolder });
            using var http = system.Api.CreateClient(TimeSpan.FromSeconds(30));
            using (var created = await PostAsync(http, "/api/libraries", $$"""{"id": "bench", "name": "bench", "root": "{{root}}"}""", cancellationToken))
            {
                created.EnsureSuccessStatusCode();
            }

            var table = new ResultTable("job", "files", "MB", "time", "files/s", "MB/s", "baseline", "baseline time", "ratio", "bookkeeping");
            var hashBaseline = Mean(await TimeShellAsync($"find '{root}' -type f -print0 | xargs -0 sha256sum > /dev/null", options, cancellationToken),
                await TimeShellAsync($"find '{root}' -type f -print0 | xargs -0 sha256sum > /dev/null", options, cancellationToken));
            var (analyze, analyzeCounters) = await RunJobAsync(http, """{"type": "analyze", "library": "bench"}""", options, cancellationToken);
            table.Add("analyze", Format.Number(options.Jobs), Format.Number(megabytes, 1), Seconds(analyze), Format.Number(options.Jobs / analyze.TotalSeconds),
                Format.Number(megabytes / analyze.TotalSeconds, 1), "sha256sum", Seconds(hashBaseline), Ratio(analyze, hashBaseline),
                $"catalog {Ms(analyzeCounters, "catalogMs")}, checkpoints {Ms(analyzeCounters, "checkpointMs")} (with the catalog rows they flush)");

            // Rounds of cp -a and organize in turn: this disk's speed drifts over minutes, and each ratio compares neighbours.
            var rounds = new List<(TimeSpan Organize, TimeSpan Copy, JsonElement Counters)>();
            for (var round = 1; round <= OrganizeRounds; round++)
            {
                var copy = Path.Combine(baseFolder, $"copy-{round}");
                var copyTime = await TimeShellAsync($"cp -a '{root}' '{copy}'", options, cancellationToken);
                var (organize, counters) = await RunJobAsync(
                    http, $$$"""{"type": "organize", "library": "bench", "parameters": {"target": "organized-{{{round}}}", "mode": "copy"}}""", options, cancellationToken);
                rounds.Add((organize, copyTime, counters));
                Directory.Delete(copy, recursive: true);
                Directory.Delete(Path.Combine(root, $"organized-{round}"), recursive: true); // the next round's plan would include it
                Log($"round {round}: organize {Seconds(organize)}, cp -a {Seconds(copyTime)}");
            }

            var middle = rounds.OrderBy(r => r.Organize / r.Copy).ElementAt(rounds.Count / 2);
            var ratios = rounds.Select(r => r.Organize / r.Copy).Order().ToList();
            var organizeCounters = middle.Counters;
            table.Add("organize (copy)", Format.Number(options.Jobs), Format.Number(megabytes, 1), Seconds(middle.Organize), Format.Number(options.Jobs / middle.Organize.TotalSeconds),
                Format.Number(megabytes / middle.Organize.TotalSeconds, 1), "cp -a", Seconds(middle.Copy), $"{middle.Organize / middle.Copy:0.00}× ({ratios[0]:0.00}–{ratios[^1]:0.00}×)",
                $"log {Ms(organizeCounters, "logMs")} (beside the copies), checkpoints {Ms(organizeCounters, "checkpointMs")}; " +
                $"plan {Ms(organizeCounters, "planMs")}, copies {Ms(organizeCounters, "copyMs")}, flushes {Ms(organizeCounters, "flushMs")}, " +
                $"verification {Ms(organizeCounters, "verifyMs")}, renames {Ms(organizeCounters, "renameMs")}");

            Console.WriteLine($"Files: {options.Jobs} files of 1 to 32 KiB in 200 folders, warm page cache, dirty pages written back before each phase, " +
                $"one silo; time from submit to Completed; analyze beside the mean of two sha256sum runs; organize: the median of {OrganizeRounds} rounds " +
                "(cp -a, then organize into a new folder), with the range of the rounds' ratios.");
            Console.WriteLine();
            Console.Write(table);
            return 0;
        }
        finally
        {
            if (Directory.Exists(baseFolder))
            {
                Directory.Delete(baseFolder, recursive: true);
            }
        }
    }

    /// <summary>Writes <paramref name="count"/> files of 1 to 32 KiB (every 20th a duplicate) in 200 folders; returns their total size.</summary>
    private static long Generate(string root, int count)
    {
        var random = new Random(20261130);
        var total = 0L;
        var previous = Array.Empty<byte>();
        for (var i = 0; i < count; i++)
        {
            var folder = Path.Combine(root, $"d{i % 200:D3}");
            Directory.CreateDirectory(folder);
            byte[] content;
            if (i % 20 == 19)
            {
                content = previous;
            }
            else
            {
                content = new byte[random.Next(1024, 32 * 1024)];
                random.NextBytes(content);
            }

            var path = Path.Combine(folder, $"f{i:D6}.bin");
            File.WriteAllBytes(path, content);
            File.SetLastWriteTimeUtc(path, new DateTime(2018 + i % 6, 1 + i % 12, 1 + i % 28, 0, 0, 0, DateTimeKind.Utc));
            total += content.Length;
            previous = content;
        }

        return total;
    }

    private static async Task<(TimeSpan Took, JsonElement Counters)> RunJobAsync(HttpClient http, string body, BenchOptions options, CancellationToken cancellationToken)
    {
        await SettleAsync(cancellationToken);
        var clock = Stopwatch.StartNew();
        using var submitted = await PostAsync(http, "/api/jobs", body, cancellationToken);
        submitted.EnsureSuccessStatusCode();
        var id = (await submitted.Content.ReadFromJsonAsync<JsonElement>(cancellationToken)).GetProperty("id").GetString()!;
        while (clock.Elapsed < options.PhaseLimit)
        {
            var job = await http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{id}", UriKind.Relative), cancellationToken);
            var status = job.GetProperty("status").GetString();
            if (status == "Completed")
            {
                return (clock.Elapsed, job.GetProperty("checkpoint").GetProperty("counters"));
            }

            if (status is "Failed" or "Cancelled" or "Killed")
            {
                throw new InvalidOperationException($"job {id} ended {status}: {job.GetProperty("error")}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
        }

        throw new TimeoutException($"job {id} did not complete within {options.PhaseLimit.TotalSeconds} s");
    }

    /// <summary>Times a shell command, after writing back what earlier phases left dirty (untimed), so no phase pays for another's writes.</summary>
    private static async Task<TimeSpan> TimeShellAsync(string command, BenchOptions options, CancellationToken cancellationToken)
    {
        await SettleAsync(cancellationToken);
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(new ProcessStartInfo("bash", ["-c", command]) { RedirectStandardError = true })!;
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(options.PhaseLimit);
        await process.WaitForExitAsync(limit.Token);
        return process.ExitCode == 0 ? clock.Elapsed : throw new InvalidOperationException($"'{command}' failed: {await process.StandardError.ReadToEndAsync(cancellationToken)}");
    }

    private static async Task SettleAsync(CancellationToken cancellationToken)
    {
        using var sync = Process.Start(new ProcessStartInfo("sync"))!;
        await sync.WaitForExitAsync(cancellationToken);
    }

    private static async Task<HttpResponseMessage> PostAsync(HttpClient http, string path, string json, CancellationToken cancellationToken)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        return await http.PostAsync(new Uri(path, UriKind.Relative), content, cancellationToken);
    }

    private static TimeSpan Mean(TimeSpan a, TimeSpan b) => (a + b) / 2;

    private static string Seconds(TimeSpan span) => $"{span.TotalSeconds:0.00} s";

    private static string Ratio(TimeSpan ours, TimeSpan baseline) => $"{ours / baseline:0.00}×";

    private static string Ms(JsonElement counters, string name) => counters.TryGetProperty(name, out var value) ? $"{value.GetInt64() / 1000.0:0.00} s" : "n/a";

    private static void Log(string message) => Console.Error.WriteLine($"[bench] {message}");
}
