using System.Diagnostics;
using System.Text;
using System.Text.Json;
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
        // The silos learn of a newly subscribed host within Events:SinkRefresh (250 ms); until then its events come from
        // the journal (docs/events.md). Measure live delivery: start once a probe job's events arrive from the silo.
        await WaitForLiveEventsAsync(system, http, cancellationToken);
        var feedBefore = await system.ApiHostMetricsAsync(FeedMetrics);
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
        var feedAfter = await system.ApiHostMetricsAsync(FeedMetrics);
        var feed = feedAfter.Zip(feedBefore, (a, b) => a - b).ToArray();
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
        table.Add("API host, while measured: events received from the silo / read from the journal to fill gaps / streams cut off",
            $"{Format.Number(feed[0])} / {Format.Number(feed[1])} / {Format.Number(feed[2])}");
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

    internal static readonly string[] FeedMetrics = ["orleansjobs_events_received_total", "orleansjobs_events_filled_total", "orleansjobs_events_cut_off_total"];

    private static async Task WaitForLiveEventsAsync(BenchSystem system, HttpClient http, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            var received = (await system.ApiHostMetricsAsync(FeedMetrics[0]))[0];
            await ThroughputBenchmark.SubmitAsync(http, Job, 1, 1, TimeSpan.FromSeconds(10), cancellationToken);
            await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken);
            if ((await system.ApiHostMetricsAsync(FeedMetrics[0]))[0] > received)
            {
                return;
            }
        }

        throw new TimeoutException("no event arrived live from the silo within 30 s");
    }

    private static void Log(string message) => Console.Error.WriteLine($"[bench] {message}");

    /// <summary>
    /// One SSE client, reading bytes: counts events and checks that journal ids rise. With <paramref name="detailed"/> it also
    /// keeps the number of journal entries per job and times each journal event from its commit. Lean on purpose: on 2 cores
    /// this client shares the machine with the system it measures.
    /// </summary>
    internal sealed class EventClient(bool detailed = true)
    {
        private static readonly byte[] FrameEnd = "\n\n"u8.ToArray();
        private static readonly byte[] CommittedAt = "\"committedAt\":"u8.ToArray();
        private static readonly byte[] JobId = "\"jobId\":\""u8.ToArray();
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

        /// <summary>Times the server cut this client off for falling behind (it then reconnected with Last-Event-ID).</summary>
        public int Reconnects { get; private set; }

        /// <summary>Reads until cancelled; like EventSource, opens the stream again from the last id it got when told to reconnect.</summary>
        public async Task ReadAsync(ApiHostProcess api, CancellationToken cancellationToken)
        {
            using var http = api.CreateClient(Timeout.InfiniteTimeSpan, api.AdminKey);
            try
            {
                while (await ReadStreamAsync(http, cancellationToken))
                {
                    Reconnects++;
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

        // One stream; true when the server told the client to reconnect.
        private async Task<bool> ReadStreamAsync(HttpClient http, CancellationToken cancellationToken)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/events", UriKind.Relative));
            if (_lastId > 0)
            {
                request.Headers.Add("Last-Event-ID", _lastId.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            response.EnsureSuccessStatusCode();
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            _opened.TrySetResult();
            var buffer = new byte[64 * 1024];
            int start = 0, end = 0;
            while (true)
            {
                if (end == buffer.Length)
                {
                    if (start == 0)
                    {
                        Array.Resize(ref buffer, buffer.Length * 2); // one frame larger than the buffer
                    }
                    else
                    {
                        buffer.AsSpan(start, end - start).CopyTo(buffer);
                        (start, end) = (0, end - start);
                    }
                }

                var read = await body.ReadAsync(buffer.AsMemory(end), cancellationToken);
                if (read == 0)
                {
                    return false;
                }

                end += read;
                int frame;
                while ((frame = buffer.AsSpan(start, end - start).IndexOf(FrameEnd)) >= 0)
                {
                    if (!Frame(buffer.AsSpan(start, frame)))
                    {
                        return true;
                    }

                    start += frame + FrameEnd.Length;
                }

                if (start == end)
                {
                    (start, end) = (0, 0);
                }
            }
        }

        // False for the server's reconnect event (its id is the last one sent, which this client has).
        private bool Frame(ReadOnlySpan<byte> frame)
        {
            long id = 0;
            ReadOnlySpan<byte> data = default;
            var hasData = false;
            foreach (var range in frame.Split((byte)'\n'))
            {
                var line = frame[range];
                if (line.SequenceEqual("event: reconnect"u8))
                {
                    return false;
                }

                if (line.StartsWith("id: "u8) && !System.Buffers.Text.Utf8Parser.TryParse(line[4..], out id, out _))
                {
                    InOrder = false; // not an id
                }
                else if (line.StartsWith("data: "u8))
                {
                    data = line[6..];
                    hasData = true;
                }
            }

            if (!hasData)
            {
                return true; // a comment: the opening or a keep-alive
            }

            Interlocked.Increment(ref _events);
            if (id == 0)
            {
                return true;
            }

            InOrder &= id > _lastId;
            _lastId = id;
            if (detailed)
            {
                Journal(data);
            }

            return true;
        }

        private void Journal(ReadOnlySpan<byte> data)
        {
            var now = DateTimeOffset.UtcNow;
            var at = data.IndexOf(CommittedAt);
            if (at >= 0)
            {
                var reader = new Utf8JsonReader(data[(at + CommittedAt.Length)..]);
                if (reader.Read() && reader.TokenType == JsonTokenType.String)
                {
                    Latencies.Add((now - reader.GetDateTimeOffset()).TotalMilliseconds);
                }
            }

            var job = data.IndexOf(JobId) + JobId.Length;
            var jobId = Encoding.UTF8.GetString(data[job..][..data[job..].IndexOf((byte)'"')]);
            lock (_journal)
            {
                _journal[jobId] = _journal.GetValueOrDefault(jobId) + 1;
            }
        }
    }
}
