using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using OrleansJobs.Harness;

namespace OrleansJobs.Benchmarks;

/// <summary>
/// What an API key adds to a request. The same cheap request (liveness, which needs no key and
/// touches neither the cluster nor the database) is timed without a key and with a valid one, in
/// alternating rounds over one keep-alive connection; the difference is the key's check (one
/// SHA-256, one lookup, the principal). A read of a job with the key, which is also authorized
/// against its role, and requests with an unknown key (401, no database read per request) are
/// timed beside them.
/// </summary>
public static class AuthBenchmark
{
    private const int Rounds = 10;

    public static async Task<int> RunAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        var perRound = Math.Max(100, options.Jobs / Rounds);
        Log($"starting a fresh database, one silo and the API host; {Rounds} rounds of {perRound} requests of each kind");
        await using var system = await BenchSystem.StartAsync(1);
        using var http = ThroughputBenchmark.CreateClient(system.Api, 1);
        var job = (await ThroughputBenchmark.SubmitAsync(http, ThroughputBenchmark.TrivialJob, 1, 1, options.PhaseLimit, cancellationToken)).Ids[0];

        var kinds = new (string Name, string Path, string? Key, HttpStatusCode Expected)[]
        {
            ("GET /health, no key", "/health", null, HttpStatusCode.OK),
            ("GET /health, valid key", "/health", system.Api.AdminKey, HttpStatusCode.OK),
            ("GET /api/jobs/{id}, valid key (role checked)", $"/api/jobs/{job}", system.Api.AdminKey, HttpStatusCode.OK),
            ("GET /api/jobs/{id}, unknown key (401)", $"/api/jobs/{job}", ApiKeys.NewKey(), HttpStatusCode.Unauthorized),
        };
        var samples = kinds.Select(_ => new LatencySamples()).ToArray();
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        {
            BaseAddress = system.Api.BaseAddress,
            Timeout = TimeSpan.FromSeconds(30),
        };
        var deadline = Stopwatch.StartNew();
        for (var round = 0; round <= Rounds && deadline.Elapsed < options.PhaseLimit; round++)
        {
            for (var k = 0; k < kinds.Length; k++)
            {
                var (name, path, key, expected) = kinds[k];
                for (var i = 0; i < perRound; i++)
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
                    if (key is not null)
                    {
                        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
                    }

                    var started = Stopwatch.GetTimestamp();
                    using var response = await client.SendAsync(request, cancellationToken);
                    await response.Content.ReadAsByteArrayAsync(cancellationToken);
                    if (round > 0)
                    {
                        // Round 0 warms every path up.
                        samples[k].Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    }

                    if (response.StatusCode != expected)
                    {
                        throw new InvalidOperationException($"{name}: {(int)response.StatusCode}, expected {(int)expected}");
                    }
                }
            }
        }

        var table = new ResultTable("request", "p50", "p99", "samples");
        for (var k = 0; k < kinds.Length; k++)
        {
            table.Add(kinds[k].Name, Us(samples[k].Percentile(50)), Us(samples[k].Percentile(99)), Format.Number(samples[k].Count));
        }

        table.Add("**added by a valid key** (health with key − without)", Us(samples[1].Percentile(50) - samples[0].Percentile(50)),
            Us(samples[1].Percentile(99) - samples[0].Percentile(99)), "");
        Console.WriteLine($"API key overhead: one silo and the API host on loopback; one client, one keep-alive connection, requests one after " +
            $"another in {Rounds} alternating rounds of {perRound} per kind (a warm-up round first, not counted).");
        Console.WriteLine();
        Console.Write(table);
        return 0;
    }

    private static string Us(double milliseconds) => $"{milliseconds * 1000:0} µs";

    private static void Log(string message) => Console.Error.WriteLine($"[bench] {message}");
}
