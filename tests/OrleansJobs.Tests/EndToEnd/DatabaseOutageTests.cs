using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Xunit.Abstractions;

namespace OrleansJobs.Tests.EndToEnd;

/// <summary>
/// PostgreSQL goes away for ten seconds under running jobs: the handlers keep going, checkpoints
/// are retried, the API answers 503 with a problem body where it needs the database and serves
/// live jobs where it does not, and once the database is back every job completes, each item's
/// effect exactly once, nothing restarted. The test has a PostgreSQL server of its own to stop.
/// </summary>
[Collection(DrillCollection.Name)]
public sealed class DatabaseOutageTests(ITestOutputHelper output)
{
    private const int Items = 300;
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task TenSecondDatabaseStop_UnderRunningJobs_LosesNothing_AndLeavesNothingStuck()
    {
        await using var postgres = await PrivatePostgres.StartAsync();
        await using var database = await postgres.CreateDatabaseAsync("outage");
        await database.ApplySchemaAsync();
        await using var cluster = new ProcessCluster(database);
        cluster.StartSilo();
        var api = cluster.StartApiHost();
        using var http = api.CreateClient(TimeSpan.FromSeconds(30));
        await ProcessCluster.WaitForReadyAsync(http, silos: 1);

        // Four jobs whose items write their effect to the database, two that only compute.
        var recorded = new List<string>();
        var computing = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            recorded.Add(await http.SubmitJobAsync(
                $$$"""{"type": "synthetic", "parameters": {"items": {{{Items}}}, "itemMs": 50}, "checkpoint": {"everyItems": 20}}"""));
        }

        for (var i = 0; i < 2; i++)
        {
            computing.Add(await http.SubmitJobAsync(
                $$$"""{"type": "synthetic", "parameters": {"items": {{{Items}}}, "itemMs": 50, "record": false}, "checkpoint": {"everyItems": 20}}"""));
        }

        var all = recorded.Concat(computing).ToList();
        await Wait.UntilAsync("every job to have stored a checkpoint", async () =>
        {
            foreach (var id in all)
            {
                if ((await GetAsync(http, id)).GetProperty("checkpoint").GetProperty("processed").GetInt64() < 20)
                {
                    return false;
                }
            }

            return true;
        }, TimeSpan.FromSeconds(30));

        await postgres.StopAsync();
        var stopped = true;
        try
        {
            await DuringAndAfterTheOutageAsync();
        }
        catch
        {
            output.WriteLine("API host output:\n" + api.Process.Output());
            throw;
        }
        finally
        {
            if (stopped)
            {
                await postgres.StartAgainAsync(); // the fixtures need it to clean up
            }
        }

        async Task DuringAndAfterTheOutageAsync()
        {
        var clock = Stopwatch.StartNew();
        output.WriteLine("PostgreSQL stopped");
        var before = Processed(await GetAsync(http, computing[0]));

        // Where the API needs the database it answers 503 with a problem body; nothing hangs.
        using (var list = await http.GetAsync(new Uri("/api/jobs", UriKind.Relative)))
        {
            await AssertUnavailableAsync(list);
        }

        using (var submit = await http.PostJsonAsync("/api/jobs", """{"type": "synthetic", "parameters": {"items": 1}, "idempotencyKey": "during-outage"}"""))
        {
            await AssertUnavailableAsync(submit);
        }

        using (var ready = await http.GetAsync(new Uri("/health/ready", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        }

        // Live jobs are served from their grains, and the handlers keep going.
        var remaining = Outage - clock.Elapsed;
        if (remaining > TimeSpan.Zero)
        {
            await Task.Delay(remaining);
        }

        var during = await GetAsync(http, computing[0]);
        Assert.Equal("Running", during.GetProperty("status").GetString());
        Assert.True(Processed(during) >= before + 50, $"a computing job went from {before} to only {Processed(during)} items in {Outage.TotalSeconds} s");
        output.WriteLine($"{clock.Elapsed.TotalSeconds:0.0} s without the database: a computing job went from {before} to {Processed(during)} items");

        await postgres.StartAgainAsync();
        stopped = false;
        output.WriteLine($"PostgreSQL back after {clock.Elapsed.TotalSeconds:0.0} s");

        // The submission refused during the outage created nothing: sent again, it is created now.
        var again = await Wait.ForAsync("a submit to succeed again", async () =>
        {
            using var response = await http.PostJsonAsync("/api/jobs", """{"type": "synthetic", "parameters": {"items": 1}, "idempotencyKey": "during-outage"}""");
            return response.StatusCode;
        }, s => s != HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.Created, again);

        await Wait.UntilAsync("every job to complete", async () =>
            await database.ScalarAsync<int>("SELECT count(*) FROM job_index WHERE job_id = ANY(@ids) AND status = 'Completed'", ("ids", all.ToArray())) == all.Count,
            TimeSpan.FromSeconds(90), async () => string.Join(", ", await database.QueryAsync(
                "SELECT job_id || ' ' || status || ' ' || processed FROM job_index WHERE job_id = ANY(@ids)", r => r.GetString(0), ("ids", all.ToArray()))));
        output.WriteLine($"all completed {clock.Elapsed.TotalSeconds:0.0} s after the stop");

        // Every effect exactly once; nothing was restarted or retried.
        foreach (var id in recorded)
        {
            Assert.Equal(Items, await database.ScalarAsync<int>("SELECT count(*) FROM synthetic_item_effects WHERE job_id = @id", ("id", id)));
        }

        var jobs = await database.QueryAsync("SELECT job_id, recoveries, attempt FROM job_index WHERE job_id = ANY(@ids)",
            r => (Id: r.GetString(0), Recoveries: r.GetInt32(1), Attempt: r.GetInt32(2)), ("ids", all.ToArray()));
        Assert.All(jobs, j => Assert.Equal((0, 1), (j.Recoveries, j.Attempt)));
        foreach (var id in all)
        {
            var job = await GetAsync(http, id);
            Assert.Equal("Completed", job.GetProperty("status").GetString());
            Assert.Equal(Items, job.GetProperty("checkpoint").GetProperty("processed").GetInt64());
        }

        using var readyAgain = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, readyAgain.StatusCode);
        }
    }

    private static long Processed(JsonElement job) => job.GetProperty("progress").GetProperty("processed").GetInt64();

    private static async Task AssertUnavailableAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(503, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
    }

    private static async Task<JsonElement> GetAsync(HttpClient http, string id) =>
        await http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{id}", UriKind.Relative));
}
