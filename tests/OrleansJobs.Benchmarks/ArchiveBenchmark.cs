using System.Diagnostics;
using System.IO.Compression;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace OrleansJobs.Benchmarks;

/// <summary>
/// Export and import rates: a system (one silo, the API host) with N finished jobs exports them to a file; then a second
/// system on an empty database imports that file. Jobs per second each way, and the archive's size.
/// </summary>
public static class ArchiveBenchmark
{
    public static async Task<int> RunAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        var file = Path.Combine(Path.GetTempPath(), $"orleansjobs-bench-{Guid.NewGuid():N}.jsonl.gz");
        try
        {
            Log($"starting a fresh database, one silo and the API host; {options.Jobs} finished jobs to export");
            TimeSpan exportTime;
            long seeded;
            await using (var source = await BenchSystem.StartAsync(1))
            {
                using var http = ThroughputBenchmark.CreateClient(source.Api, options.Concurrency);
                var submitted = await ThroughputBenchmark.SubmitAsync(http, ThroughputBenchmark.TrivialJob, options.Jobs, options.Concurrency, options.PhaseLimit, cancellationToken);
                var ended = await ThroughputBenchmark.WaitForEndAsync(source, submitted.Ids, options.PhaseLimit, cancellationToken);
                seeded = ended.Ended;
                Log($"{seeded} jobs finished ({submitted.Ids.Length / submitted.Elapsed.TotalSeconds:0} submits/s); exporting");
                var clock = Stopwatch.StartNew();
                using var client = source.Api.CreateClient(options.PhaseLimit);
                using var response = await client.GetAsync(new Uri("/api/admin/export", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead, cancellationToken);
                response.EnsureSuccessStatusCode();
                await using (var output = File.Create(file))
                {
                    await response.Content.CopyToAsync(output, cancellationToken);
                }

                exportTime = clock.Elapsed;
            }

            var (lines, rawBytes, exported) = await CountAsync(file, cancellationToken);
            var size = new FileInfo(file).Length;
            Log($"exported {exported} jobs in {exportTime.TotalSeconds:0.0} s ({size / 1e6:0.0} MB); starting an empty system to import into");

            JsonElement result;
            TimeSpan importTime;
            await using (var target = await BenchSystem.StartAsync(1))
            {
                var clock = Stopwatch.StartNew();
                using var client = target.Api.CreateClient(options.PhaseLimit);
                await using var body = File.OpenRead(file);
                using var content = new StreamContent(body);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/gzip");
                using var response = await client.PostAsync(new Uri("/api/admin/import", UriKind.Relative), content, cancellationToken);
                result = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
                importTime = clock.Elapsed;
                if (!response.IsSuccessStatusCode)
                {
                    Console.WriteLine($"Import failed: {(int)response.StatusCode} {result}");
                    return 1;
                }
            }

            var jobs = result.GetProperty("jobs");
            var table = new ResultTable("measure", "value");
            table.Add("jobs", $"{Format.Number(exported)} exported of {Format.Number(seeded)} finished ({Format.Number(lines)} lines)");
            table.Add("archive", $"{size / 1e6:0.0} MB gzip'd, {rawBytes / 1e6:0.0} MB of JSON Lines ({(double)size / exported:0} bytes per job)");
            table.Add("export", $"{exportTime.TotalSeconds:0.0} s, {Format.Number(exported / exportTime.TotalSeconds)} jobs/s");
            table.Add("import (check, then restore)", $"{importTime.TotalSeconds:0.0} s, {Format.Number(exported / importTime.TotalSeconds)} jobs/s");
            table.Add("import outcome", $"{Format.Number(jobs.GetProperty("created").GetInt64())} created, {Format.Number(jobs.GetProperty("skipped").GetInt64())} skipped, " +
                $"{Format.Number(jobs.GetProperty("failed").GetInt64())} failed");
            Console.WriteLine($"Archive: one silo and the API host; {Format.Number(options.Jobs)} trivial jobs finished, exported to a file, then imported " +
                "into a second system on an empty database (the first stopped).");
            Console.WriteLine();
            Console.Write(table);
            return jobs.GetProperty("created").GetInt64() == exported ? 0 : 1;
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>Lines, uncompressed bytes and the jobs the end line counts.</summary>
    private static async Task<(long Lines, long Bytes, long Jobs)> CountAsync(string file, CancellationToken cancellationToken)
    {
        await using var gzip = new GZipStream(File.OpenRead(file), CompressionMode.Decompress);
        using var reader = new StreamReader(gzip);
        long lines = 0, bytes = 0;
        string? last = null;
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            lines++;
            bytes += line.Length + 1;
            last = line;
        }

        using var end = JsonDocument.Parse(last ?? "{}");
        return (lines, bytes, end.RootElement.TryGetProperty("jobs", out var jobs) ? jobs.GetInt64() : 0);
    }

    private static void Log(string message) => Console.Error.WriteLine($"[bench] {message}");
}
