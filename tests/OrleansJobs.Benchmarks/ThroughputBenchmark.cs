using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using OrleansJobs.Harness;

namespace OrleansJobs.Benchmarks;

/// <summary>
/// Submit rate, end-to-end completion rate and submit-to-Running latency of trivial jobs, through
/// <c>POST /api/jobs</c> of a running API host, with the database's transaction counts per job.
/// </summary>
public static class ThroughputBenchmark
{
    // One item of 0 ms, no effect rows: the cost measured is the supervisor's own.
    internal const string TrivialJob = """{"type":"synthetic","parameters":{"items":1,"itemMs":0,"record":false}}""";

    // The same job, accepted now to run in a day: submission alone, as a queue's enqueue.
    internal static readonly string ScheduledJob =
        $$"""{"type":"synthetic","parameters":{"items":1,"itemMs":0,"record":false},"runAfter":"{{DateTimeOffset.UtcNow.AddDays(1):O}}"}""";

    // Backends flush their statistics at least every 10 s when idle (1 s when busy).
    private static readonly TimeSpan StatisticsFlush = TimeSpan.FromSeconds(11);

    // The count bound of the timed warm-up.
    private const int MaxWarmUpJobs = 200_000;

    // The state validator checks every stored job every minute (about 1 s of silo and database work per 100,000 jobs, `bench
    // validator`): falling in a 5 s phase or not, it moved single results by up to 20 %. It runs at start only here.
    private static readonly Dictionary<string, string> QuietSafeguards = new() { ["Validator__ValidationInterval"] = "01:00:00" };

    public static async Task<int> RunAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        Log($"starting a fresh database, {options.Silos} silo process(es) and the API host");
        await using var system = await BenchSystem.StartAsync(options.Silos, QuietSafeguards);
        using var http = CreateClient(system.Api, options.Concurrency);
        using var stopListening = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var listeners = Enumerable.Range(0, options.EventClients).Select(_ => new EventsBenchmark.EventClient(detailed: false)).ToList();
        var listening = listeners.Select(c => c.ReadAsync(system.Api, stopListening.Token)).ToList();
        await Task.WhenAll(listeners.Select(c => c.Opened.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken)));

        // Tiered compilation compiles hot code again, optimized, after it has run a while: on 2 cores the silo and the API host
        // keep compiling through about 20 s of full load, and after 30 s the API host still spent 10 % of its CPU in the JIT while
        // measured (1 % after 60 s, perf). Measured before that, the figures are partly the JIT's.
        var timedWarmUp = options.WarmUpSeconds > 0;
        var warmUpJobs = timedWarmUp ? MaxWarmUpJobs : Math.Min(2_000, options.Jobs / 5);
        Log($"warm-up: {(timedWarmUp ? $"{options.WarmUpSeconds} s of full load" : $"{warmUpJobs} jobs")} (not measured)");
        using var warming = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // Scraped as Prometheus would, so that the scrapes' own code (the exporter, the gauges' query) is compiled by now too.
        var scraping = ScrapeWhileAsync(system, warming.Token);
        var warm = await SubmitAsync(http, TrivialJob, warmUpJobs, options.Concurrency,
            timedWarmUp ? TimeSpan.FromSeconds(options.WarmUpSeconds) : options.PhaseLimit, cancellationToken);
        await warming.CancelAsync();
        await scraping;
        await WaitForEndAsync(system, warm.Ids, options.PhaseLimit, cancellationToken);
        await Task.Delay(StatisticsFlush, cancellationToken);

        var compiledBefore = await system.CompiledMethodsAsync();
        var cpuBefore = system.CpuTimes();
        var feedBefore = await system.ApiHostMetricsAsync(EventsBenchmark.FeedMetrics);
        var xidBefore = await system.TransactionIdAsync();
        var commitsBefore = await system.CommittedTransactionsAsync();
        Log($"throughput: {options.Jobs} jobs from {options.Concurrency} concurrent clients");
        var load = await SubmitAsync(http, TrivialJob, options.Jobs, options.Concurrency, options.PhaseLimit, cancellationToken);
        var end = await WaitForEndAsync(system, load.Ids, options.PhaseLimit, cancellationToken);
        var xidAfter = await system.TransactionIdAsync();
        var cpuAfter = system.CpuTimes();
        var compiledAfter = await system.CompiledMethodsAsync();
        var feedAfter = await system.ApiHostMetricsAsync(EventsBenchmark.FeedMetrics);
        await Task.Delay(StatisticsFlush, cancellationToken);
        var commitsAfter = await system.CommittedTransactionsAsync();

        Log($"latency: {options.LatencySamples} submissions one after another");
        var sequential = await SubmitAsync(http, TrivialJob, options.LatencySamples, 1, options.PhaseLimit, cancellationToken);
        await WaitForEndAsync(system, sequential.Ids, options.PhaseLimit, cancellationToken);

        Log($"acceptance: {options.Jobs} jobs scheduled for tomorrow from {options.Concurrency} concurrent clients");
        var cpuScheduledBefore = system.CpuTimes();
        var scheduled = await SubmitAsync(http, ScheduledJob, options.Jobs, options.Concurrency, options.PhaseLimit, cancellationToken);
        var cpuScheduled = system.CpuTimes();

        var accepted = load.Ids.Length;
        var writes = xidAfter - xidBefore - 1; // the second probe took an id of its own
        // Reads are transactions too: leave out this benchmark's own probes (its polls, the id probe, the first count).
        var commits = commitsAfter - commitsBefore - end.Polls - 2;
        var completionSeconds = end.LastFinished is { } last ? (last - load.Started).TotalSeconds : double.NaN;

        var table = new ResultTable("measure", "OrleansJobs", "target", "Hangfire 1.8 + Hangfire.PostgreSql, same kind of machine");
        table.Add(
            $"durable submits/s of jobs that start at once (`POST /api/jobs`, {options.Concurrency} clients)",
            Format.Number(accepted / load.Elapsed.TotalSeconds),
            "≥ 3,000",
            "≈ 720 enqueued/s");
        table.Add(
            $"durable submits/s of jobs scheduled for later ({options.Concurrency} clients)",
            Format.Number(scheduled.Ids.Length / scheduled.Elapsed.TotalSeconds),
            "≥ 3,000",
            "≈ 720 enqueued/s");
        table.Add(
            "trivial jobs completed/s, end to end",
            Format.Number(end.Completed / completionSeconds),
            "≥ 1,500",
            "≈ 145 (20 workers)");
        table.Add(
            "submit → Running, p50 / p99 (one client)",
            $"{Format.Ms(sequential.RunningLatency.Percentile(50))} / {Format.Ms(sequential.RunningLatency.Percentile(99))}",
            "≤ 5 ms / 25 ms",
            "14 ms p50");
        table.Add(
            $"submit response under load, p50 / p99 ({options.Concurrency} clients)",
            $"{Format.Ms(load.Latency.Percentile(50))} / {Format.Ms(load.Latency.Percentile(99))}",
            "",
            "");
        table.Add(
            $"methods the JIT compiled while measured: API host / silos (after {warm.Ids.Length:N0} warm-up jobs; mostly small and cheap once settled, docs/benchmarks.md)",
            $"{compiledAfter.ApiHost - compiledBefore.ApiHost:N0} / {compiledAfter.Silos - compiledBefore.Silos:N0}", "", "");
        table.Add(
            "CPU per job while measured: API host / silos / this load process (µs; user and system time, to the last job's end)",
            CpuPerJob(cpuBefore, cpuAfter, accepted), "", "");
        table.Add(
            "CPU per scheduled submit: API host / silos / this load process (µs; while they were submitted)",
            CpuPerJob(cpuScheduledBefore, cpuScheduled, scheduled.Ids.Length), "", "");
        table.Add("write transactions per job", Format.Number((double)writes / accepted, 2), "", "");
        table.Add("all transactions per job (reads included)", Format.Number((double)commits / accepted, 2), "", "≈ 17.5");
        // Failure detection tuned for speed must not mistake a busy silo for a dead one.
        var falseDeaths = await system.Database.ScalarAsync<int>("SELECT count(*)::int FROM orleansmembershiptable WHERE status = 6");
        table.Add("silos declared dead under this load (must be 0)", falseDeaths.ToString(System.Globalization.CultureInfo.InvariantCulture), "", "");

        await stopListening.CancelAsync();
        await Task.WhenAll(listening);
        if (options.EventClients > 0)
        {
            table.Add($"events delivered to each of {options.EventClients} `GET /api/events` clients (min, all phases; journal ids rising: must be true; " +
                "reconnections after being cut off for falling behind)",
                $"{Format.Number(listeners.Min(c => c.Events))}; {listeners.All(c => c.InOrder)}; {listeners.Sum(c => c.Reconnects)}", "", "");
            // Live unless a gap (an id not arrived within Events:GapTimeout) had to be read from the journal.
            table.Add("events the API host received from silos / journal entries it read to fill gaps / streams cut off (measured phase)",
                $"{Format.Number(feedAfter[0] - feedBefore[0])} / {Format.Number(feedAfter[1] - feedBefore[1])} / {Format.Number(feedAfter[2] - feedBefore[2])}", "", "");
        }

        Console.WriteLine();
        Console.WriteLine(table);
        Console.WriteLine(
            $"Conditions: {Environment.ProcessorCount} cores, PostgreSQL {await system.ServerVersionAsync()} (fsync and synchronous_commit on), " +
            $"{options.Silos} silo + API host + this load process on the same machine; {accepted} of {options.Jobs} submissions accepted " +
            $"in {load.Elapsed.TotalSeconds:0.0} s ({load.StartedRunning} answered Running, the rest Queued for a slot of the type's limit); " +
            $"{end.Completed} completed, {end.Ended - end.Completed} ended otherwise; sequential phase: " +
            $"{sequential.StartedRunning} of {sequential.Ids.Length} answered Running; max {Format.Ms(sequential.RunningLatency.Max)}.");

        var failures = (listeners.All(c => c.InOrder) ? 0 : 1) + load.Failures + sequential.Failures + scheduled.Failures + (end.Ended - end.Completed) + (options.Jobs - accepted) + falseDeaths;
        if (failures > 0)
        {
            Console.WriteLine($"Failures: {failures} ({falseDeaths} of them silos declared dead); first: {load.FirstError ?? sequential.FirstError ?? scheduled.FirstError ?? "a job did not complete"}");
            return 1;
        }

        return 0;
    }

    /// <summary>Scrapes every process's <c>/metrics</c> every 2 s until cancelled (at most 300 times).</summary>
    private static async Task ScrapeWhileAsync(BenchSystem system, CancellationToken cancellationToken)
    {
        try
        {
            for (var i = 0; i < 300 && !cancellationToken.IsCancellationRequested; i++)
            {
                await system.CompiledMethodsAsync();
                await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The warm-up is over.
        }
    }

    /// <summary>A client of <paramref name="api"/> for <paramref name="concurrency"/> clients at once, sending the cluster's admin key.</summary>
    internal static HttpClient CreateClient(ApiHostProcess api, int concurrency) =>
        ApiKeys.Authorize(new(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        {
            BaseAddress = api.BaseAddress,
            Timeout = TimeSpan.FromSeconds(30),
        }, api.AdminKey);

    /// <summary>Submits <paramref name="count"/> copies of <paramref name="job"/> from <paramref name="concurrency"/> closed-loop clients.</summary>
    internal static async Task<LoadResult> SubmitAsync(HttpClient http, string job, int count, int concurrency, TimeSpan limit, CancellationToken cancellationToken)
    {
        var ids = new string?[count];
        var latency = new LatencySamples();
        var runningLatency = new LatencySamples();
        var next = -1;
        var failures = 0;
        var running = 0;
        string? firstError = null;
        var clock = Stopwatch.StartNew();
        var started = DateTimeOffset.UtcNow;

        async Task ClientAsync()
        {
            while (clock.Elapsed < limit)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= count)
                {
                    return;
                }

                var sent = Stopwatch.GetTimestamp();
                try
                {
                    using var content = new StringContent(job, Encoding.UTF8, "application/json");
                    using var response = await http.PostAsync(new Uri("/api/jobs", UriKind.Relative), content, cancellationToken);
                    var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
                    var elapsed = Stopwatch.GetElapsedTime(sent).TotalMilliseconds;
                    if (response.StatusCode != HttpStatusCode.Created)
                    {
                        throw new HttpRequestException($"HTTP {(int)response.StatusCode}: {Encoding.UTF8.GetString(body)}");
                    }

                    using var created = JsonDocument.Parse(body);
                    ids[i] = created.RootElement.GetProperty("id").GetString();
                    latency.Add(elapsed);
                    if (created.RootElement.GetProperty("status").GetString() == "Running")
                    {
                        Interlocked.Increment(ref running);
                        runningLatency.Add(elapsed);
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException
                    && !cancellationToken.IsCancellationRequested)
                {
                    Interlocked.Increment(ref failures);
                    Interlocked.CompareExchange(ref firstError, ex.Message, null);
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(ClientAsync, cancellationToken)));
        return new LoadResult([.. ids.OfType<string>()], started, clock.Elapsed, latency, runningLatency, running, failures, firstError);
    }

    /// <summary>Waits until the index shows every job ended (or the limit passes).</summary>
    internal static async Task<EndResult> WaitForEndAsync(BenchSystem system, string[] ids, TimeSpan limit, CancellationToken cancellationToken)
    {
        var polls = 0;
        EndResult result = new(0, 0, null, 0);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var row = (await system.Database.QueryAsync(
                "SELECT count(*) FILTER (WHERE status = 'Completed'), " +
                "count(*) FILTER (WHERE status IN ('Completed', 'Failed', 'Killed', 'Cancelled')), max(finished_at) " +
                "FROM job_index WHERE job_id = ANY(@ids)",
                r => (Completed: r.GetInt64(0), Ended: r.GetInt64(1), Last: r.IsDBNull(2) ? (DateTimeOffset?)null : r.GetFieldValue<DateTimeOffset>(2)),
                ("ids", ids)))[0];
            polls++;
            result = new EndResult((int)row.Completed, (int)row.Ended, row.Last, polls);
            if (row.Ended >= ids.Length || clock.Elapsed > limit)
            {
                return result;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }
    }

    // "API host / silos / load" CPU µs per job between two readings of BenchSystem.CpuTimes.
    private static string CpuPerJob((TimeSpan ApiHost, TimeSpan Silos, TimeSpan Load) before, (TimeSpan ApiHost, TimeSpan Silos, TimeSpan Load) after, int jobs)
    {
        string PerJob(TimeSpan used) => Format.Number(used.TotalMicroseconds / Math.Max(1, jobs));
        return $"{PerJob(after.ApiHost - before.ApiHost)} / {PerJob(after.Silos - before.Silos)} / {PerJob(after.Load - before.Load)}";
    }

    private static void Log(string message) => Console.Error.WriteLine($"[bench] {message}");

    internal sealed record LoadResult(
        string[] Ids, DateTimeOffset Started, TimeSpan Elapsed, LatencySamples Latency, LatencySamples RunningLatency, int StartedRunning,
        int Failures, string? FirstError);

    internal sealed record EndResult(int Completed, int Ended, DateTimeOffset? LastFinished, int Polls);
}
