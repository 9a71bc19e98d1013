using System.Diagnostics;
using System.Globalization;
using System.Text;
using OrleansJobs.Harness;

namespace OrleansJobs.Benchmarks;

/// <summary>
/// Live events: N jobs run while C clients hold <c>GET /api/events</c> open. Events delivered per second (all clients
/// together), delivery latency of journal events (commit on the silo to the line read by the client; one machine, one
/// clock), and the jobs' run rate with the clients beside the rate with nobody listening (the silos then do no work for events).
/// </summary>
public static class EventsBenchmark
{
    private const string Job = """{"type":"synthetic","parameters":{"items":10,"itemMs":20,"record":false}}""";

    public static async Task<int> RunAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        Log($"starting a fresh database, {options.Silos} silo(s) and the API host; {options.Jobs} jobs, {options.Concurrency} event clients");
        await using var system = await BenchSystem.StartAsync(options.Silos);
        using var http = ThroughputBenchmark.CreateClient(system.Api, 64);

        // Warm-up, then the jobs with nobody listening.
        await RunJobsAsync(system, http, Math.Min(200, options.Jobs), options, cancellationToken);
        var alone = await RunJobsAsync(system, http, options.Jobs, options, cancellationToken);
        Log($"alone: {alone.Rate:0} jobs/s; now with {options.Concurrency} clients");

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var clients = Enumerable.Range(0, options.Concurrency).Select(_ => new EventClient()).ToList();
        var reading = clients.Select(c => c.ReadAsync(system.Api, stop.Token)).ToList();
        await Task.WhenAll(clients.Select(c => c.Opened.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken)));
        var before = clients.Sum(c => c.Events);
        var clock = Stopwatch.StartNew();
        var beside = await RunJobsAsync(system, http, options.Jobs, options, cancellationToken);
        var expected = await system.Database.ScalarAsync<long>("SELECT count(*) FROM job_journal WHERE job_id = ANY(@ids)", ("ids", beside.Ids));
        // Delivery trails the commits a little: wait (bounded) for every client to have every entry.
        var drain = Stopwatch.StartNew();
        while (clients.Any(c => c.JournalFor(beside.Ids) < expected) && drain.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(50, cancellationToken);
        }

        var seconds = clock.Elapsed.TotalSeconds;
        var delivered = clients.Sum(c => c.Events) - before;
        var complete = clients.Count(c => c.JournalFor(beside.Ids) == expected);
        await stop.CancelAsync();
        await Task.WhenAll(reading);
        var latency = new LatencySamples();
        foreach (var sample in clients.SelectMany(c => c.Latencies))
        {
            latency.Add(sample);
        }

        var table = new ResultTable("measure", "value");
        table.Add("jobs/s, nobody listening", $"{Format.Number(alone.Rate)} ({Format.Number(options.Jobs)} jobs in {alone.Seconds:0.0} s)");
        table.Add($"jobs/s, {options.Concurrency} clients listening", $"{Format.Number(beside.Rate)} ({(beside.Rate / alone.Rate) - 1:+0.0%;-0.0%})");
        table.Add("events delivered/s (all clients)", $"{Format.Number(delivered / seconds)} ({Format.Number(delivered)} in {seconds:0.0} s)");
        table.Add("journal entries per client", $"{Format.Number(expected)}; {complete} of {options.Concurrency} clients got all, exactly once in order: {clients.All(c => c.InOrder)}");
        table.Add("delivery latency p50 (commit → client)", Format.Ms(latency.Percentile(50)));
        table.Add("delivery latency p99", Format.Ms(latency.Percentile(99)));
        table.Add("delivery latency max", Format.Ms(latency.Max));
        Console.WriteLine($"Events: {options.Silos} silo(s) and the API host; {Format.Number(options.Jobs)} jobs of 10 items × 20 ms, " +
            $"{options.Concurrency} clients on GET /api/events (progress at most 4/s per job).");
        Console.WriteLine();
        Console.Write(table);
        return complete == options.Concurrency ? 0 : 1;
    }

    private static async Task<(string[] Ids, double Rate, double Seconds)> RunJobsAsync(
        BenchSystem system, HttpClient http, int jobs, BenchOptions options, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var load = await ThroughputBenchmark.SubmitAsync(http, Job, jobs, 64, options.PhaseLimit, cancellationToken);
        await ThroughputBenchmark.WaitForEndAsync(system, load.Ids, options.PhaseLimit, cancellationToken);
        var seconds = clock.Elapsed.TotalSeconds;
        return (load.Ids, load.Ids.Length / seconds, seconds);
    }

    private static void Log(string message) => Console.Error.WriteLine($"[bench] {message}");

    /// <summary>One SSE client: counts events, keeps journal ids per job, times journal events from their commit.</summary>
    internal sealed class EventClient
    {
        private const string CommittedAt = "\"committedAt\":\"";
        private const string JobId = "\"jobId\":\"";
        private readonly Dictionary<string, int> _journal = [];
        private readonly TaskCompletionSource _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _events;
        private long _lastId;

        public Task Opened => _opened.Task;

        public long Events => Interlocked.Read(ref _events);

        public bool InOrder { get; private set; } = true;

        public List<double> Latencies { get; } = [];

        public long JournalFor(string[] ids)
        {
            lock (_journal)
            {
                return ids.Sum(id => (long)_journal.GetValueOrDefault(id));
            }
        }

        public async Task ReadAsync(ApiHostProcess api, CancellationToken cancellationToken)
        {
            using var http = api.CreateClient(Timeout.InfiniteTimeSpan, api.AdminKey);
            try
            {
                using var response = await http.GetAsync(new Uri("/api/events", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead, cancellationToken);
                response.EnsureSuccessStatusCode();
                await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
                using var reader = new StreamReader(body, Encoding.UTF8);
                _opened.TrySetResult();
                long id = 0;
                while (await reader.ReadLineAsync(cancellationToken) is { } line)
                {
                    if (line.StartsWith("id: ", StringComparison.Ordinal))
                    {
                        id = long.Parse(line.AsSpan(4), CultureInfo.InvariantCulture);
                    }
                    else if (line.StartsWith("data: ", StringComparison.Ordinal))
                    {
                        Interlocked.Increment(ref _events);
                        if (id != 0)
                        {
                            Journal(id, line);
                        }

                        id = 0;
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // The benchmark is over.
            }
            finally
            {
                _opened.TrySetResult();
            }
        }

        private void Journal(long id, string line)
        {
            var now = DateTimeOffset.UtcNow;
            InOrder &= id > _lastId;
            _lastId = id;
            var at = line.IndexOf(CommittedAt, StringComparison.Ordinal);
            if (at >= 0)
            {
                var start = at + CommittedAt.Length;
                var committed = DateTimeOffset.Parse(line.AsSpan(start, line.IndexOf('"', start) - start), CultureInfo.InvariantCulture);
                Latencies.Add((now - committed).TotalMilliseconds);
            }

            var job = line.IndexOf(JobId, StringComparison.Ordinal) + JobId.Length;
            var jobId = line[job..line.IndexOf('"', job)];
            lock (_journal)
            {
                _journal[jobId] = _journal.GetValueOrDefault(jobId) + 1;
            }
        }
    }
}
